import { describe, expect, it } from "vitest";
import {
  Bulkhead,
  bulkhead,
  ChaosPolicy,
  chaos,
  CircuitBreaker,
  circuitBreaker,
  CircuitBreakerRegistry,
  createResilientFetch,
  type ExecutionContext,
  fallback,
  InvalidArgumentError,
  type Operation,
  Pipeline,
  pipeline,
  type Policy,
  ResiliencePipeline,
  retry,
  RetryExhaustedError,
  RetryPolicy,
  systemClock,
  TimeoutManager,
  TimeoutPolicy,
  withTimeout,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { deferred, outcome } from "./_support/promises.ts";
import { thrown } from "./_support/thrown.ts";

// Junk is built per test, never at import time: workerd forbids an
// AbortController (and friends) in global scope.
function notFunctions(): unknown[] {
  return [undefined, null, 42, "getStock", {}, Promise.resolve(5)];
}

function notSignals(): unknown[] {
  return [{}, "x", { aborted: false }, 42, null, { signal: new AbortController().signal }];
}

function notOptions(): unknown[] {
  return [42, "fast", null, true, []];
}

const getterError = new Error("the then getter threw");

/** An operation's result whose `then` getter throws. */
function poisoned(): unknown {
  return Object.defineProperty({}, "then", {
    get() {
      throw getterError;
    },
  });
}

/** Asserts that `error` is the misuse error naming `argument`. */
function expectMisuse(error: unknown, argument: string): void {
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect((error as InvalidArgumentError).code).toBe("ERR_INVALID_ARGUMENT");
  expect((error as InvalidArgumentError).argument).toBe(argument);
}

/** What `call()` rejects with; fails the test if it throws synchronously or resolves. */
async function rejection(call: () => unknown): Promise<unknown> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    throw new Error(`expected a rejection, got a synchronous throw: ${String(error)}`);
  }
  expect(result).toBeInstanceOf(Promise);
  return (result as Promise<unknown>).then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );
}

/** The value of `promise`, moving `clock` on until it settles (chaos latency, retry waits). */
async function settle<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  const record = outcome(promise);
  await clock.advance(10_000);
  if (!record.settled) throw new Error("did not settle");
  if ("error" in record && record.error !== undefined) throw record.error;
  return record.value as T;
}

/** The error under a RetryExhaustedError, or the error itself. */
function rootOf(error: unknown): unknown {
  return error instanceof RetryExhaustedError ? error.cause : error;
}

/** A policy not from bulwark: runs `fn` a turn later with a signal of its own. */
function foreignPolicy(): Policy {
  return {
    execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
      return Promise.resolve().then(() => fn({ signal: signal ?? new AbortController().signal }));
    },
  };
}

interface Subject {
  readonly name: string;
  readonly clock: ManualClock;
  readonly policy: Policy & { wrap(fn: (...args: never[]) => unknown): unknown };
  /** Checks that nothing of the policy's state was left taken. */
  readonly idle: () => void;
}

