/**
 * Fallback: answer with a substitute when an operation fails.
 *
 * @module
 */
import { badFunction, badOptions, badSignal } from "./internal/arguments.ts";
import { invoke, parentFor } from "./internal/context.ts";
import type { Operation } from "./policy.ts";
import { abortSignal, lazy, optional, satisfying, strictObject, validate } from "./validation.ts";

/** Which errors a fallback handles: a list of error classes, or a predicate. */
export type FallbackOn =
  | ReadonlyArray<abstract new (...args: never[]) => unknown>
  | ((error: unknown) => boolean);

/** Options of {@link fallback}. */
export interface FallbackOptions {
  /** Errors to replace. Default: every error. */
  on?: FallbackOn;
  /**
   * The caller's signal, handed to `fn`. Once it has aborted, the call
   * rejects with its reason rather than fall back: the caller no longer
   * wants an answer.
   */
  signal?: AbortSignal;
}

/** Built on first use, not at import. */
const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    on: optional(satisfying<FallbackOn>(
      (value) =>
        typeof value === "function" ||
        (Array.isArray(value) && value.every((errorClass) => typeof errorClass === "function")),
      "an array of error classes or a function (error) => boolean",
    )),
    signal: optional(abortSignal()),
  })
);

function handles(on: FallbackOn | undefined, error: unknown): boolean {
  if (on === undefined) return true;
  if (typeof on === "function") return on(error);
  return on.some((errorClass) => error instanceof errorClass);
}

/**
 * Runs `fn`; if it fails with an error that `on` selects, resolves with the
 * fallback instead: `valueOrFunction` itself, or, if it is a function, what
 * it returns when called with the error. (To fall back to a function value,
 * return it from a function.) Errors `on` does not select, and errors of the
 * fallback function, propagate. Invalid options throw a `ConfigError` at once.
 * A misuse is never answered with the fallback: an `fn` that is not a
 * function (a promise, say: pass `() => promise`), `options` that are not an
 * object or an `options.signal` that is not an `AbortSignal` reject with an
 * `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * import { fallback, TimeoutError } from "bulwark";
 * const cached = await fallback(
 *   async () => { throw new TimeoutError(100); },
 *   () => "cached",
 *   { on: [TimeoutError] },
 * );
 * if (cached !== "cached") throw new Error("unexpected");
 * ```
 */
export function fallback<T, F = T>(
  fn: Operation<T>,
  valueOrFunction: F | ((error: unknown) => F | PromiseLike<F>),
  options: FallbackOptions = {},
): Promise<T | F> {
  const misuse = badFunction("fallback", fn) ?? badOptions("fallback", options) ??
    badSignal("fallback", options?.signal, "options.signal");
  if (misuse !== undefined) return Promise.reject(misuse);
  // Bad options are a programmer's error: thrown now, not as a rejection.
  const { on, signal } = validate("fallback", optionsSchema(), options) as FallbackOptions;
  return run(fn, valueOrFunction, on, signal);
}

async function run<T, F>(
  fn: Operation<T>,
  valueOrFunction: F | ((error: unknown) => F | PromiseLike<F>),
  on: FallbackOn | undefined,
  signal: AbortSignal | undefined,
): Promise<T | F> {
  if (signal?.aborted) throw signal.reason;
  try {
    return await invoke(fn, parentFor(signal));
  } catch (error) {
    if (signal?.aborted || !handles(on, error)) throw error;
    return typeof valueOrFunction === "function"
      ? await (valueOrFunction as (error: unknown) => F | PromiseLike<F>)(error)
      : valueOrFunction;
  }
}
