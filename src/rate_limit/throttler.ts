/**
 * The seeds' throttler: `calls` per `periodMs`, by token bucket (with an
 * optional `burst`) or sliding window, as a reusable object whose
 * `throttle(fn)` wraps functions, plus the standalone {@link throttle} and
 * {@link getThrottleStats}.
 *
 * @module
 */
import { ConfigError, type InvalidArgumentError } from "../errors.ts";
import { contextFor, type Operation, type Policy } from "../policy.ts";
import { badCall, badFunction, badOptions, throwIf } from "../internal/arguments.ts";
import { durationMs, integer, lazy, oneOf, optional, positiveNumber, strictObject, validate } from "../validation.ts";
import type { AcquireOptions, Limiter, LimiterOptions } from "./limiter.ts";
import { badAcquire, limiterShape } from "./options.ts";
import { SlidingWindowLimiter } from "./sliding_window.ts";
import { RateLimiter } from "./token_bucket.ts";

/** Options of {@link Throttler}. */
export interface ThrottlerOptions extends LimiterOptions {
  /** Calls allowed per `periodMs`: an integer >= 1. */
  calls: number;
  /** The period, in ms. */
  periodMs: number;
  /** Largest burst (token bucket only). Default `calls`. */
  burst?: number;
  /** `"token-bucket"` (default) smooths to `calls / periodMs`; `"sliding-window"` caps any window. */
  strategy?: "token-bucket" | "sliding-window";
}

/** What {@link Throttler.getStats} reports (the seeds' `get_stats`). */
export interface ThrottleStats {
  /** Every `acquire` / `tryAcquire` decided so far. */
  readonly totalRequests: number;
  /** Those granted. */
  readonly allowedRequests: number;
  /** Those refused. */
  readonly deniedRequests: number;
  /** Ms granted callers spent waiting, in total. */
  readonly totalWaitMs: number;
}

const throttlerSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    calls: integer(1),
    periodMs: durationMs(0, true),
    burst: optional(positiveNumber(1, true)),
    strategy: optional(oneOf(["token-bucket", "sliding-window"])),
    ...limiterShape(),
  })
);

const statsOf = new WeakMap<object, Throttler>();

/**
 * A throttle shared by any number of functions.
 *
 * @example
 * ```ts
 * import { Throttler } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const throttler = new Throttler({ calls: 2, periodMs: 1_000, clock });
 * const fetchUser = throttler.throttle(async (id: number) => ({ id }));
 * await fetchUser(1);
 * await fetchUser(2);
 * const third = fetchUser(3);            // waits 500 ms for a token
 * await clock.advance(500);
 * if ((await third).id !== 3) throw new Error("wrong result");
 * if (throttler.getStats().allowedRequests !== 3) throw new Error("wrong stats");
 * ```
 */
export class Throttler implements Policy, Disposable {
  /** The limiter doing the work. */
  readonly limiter: Limiter;

  constructor(options: ThrottlerOptions) {
    throwIf(badOptions("Throttler", options));
    const parsed = validate("Throttler", throttlerSchema(), options);
    const strategy = parsed.strategy ?? "token-bucket";
    const { name, clock, wakeMode } = parsed;
    if (strategy === "sliding-window") {
      if (parsed.burst !== undefined) {
        throw new ConfigError("Throttler", [{
          field: "burst",
          value: parsed.burst,
          allowed: 'unset with strategy "sliding-window" (a window has no burst)',
        }]);
      }
      this.limiter = new SlidingWindowLimiter({ limit: parsed.calls, windowMs: parsed.periodMs, name, clock, wakeMode });
    } else {
      this.limiter = new RateLimiter({
        rate: parsed.calls,
        perMs: parsed.periodMs,
        burst: parsed.burst ?? parsed.calls,
        name,
        clock,
        wakeMode,
      });
    }
  }

  /**
   * Wraps `fn` so every call first waits its turn. {@link getThrottleStats}
   * reads the wrapper's stats. Throws {@link InvalidArgumentError} at once if
   * `fn` is not a function.
   */
  throttle<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Promise<Awaited<R>> {
    throwIf(badFunction("Throttler.throttle", fn));
    const limiter = this.limiter;
    const throttled = async function (this: unknown, ...args: A): Promise<Awaited<R>> {
      await limiter.acquire();
      return await fn.apply(this, args);
    };
    statsOf.set(throttled, this);
    return throttled;
  }

  /** Waits for permission (FIFO); see {@link Limiter.acquire}. */
  acquire(options?: Omit<AcquireOptions, "cost">): Promise<void> {
    const error = badAcquire("Throttler", "acquire", this.limiter.algorithm, options);
    if (error !== undefined) return Promise.reject(error);
    return this.limiter.acquire(options);
  }

  /** Takes permission if it is there now; never waits. */
  tryAcquire(): boolean {
    return this.limiter.tryAcquire();
  }

  /** Counters since creation. */
  getStats(): ThrottleStats {
    const stats = this.limiter.stats;
    return {
      totalRequests: stats.totalAcquired + stats.totalRejected,
      allowedRequests: stats.totalAcquired,
      deniedRequests: stats.totalRejected,
      totalWaitMs: stats.totalWaitedMs,
    };
  }

  /** Waits for permission, then runs `fn`. */
  async execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== "function" || signal !== undefined) throwIf(badCall("Throttler.execute", fn, signal));
    await this.limiter.acquire(signal === undefined ? undefined : { signal });
    return await fn(contextFor(signal));
  }

  /** Rejects every waiting caller. */
  [Symbol.dispose](): void {
    this.limiter[Symbol.dispose]();
  }
}

/**
 * Wraps `fn` with its own {@link Throttler} (the seeds' `@throttle`). Throws
 * at once: {@link InvalidArgumentError} if `fn` is not a function,
 * `ConfigError` for bad options.
 *
 * @example
 * ```ts
 * import { getThrottleStats, throttle } from "bulwark";
 * const ping = throttle(async () => "pong", { calls: 10, periodMs: 1_000 });
 * await ping();
 * if (getThrottleStats(ping)?.allowedRequests !== 1) throw new Error("wrong stats");
 * ```
 */
export function throttle<A extends unknown[], R>(
  fn: (...args: A) => R,
  options: ThrottlerOptions,
): (...args: A) => Promise<Awaited<R>> {
  throwIf(badFunction("throttle", fn));
  return new Throttler(options).throttle(fn);
}

/**
 * The stats of the throttler behind a function returned by {@link throttle}
 * or {@link Throttler.throttle}; `undefined` for any other function.
 *
 * @example
 * ```ts
 * import { getThrottleStats } from "bulwark";
 * if (getThrottleStats(() => 1) !== undefined) throw new Error("not throttled");
 * ```
 */
export function getThrottleStats(fn: (...args: never[]) => unknown): ThrottleStats | undefined {
  return statsOf.get(fn)?.getStats();
}
