/**
 * The seeds' `@rate_limiter` decorator: `rateLimiter(fn, options)` or
 * `rateLimiter(options)(fn)`, backed by a token-bucket {@link RateLimiter}.
 *
 * @module
 */
import { type InvalidArgumentError, RateLimitExceededError } from "../errors.ts";
import { badFunction, badOptions, throwIf } from "../internal/arguments.ts";
import { boolean, durationMs, lazy, optional, strictObject, validate } from "../validation.ts";
import type { LimiterOptions } from "./limiter.ts";
import { bucketShape, limiterShape } from "./options.ts";
import { type BucketOptions, RateLimiter } from "./token_bucket.ts";

/** Options of {@link rateLimiter}. */
export interface RateLimiterDecoratorOptions extends BucketOptions, LimiterOptions {
  /**
   * Wait for a token (default `true`). With `false`, a call finding the
   * bucket empty rejects at once with {@link RateLimitExceededError}
   * carrying `retryAfterMs`.
   */
  blocking?: boolean;
  /** Longest wait when blocking; a longer one rejects at once. Default: unbounded. */
  timeoutMs?: number;
}

/** A rate-limited function: always async, with its limiter attached. */
export type RateLimited<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) & {
  /** The limiter behind the function (stats, tokens, reset). */
  readonly limiter: RateLimiter;
};

const decoratorSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    ...bucketShape(),
    ...limiterShape(),
    blocking: optional(boolean()),
    timeoutMs: optional(durationMs(0)),
  })
);

function wrap<A extends unknown[], R>(fn: (...args: A) => R, options: RateLimiterDecoratorOptions): RateLimited<A, R> {
  throwIf(badFunction("rateLimiter", fn));
  const { blocking = true, timeoutMs, ...limiterOptions } = options;
  const limiter = new RateLimiter(limiterOptions);
  // One options object for every call: nothing allocated per call but the promise.
  const acquireOptions = timeoutMs === undefined ? undefined : { timeoutMs };
  const limited = blocking
    ? async function (this: unknown, ...args: A): Promise<Awaited<R>> {
      await limiter.acquire(acquireOptions);
      return await fn.apply(this, args);
    }
    : async function (this: unknown, ...args: A): Promise<Awaited<R>> {
      if (!limiter.tryAcquire()) throw new RateLimitExceededError(limiter.timeUntilToken(), limiter.name);
      return await fn.apply(this, args);
    };
  return Object.defineProperty(limited, "limiter", { value: limiter, enumerable: true }) as RateLimited<A, R>;
}

/**
 * Rate-limits `fn` (default 10 calls per second, bursts of `rate`). Throws
 * at once: `ConfigError` for bad options, {@link InvalidArgumentError} for a
 * `fn` that is not a function (in the decorator form, when it is given).
 *
 * @example
 * ```ts
 * import { RateLimitExceededError, rateLimiter } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const send = rateLimiter(async (text: string) => text.length, { rate: 1, blocking: false, clock });
 * await send("first");
 * try {
 *   await send("second");
 *   throw new Error("should be limited");
 * } catch (error) {
 *   if (!(error instanceof RateLimitExceededError) || error.retryAfterMs !== 1_000) throw error;
 * }
 * ```
 */
export function rateLimiter<A extends unknown[], R>(
  fn: (...args: A) => R,
  options?: RateLimiterDecoratorOptions,
): RateLimited<A, R>;
/**
 * The decorator form: `rateLimiter(options)` returns a function that
 * rate-limits the function it is given, each with its own limiter.
 *
 * @example
 * ```ts
 * import { rateLimiter } from "bulwark";
 * const limited = rateLimiter({ rate: 100, perMs: 60_000 });
 * const search = limited(async (query: string) => [query]);
 * if ((await search("bulwark"))[0] !== "bulwark") throw new Error("wrong result");
 * ```
 */
export function rateLimiter(
  options?: RateLimiterDecoratorOptions,
): <A extends unknown[], R>(fn: (...args: A) => R) => RateLimited<A, R>;
export function rateLimiter<A extends unknown[], R>(
  fnOrOptions?: ((...args: A) => R) | RateLimiterDecoratorOptions,
  options: RateLimiterDecoratorOptions = {},
): RateLimited<A, R> | (<A2 extends unknown[], R2>(fn: (...args: A2) => R2) => RateLimited<A2, R2>) {
  if (typeof fnOrOptions === "function") {
    throwIf(badOptions("rateLimiter", options));
    validate("rateLimiter()", decoratorSchema(), options);
    return wrap(fnOrOptions, options);
  }
  throwIf(badOptions("rateLimiter", fnOrOptions));
  const shared = fnOrOptions ?? {};
  validate("rateLimiter()", decoratorSchema(), shared);
  return <A2 extends unknown[], R2>(fn: (...args: A2) => R2) => wrap(fn, shared);
}