function subjects(): Subject[] {
  const make = (name: string, build: (clock: ManualClock) => Omit<Subject, "name" | "clock">): Subject => {
    const clock = new ManualClock();
    return { name, clock, ...build(clock) };
  };
  const layers = (clock: ManualClock) => {
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 4, clock });
    const breaker = new CircuitBreaker({ maxFailures: 2, clock });
    const idle = (): void => {
      expect(limiter.active).toBe(0);
      expect(limiter.queued).toBe(0);
      expect(breaker.state).toBe("closed");
    };
    return { limiter, breaker, idle };
  };
  return [
    make("Bulkhead", (clock) => {
      const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 4, queueTimeoutMs: 1_000, clock });
      return {
        policy: limiter,
        idle: () => {
          expect(limiter.active).toBe(0);
          expect(limiter.queued).toBe(0);
          expect(limiter.rejected).toBe(0);
        },
      };
    }),
    make("RetryPolicy", (clock) => ({
      policy: new RetryPolicy({ maxAttempts: 3, baseDelayMs: 100, jitter: "none", clock }),
      idle: () => {},
    })),
    make("TimeoutPolicy (cooperative)", (clock) => ({ policy: new TimeoutPolicy({ timeoutMs: 100, clock }), idle: () => {} })),
    make("TimeoutPolicy (aggressive)", (clock) => ({
      policy: new TimeoutPolicy({ timeoutMs: 100, strategy: "aggressive", clock }),
      idle: () => {},
    })),
    make("ChaosPolicy (latency)", (clock) => ({ policy: new ChaosPolicy({ latencyMs: 50, clock }), idle: () => {} })),
    make("CircuitBreaker", (clock) => {
      const breaker = new CircuitBreaker({ maxFailures: 2, clock });
      return {
        policy: breaker,
        idle: () => {
          expect(breaker.state).toBe("closed");
          expect(breaker.stats.failedCalls).toBe(0);
          expect(breaker.stats.totalCalls).toBe(breaker.stats.successfulCalls);
        },
      };
    }),
    make("fused pipeline", (clock) => {
      const { limiter, breaker, idle } = layers(clock);
      const policy = pipeline(
        limiter,
        breaker,
        new RetryPolicy({ maxAttempts: 2, baseDelayMs: 100, clock }),
        new TimeoutPolicy({ timeoutMs: 1_000, clock }),
      );
      return { policy, idle };
    }),
    make("pipeline with a foreign policy", (clock) => {
      const { limiter, breaker, idle } = layers(clock);
      const policy = pipeline(
        limiter,
        foreignPolicy(),
        breaker,
        new RetryPolicy({ maxAttempts: 2, baseDelayMs: 100, clock }),
        new TimeoutPolicy({ timeoutMs: 1_000, strategy: "aggressive", clock }),
      );
      return { policy, idle };
    }),
    make("ResiliencePipeline", (clock) => {
      const resilient = new ResiliencePipeline({
        bulkhead: { maxConcurrent: 1, maxQueue: 4, clock },
        circuitBreaker: { maxFailures: 2, clock },
        retry: { maxAttempts: 2, baseDelayMs: 100, clock },
        timeout: { timeoutMs: 1_000, clock },
      });
      return {
        policy: resilient,
        idle: () => {
          expect(resilient.bulkhead!.active).toBe(0);
          expect((resilient.circuitBreaker as CircuitBreaker).state).toBe("closed");
        },
      };
    }),
  ];
}

describe("execute(fn, signal), wrap(fn) of every policy refuse junk and stay usable", () => {
  for (const make of subjects().map((subject, index) => () => subjects()[index]!)) {
    const { name } = make();

    it(`${name}: an fn that is not a function rejects with InvalidArgumentError('fn'), nothing runs or is counted`, async () => {
      const { policy, clock, idle } = make();
      for (const junk of notFunctions()) {
        const error = await rejection(() => policy.execute(junk as never));
        expectMisuse(error, "fn");
      }
      expect(clock.pending).toBe(0);
      idle();
      expect(await settle(clock, policy.execute(async () => "still works"))).toBe("still works");
      idle();
    });

    it(`${name}: a signal that is not an AbortSignal rejects with InvalidArgumentError('signal') and arms no timer`, async () => {
      const { policy, clock, idle } = make();
      let runs = 0;
      const failing = async (): Promise<never> => {
        runs++;
        throw new Error("down");
      };
      for (const junk of notSignals()) {
        expectMisuse(await rejection(() => policy.execute(failing, junk as never)), "signal");
        expectMisuse(await rejection(() => policy.execute(async () => "late", junk as never)), "signal");
      }
      expect(runs).toBe(0);
      expect(clock.pending).toBe(0);
      await clock.advance(10_000);
      idle();
      const controller = new AbortController();
      expect(await settle(clock, policy.execute(async ({ signal }) => signal.aborted, controller.signal))).toBe(false);
      idle();
    });

    it(`${name}: wrap() of a non-function throws InvalidArgumentError('fn') at once`, () => {
      const { policy } = make();
      for (const junk of notFunctions()) expectMisuse(thrown(() => policy.wrap(junk as never)), "fn");
    });

    it(`${name}: an operation whose result has a throwing 'then' getter fails with the getter's error and frees everything`, async () => {
      const { policy, clock, idle } = make();
      const settled = outcome(policy.execute(() => poisoned() as never));
      await clock.advance(1_000);
      expect(settled.settled).toBe(true);
      expect(rootOf(settled.error)).toBe(getterError);
      expect(clock.pending).toBe(0);
      expect(await settle(clock, policy.execute(() => "next"))).toBe("next");
    });
  }
});

