/**
 * The slice of vitest the test files use (`describe`, `it`, `expect`,
 * `beforeEach`, `afterEach`, plus `beforeAll`/`afterAll`, `.skip`, `.only`,
 * `.todo`), on top of `Deno.test` and Jest's `expect`, so the same files run
 * under `deno test`. deno.json maps the "vitest" import here.
 *
 * Semantics follow vitest: hooks apply to every test of their suite and its
 * nested suites, whatever the order of declaration; outer `beforeEach` hooks
 * run first, inner `afterEach` hooks run first; tests time out after 5 s and
 * hooks after 10 s; Deno's op/resource sanitizers are off, as vitest has none.
 */
import { expect } from "expect";

export { expect };

type Awaitable = unknown | Promise<unknown>;
type Hook = () => Awaitable;
type TestFunction = () => Awaitable;
type TestOptions = { timeout?: number };

interface Suite {
  readonly names: readonly string[];
  readonly parent: Suite | undefined;
  readonly skip: boolean;
  readonly only: boolean;
  readonly beforeAll: Hook[];
  readonly afterAll: Hook[];
  readonly beforeEach: Hook[];
  readonly afterEach: Hook[];
  /** Tests of this suite and its nested suites not yet finished. */
  remaining: number;
  startedAll: boolean;
}

declare const Deno: {
  test(definition: {
    name: string;
    fn: () => Promise<void>;
    ignore?: boolean;
    only?: boolean;
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
    sanitizeExit?: boolean;
  }): void;
};

const TEST_TIMEOUT_MS = 5_000;
const HOOK_TIMEOUT_MS = 10_000;

function newSuite(name: string | undefined, parent: Suite | undefined, skip: boolean, only: boolean): Suite {
  return {
    names: name === undefined ? [] : [...(parent?.names ?? []), name],
    parent,
    skip: skip || (parent?.skip ?? false),
    only: only || (parent?.only ?? false),
    beforeAll: [],
    afterAll: [],
    beforeEach: [],
    afterEach: [],
    remaining: 0,
    startedAll: false,
  };
}

const root: Suite = newSuite(undefined, undefined, false, false);
let current: Suite = root;

/** Outermost first. */
function chain(suite: Suite): Suite[] {
  const suites: Suite[] = [];
  for (let s: Suite | undefined = suite; s !== undefined; s = s.parent) suites.unshift(s);
  return suites;
}

async function withTimeout(what: string, fn: () => Awaitable, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out in ${ms}ms`)), ms);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describeWith(skip: boolean, only: boolean) {
  return (name: string, body: () => void): void => {
    const parent = current;
    current = newSuite(name, parent, skip, only);
    try {
      const result: unknown = body();
      if (result instanceof Promise) {
        throw new Error(`describe("${name}") must register its tests synchronously`);
      }
    } finally {
      current = parent;
    }
  };
}

function itWith(skip: boolean, only: boolean) {
  return (
    name: string,
    fnOrOptions?: TestFunction | TestOptions | number,
    fnOrTimeout?: TestFunction | TestOptions | number,
  ): void => {
    const fn = [fnOrOptions, fnOrTimeout].find((a): a is TestFunction => typeof a === "function");
    const option = [fnOrOptions, fnOrTimeout].find((a) => a !== undefined && typeof a !== "function");
    const timeoutMs = typeof option === "number" ? option : (option as TestOptions | undefined)?.timeout ?? TEST_TIMEOUT_MS;
    const suite = current;
    const suites = chain(suite);
    const ignore = skip || suite.skip || fn === undefined;
    if (!ignore) for (const s of suites) s.remaining++;
    Deno.test({
      name: [...suite.names, name].join(" > "),
      ignore,
      only: only || suite.only,
      sanitizeOps: false,
      sanitizeResources: false,
      sanitizeExit: false,
      fn: async () => {
        for (const s of suites) {
          if (s.startedAll) continue;
          s.startedAll = true;
          for (const hook of s.beforeAll) await withTimeout("beforeAll hook", hook, HOOK_TIMEOUT_MS);
        }
        try {
          for (const s of suites) {
            for (const hook of s.beforeEach) await withTimeout("beforeEach hook", hook, HOOK_TIMEOUT_MS);
          }
          try {
            await withTimeout(`test "${name}"`, fn!, timeoutMs);
          } finally {
            for (const s of [...suites].reverse()) {
              for (const hook of [...s.afterEach].reverse()) await withTimeout("afterEach hook", hook, HOOK_TIMEOUT_MS);
            }
          }
        } finally {
          for (const s of [...suites].reverse()) {
            if (--s.remaining === 0) {
              for (const hook of [...s.afterAll].reverse()) await withTimeout("afterAll hook", hook, HOOK_TIMEOUT_MS);
            }
          }
        }
      },
    });
  };
}

type Describe = ((name: string, body: () => void) => void) & {
  skip: (name: string, body: () => void) => void;
  only: (name: string, body: () => void) => void;
};
type It = ReturnType<typeof itWith> & {
  skip: ReturnType<typeof itWith>;
  only: ReturnType<typeof itWith>;
  todo: (name: string) => void;
};

export const describe: Describe = Object.assign(describeWith(false, false), {
  skip: describeWith(true, false),
  only: describeWith(false, true),
});

export const it: It = Object.assign(itWith(false, false), {
  skip: itWith(true, false),
  only: itWith(false, true),
  todo: (name: string): void => itWith(true, false)(name),
});

export const test: It = it;

export function beforeAll(hook: Hook): void {
  current.beforeAll.push(hook);
}
export function afterAll(hook: Hook): void {
  current.afterAll.push(hook);
}
export function beforeEach(hook: Hook): void {
  current.beforeEach.push(hook);
}
export function afterEach(hook: Hook): void {
  current.afterEach.push(hook);
}
