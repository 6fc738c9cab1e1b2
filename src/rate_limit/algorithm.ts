/**
 * The pure core shared by every rate-limiting algorithm.
 *
 * Each algorithm is split in two:
 *
 * - a **core** ({@link RateLimitAlgorithm}): plain, JSON-serializable state,
 *   and a transition `step(state, now, cost, next)` that decides and computes
 *   the next state. It never reads a clock, never sleeps, holds no state of
 *   its own beyond its parameters, and has no side effect other than writing
 *   the `next` object its caller hands it. The same core runs in-process here
 *   and, later, inside store-backed limiters (a Durable Object, a Deno KV
 *   `atomic().check()` loop, a Redis Lua script mirroring it).
 * - an **in-process limiter** (`RateLimiter`, `GcraLimiter`, ...) that owns
 *   one state, the clock, the FIFO of waiting callers and the stats.
 *
 * `step` writes into a caller-supplied object rather than returning a new one
 * so that the in-process hot path (`next === state`) allocates nothing; use
 * {@link decide} for the allocating, side-effect-free form.
 *
 * @module
 */

/** The algorithms, by the name used to pick one. */
export type AlgorithmName = "token-bucket" | "gcra" | "sliding-window" | "fixed-window";

/**
 * A rate-limiting algorithm as a pure state machine over plain state `S`.
 * All times are milliseconds on whatever clock the caller uses (monotonic
 * in-process, epoch ms for anything shared between processes); the core only
 * ever compares and subtracts them.
 */
export interface RateLimitAlgorithm<S extends object = object> {
  /** Which algorithm this is. */
  readonly kind: AlgorithmName;
  /** The most units that can ever be admitted at once (bucket size or window limit). */
  readonly limit: number;
  /** The time in ms over which a full `limit` is replenished: the quota window. */
  readonly windowMs: number;
  /** Whether costs must be whole numbers (the exact sliding-window log counts units). */
  readonly wholeUnits: boolean;
  /** A fresh state at `now`: nothing consumed, the full `limit` available. */
  initial(now: number): S;
  /**
   * A state at `now` that is exactly as strict as, or stricter than, any state
   * that had `used` units in use at some time up to `now` (default: all of
   * `limit`) and becomes fully replenished at `fullAt`. Used to restore a key
   * evicted from a keyed limiter from a two-number summary, without handing
   * it a fresh burst.
   */
  restore(now: number, fullAt: number, used?: number): S;
  /** A deep copy of `state`. */
  clone(state: Readonly<S>): S;
  /**
   * The transition. Returns `0` when `cost` units are admitted at `now` and
   * then writes the state after admission into `next`; otherwise returns the
   * ms (> 0) to wait until they would be admitted (`Infinity` if never:
   * `cost > limit`), and writes at most housekeeping that changes no decision
   * (the log drops expired entries). `next` is `state` itself (in place, no
   * allocation) or a {@link RateLimitAlgorithm.clone} of it.
   */
  step(state: Readonly<S>, now: number, cost: number, next: S): number;
  /** Units that could be admitted at `now` (may be fractional). */
  available(state: Readonly<S>, now: number): number;
  /** Ms from `now` until `state` is fully replenished (0 if it is). */
  resetAfter(state: Readonly<S>, now: number): number;
}

/**
 * The outcome of one admission decision: what a caller, an HTTP response's
 * rate-limit headers or a store-backed limiter needs.
 */
export interface RateLimitDecision {
  /** Whether the units were admitted. */
  readonly allowed: boolean;
  /** Units asked for. */
  readonly cost: number;
  /** The most units admitted at once (the quota). */
  readonly limit: number;
  /** The quota window in ms (time to replenish `limit`). */
  readonly windowMs: number;
  /** Units still available after this decision (may be fractional). */
  readonly remaining: number;
  /** Ms until this request could succeed: 0 when allowed, `Infinity` if it never can. */
  readonly retryAfterMs: number;
  /** Ms until the full quota is available again. */
  readonly resetMs: number;
}

/**
 * The pure, allocating form of {@link RateLimitAlgorithm.step}: decides
 * whether `cost` units are admitted at `now` and returns the decision with
 * the next state, leaving `state` untouched. This is what a store-backed
 * limiter runs between reading and compare-and-setting its state.
 *
 * @example
 * ```ts
 * import { decide, TokenBucket } from "bulwark";
 * const bucket = new TokenBucket({ rate: 2, perMs: 1_000 });
 * const first = decide(bucket, bucket.initial(0), 0, 2);
 * const second = decide(bucket, first.state, 0, 1);
 * if (!first.allowed || second.allowed || second.retryAfterMs !== 500) throw new Error("wrong");
 * ```
 */
export function decide<S extends object>(
  algorithm: RateLimitAlgorithm<S>,
  state: Readonly<S>,
  now: number,
  cost: number,
): RateLimitDecision & { readonly state: S } {
  const next = algorithm.clone(state);
  const wait = algorithm.step(state, now, cost, next);
  return {
    allowed: wait === 0,
    cost,
    limit: algorithm.limit,
    windowMs: algorithm.windowMs,
    remaining: algorithm.available(next, now),
    retryAfterMs: wait,
    resetMs: algorithm.resetAfter(next, now),
    state: next,
  };
}