describe("Bulkhead: a queued call with a junk signal cannot wedge it (issue 13, item 1)", () => {
  async function runningCallKeepsItsResult(limiter: Bulkhead, run: Policy, junk: unknown): Promise<void> {
    const gate = deferred<string>();
    const running = outcome(limiter.execute(() => gate.promise));
    expect(limiter.active).toBe(1);
    const refused = await rejection(() => run.execute(async () => "queued", junk as never));
    expect(refused).toBeInstanceOf(Error);
    expect(limiter.queued).toBe(0);
    gate.resolve("the running call's own result");
    await new ManualClock().flush();
    expect(running.error).toBeUndefined();
    expect(running.value).toBe("the running call's own result");
    expect(limiter.active).toBe(0);
    expect(await run.execute(async () => "next")).toBe("next");
    expect(limiter.active).toBe(0);
  }

  it("directly", async () => {
    for (const junk of notSignals()) {
      const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 4 });
      await runningCallKeepsItsResult(limiter, limiter, junk);
    }
  });

  it("through a fused pipeline and through one with a foreign policy", async () => {
    for (const junk of notSignals()) {
      const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 4 });
      await runningCallKeepsItsResult(limiter, pipeline(limiter, new RetryPolicy({ baseDelayMs: 0 })), junk);
      await runningCallKeepsItsResult(limiter, pipeline(foreignPolicy(), limiter), junk);
    }
  });

  it("when a foreign policy outside it hands the operation a context with a junk signal", async () => {
    for (const junk of notSignals()) {
      const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 4 });
      const careless: Policy = {
        execute: <T>(fn: Operation<T>) => Promise.resolve(fn({ signal: junk } as unknown as ExecutionContext)),
      };
      if (junk !== null) await runningCallKeepsItsResult(limiter, pipeline(careless, limiter), undefined);
    }
  });
});

describe("an aggressive timeout inside a foreign policy that hands in a junk signal", () => {
  it("rejects that call with the foreign error, arms nothing and leaves nothing to reject later", async () => {
    const clock = new ManualClock();
    for (const junk of notSignals()) {
      if (junk === null) continue;
      const careless: Policy = {
        execute: <T>(fn: Operation<T>) => Promise.resolve(fn({ signal: junk } as unknown as ExecutionContext)),
      };
      const timeout = new TimeoutPolicy({ timeoutMs: 100, strategy: "aggressive", clock });
      const late = deferred<string>();
      const error = await rejection(() => pipeline(careless, timeout).execute(() => late.promise));
      expect(error).toBeInstanceOf(TypeError);
      late.reject(new Error("the operation failed after its call was over"));
      await clock.advance(1_000);
      expect(clock.pending).toBe(0);
    }
  });
});

describe("sleep, retry, chaos: a junk signal leaves no timer armed (issue 13, item 2)", () => {
  it("ManualClock.sleep and systemClock.sleep refuse a junk signal or ms, arming nothing", async () => {
    const clock = new ManualClock();
    for (const junk of notSignals()) {
      expectMisuse(await rejection(() => clock.sleep(10, junk as never)), "signal");
      expectMisuse(await rejection(() => systemClock.sleep(10, junk as never)), "signal");
    }
    for (const ms of [Number.NaN, -Infinity, "10", undefined, null, {}]) {
      expectMisuse(await rejection(() => clock.sleep(ms as never)), "ms");
      expectMisuse(await rejection(() => systemClock.sleep(ms as never)), "ms");
    }
    expect(clock.pending).toBe(0);
    const woke = outcome(clock.sleep(10));
    expect(clock.pending).toBe(1);
    await clock.advance(10);
    expect(woke.settled).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("retry after a failed attempt and chaos latency arm no timer for a junk signal", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 3, baseDelayMs: 100, clock });
    const latency = new ChaosPolicy({ latencyMs: 100, clock });
    let attempts = 0;
    for (const junk of notSignals()) {
      await rejection(() => policy.execute(() => Promise.reject(new Error(`attempt ${++attempts}`)), junk as never));
      await rejection(() => latency.execute(async () => "late", junk as never));
      expect(clock.pending).toBe(0);
    }
    expect(attempts).toBe(0);
  });
});

describe("aggressive timeout and TimeoutManager: a junk signal rejects, never throws (issue 13, item 3)", () => {
  it("TimeoutPolicy.execute and TimeoutManager.run reject and leave nothing behind", async () => {
    const clock = new ManualClock();
    const timeout = new TimeoutPolicy({ timeoutMs: 50, strategy: "aggressive", clock });
    const manager = new TimeoutManager({ defaultMs: 50, strategy: "aggressive", clock });
    for (const junk of notSignals()) {
      const late = deferred<string>();
      expectMisuse(await rejection(() => timeout.execute(() => late.promise, junk as never)), "signal");
      expectMisuse(await rejection(() => manager.run("op", () => late.promise, junk as never)), "signal");
      late.resolve("done");
    }
    await clock.advance(100);
    expect(clock.pending).toBe(0);
    expect(await manager.run("op", async () => "fine")).toBe("fine");
  });

  it("TimeoutManager refuses a junk operation name, fn or ms", async () => {
    const manager = new TimeoutManager({ defaultMs: 50, clock: new ManualClock() });
    expectMisuse(await rejection(() => manager.run(42 as never, async () => 1)), "operation");
    for (const junk of notFunctions()) expectMisuse(await rejection(() => manager.run("op", junk as never)), "fn");
    expectMisuse(thrown(() => manager.timeoutFor(undefined as never)), "operation");
    expectMisuse(thrown(() => manager.configure(7 as never, 5)), "operation");
    expectMisuse(thrown(() => manager.configure("op", "5" as never)), "ms");
    expect(manager.timeoutFor("op")).toBe(50);
  });
});

describe("an operation whose 'then' getter throws (issue 13, item 5)", () => {
  it("frees the bulkhead slot, and the fused pipeline's slot, deadline and breaker", async () => {
    const clock = new ManualClock();
    const limiter = new Bulkhead({ maxConcurrent: 1, clock });
    expect(await rejection(() => limiter.execute(() => poisoned() as never))).toBe(getterError);
    expect(limiter.active).toBe(0);

    const breaker = new CircuitBreaker({ maxFailures: 5, clock });
    const fused = pipeline(limiter, breaker, new TimeoutPolicy({ timeoutMs: 100, clock }));
    expect(await rejection(() => fused.execute(() => poisoned() as never))).toBe(getterError);
    expect(limiter.active).toBe(0);
    expect(breaker.stats.failedCalls).toBe(1);
    expect(clock.pending).toBe(0);
    expect(await fused.execute(async () => "next")).toBe("next");
  });

  it("is a failure that retry retries, and timeout rejects with", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const policy = new RetryPolicy({ maxAttempts: 2, baseDelayMs: 0, clock });
    const error = await rejection(() => policy.execute(() => (++calls, poisoned() as never)));
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect(rootOf(error)).toBe(getterError);
    expect(calls).toBe(2);
    for (const strategy of ["cooperative", "aggressive"] as const) {
      const timeout = new TimeoutPolicy({ timeoutMs: 100, strategy, clock });
      expect(await rejection(() => timeout.execute(() => poisoned() as never))).toBe(getterError);
    }
    expect(clock.pending).toBe(0);
  });

  it("executeSync throws the getter's error and counts the failure; a half-open probe slot is freed", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 100, halfOpenMaxCalls: 1, successThreshold: 1, clock });
    expect(thrown(() => breaker.executeSync(() => poisoned()))).toBe(getterError);
    expect(breaker.stats.failedCalls).toBe(1);
    expect(breaker.state).toBe("open");
    await clock.advance(100);
    expect(thrown(() => breaker.executeSync(() => poisoned()))).toBe(getterError);
    expect(breaker.state).toBe("open");
    await clock.advance(100);
    expect(breaker.executeSync(() => "probe")).toBe("probe");
    expect(breaker.state).toBe("closed");
  });
});

describe("not a function (issue 13, item 6)", () => {
  it("retry: execute(non-function) is refused, not retried", async () => {
    const policy = new RetryPolicy({ maxAttempts: 3, baseDelayMs: 0 });
    const events: string[] = [];
    policy.on("retry", () => events.push("retry"));
    policy.on("giveUp", () => events.push("giveUp"));
    for (const junk of notFunctions()) expectMisuse(await rejection(() => policy.execute(junk as never)), "fn");
    expect(events).toEqual([]);
  });

  it("retry(): the direct call rejects, the decorator throws", async () => {
    for (const junk of notFunctions()) {
      expectMisuse(await rejection(() => retry(junk as never, { maxAttempts: 2 })), "fn");
    }
    const reversed = await rejection(() => retry(3 as never, (async () => 1) as never));
    expectMisuse(reversed, "fn");
    expect((reversed as Error).message).toContain("retry(fn, options)");
    for (const junk of notOptions()) {
      expectMisuse(await rejection(() => retry(async () => 1, junk as never)), "options");
      expectMisuse(thrown(() => retry(junk as never)), "options");
    }
    for (const junk of notSignals()) {
      expectMisuse(await rejection(() => retry(async () => 1, { signal: junk as never })), "options.signal");
      expectMisuse(thrown(() => retry({ signal: junk as never })), "options.signal");
    }
    const decorate = retry({ maxAttempts: 2, baseDelayMs: 0 });
    for (const junk of notFunctions()) expectMisuse(thrown(() => decorate(junk as never)), "fn");
    expect(await decorate(async (n: number) => n + 1)(1)).toBe(2);
    expect(await retry(async () => "direct", { baseDelayMs: 0 })).toBe("direct");
  });

  it("fallback(): a misuse rejects with InvalidArgumentError, never with the fallback value", async () => {
    for (const junk of notFunctions()) {
      expectMisuse(await rejection(() => fallback(junk as never, "fallback value")), "fn");
    }
    for (const junk of notOptions()) {
      expectMisuse(await rejection(() => fallback(async () => 1, 0, junk as never)), "options");
    }
    for (const junk of notSignals()) {
      expectMisuse(await rejection(() => fallback(async () => 1, 0, { signal: junk as never })), "options.signal");
    }
    expect(await fallback(async () => Promise.reject(new Error("down")), "fallback value")).toBe("fallback value");
  });

  it("bulkhead(), circuitBreaker(): the function forms throw at once", async () => {
    const ok = async (): Promise<string> => "ok";
    for (const junk of notFunctions()) {
      expectMisuse(thrown(() => bulkhead(junk as never)), "fn");
      expectMisuse(thrown(() => circuitBreaker(junk as never, { maxFailures: 2 })), "fn");
      expectMisuse(thrown(() => circuitBreaker({ maxFailures: 2 })(junk as never)), "fn");
    }
    for (const junk of notOptions()) {
      expectMisuse(thrown(() => bulkhead(ok, junk as never)), "options");
      expectMisuse(thrown(() => circuitBreaker(ok, junk as never)), "options");
      expectMisuse(thrown(() => circuitBreaker(junk as never)), "options");
    }
    expect(await bulkhead(ok)()).toBe("ok");
    expect(await circuitBreaker(ok)()).toBe("ok");
  });

  it("CircuitBreaker: execute, call, executeSync, wrap name the argument, and a misuse is never counted", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 2, clock: new ManualClock() });
    const error = await rejection(() => breaker.execute("getStock" as never));
    expectMisuse(error, "fn");
    expect((error as Error).message).toContain('current value is "getStock"');
    await rejection(() => breaker.execute(undefined as never));
    await rejection(() => breaker.execute(undefined as never));
    for (const junk of notFunctions()) {
      expectMisuse(await rejection(() => breaker.call(junk as never)), "fn");
      expectMisuse(thrown(() => breaker.executeSync(junk as never)), "fn");
      expectMisuse(thrown(() => breaker.wrap(junk as never)), "fn");
    }
    expect(breaker.state).toBe("closed");
    expect(breaker.stats.totalCalls).toBe(0);
    expect(await breaker.call((n: number) => n * 2, 21)).toBe(42);
  });

  it("pipeline(), Pipeline: what is not a policy, or not an array of them, throws", async () => {
    for (const junk of [...notOptions(), {}, undefined]) {
      if (Array.isArray(junk)) continue;
      expectMisuse(thrown(() => pipeline(junk as never)), "policies.0");
      expectMisuse(thrown(() => new Pipeline(junk as never)), "policies");
    }
    expectMisuse(thrown(() => pipeline(new Bulkhead(), 5 as never)), "policies.1");
    expect(await pipeline().execute(async () => "empty")).toBe("empty");
  });
});

describe("a number (or other junk) where an options object belongs (issue 13, item 7)", () => {
  it("withTimeout(fn, 50) rejects instead of using the 30 s default", async () => {
    for (const junk of notOptions()) {
      expectMisuse(await rejection(() => withTimeout(async () => 1, junk as never)), "options");
    }
    for (const junk of notFunctions()) {
      expectMisuse(await rejection(() => withTimeout(junk as never, { timeoutMs: 50 })), "fn");
    }
    for (const junk of notSignals()) {
      expectMisuse(await rejection(() => withTimeout(async () => 1, { timeoutMs: 50, signal: junk as never })), "options.signal");
    }
    expect(await withTimeout(async () => "in time", { timeoutMs: 50 })).toBe("in time");
  });

  it("every constructor and factory that takes options throws InvalidArgumentError naming them", () => {
    const registry = new CircuitBreakerRegistry();
    const forms: Array<[string, (junk: unknown) => unknown, string]> = [
      ["new CircuitBreaker", (junk) => new CircuitBreaker(junk as never), "options"],
      ["CircuitBreaker.sensitive", (junk) => CircuitBreaker.sensitive(junk as never), "options"],
      ["CircuitBreaker.tolerant", (junk) => CircuitBreaker.tolerant(junk as never), "options"],
      ["new RetryPolicy", (junk) => new RetryPolicy(junk as never), "options"],
      ["RetryPolicy.aggressive", (junk) => RetryPolicy.aggressive(junk as never), "overrides"],
      ["RetryPolicy.conservative", (junk) => RetryPolicy.conservative(junk as never), "overrides"],
      ["new TimeoutPolicy", (junk) => new TimeoutPolicy(junk as never), "options"],
      ["new TimeoutManager", (junk) => new TimeoutManager(junk as never), "options"],
      ["new Bulkhead", (junk) => new Bulkhead(junk as never), "options"],
      ["new ChaosPolicy", (junk) => new ChaosPolicy(junk as never), "options"],
      ["chaos", (junk) => chaos(junk as never), "options"],
      ["new ResiliencePipeline", (junk) => new ResiliencePipeline(junk as never), "options"],
      ["createResilientFetch", (junk) => createResilientFetch(junk as never), "options"],
      ["new CircuitBreakerRegistry", (junk) => new CircuitBreakerRegistry(junk as never), "defaults"],
      ["registry.getOrCreate", (junk) => registry.getOrCreate("a", junk as never), "options"],
      ["registry.wrap", (junk) => registry.wrap("b", async () => 1, junk as never), "options"],
    ];
    for (const [name, form, argument] of forms) {
      for (const junk of notOptions()) {
        const error = thrown(() => form(junk));
        if (!(error instanceof InvalidArgumentError)) throw new Error(`${name}(${String(junk)}) threw ${String(error)}`);
        expectMisuse(error, argument);
      }
    }
    expect(registry.list()).toEqual([]);
  });

  it("CircuitBreakerRegistry refuses a name that is not a string, or a wrap of a non-function", () => {
    const registry = new CircuitBreakerRegistry();
    expectMisuse(thrown(() => registry.getOrCreate(42 as never)), "name");
    expectMisuse(thrown(() => registry.wrap(undefined as never, async () => 1)), "name");
    for (const junk of notFunctions()) expectMisuse(thrown(() => registry.wrap("api", junk as never)), "fn");
    expect(registry.list()).toEqual([]);
  });
});

describe("the resilient fetch refuses an init.signal that is not an AbortSignal", () => {
  it("before any layer runs; null and real signals still work", async () => {
    let sent = 0;
    const resilient = createResilientFetch({
      fetch: async () => (sent++, new Response("ok")),
      retry: { baseDelayMs: 0 },
      bulkhead: { maxConcurrent: 1 },
      timeoutMs: 1_000,
      clock: new ManualClock(),
    });
    for (const junk of notSignals()) {
      if (junk === null) continue;
      expectMisuse(await rejection(() => resilient("https://api.example.com/", { signal: junk as never })), "init.signal");
    }
    expect(sent).toBe(0);
    expect(resilient.registry.list()).toEqual([]);
    expect(resilient.bulkhead!.active).toBe(0);
    expect((await resilient("https://api.example.com/", { signal: null })).status).toBe(200);
    expect((await resilient("https://api.example.com/", { signal: new AbortController().signal })).status).toBe(200);
    expect(sent).toBe(2);
  });
});
