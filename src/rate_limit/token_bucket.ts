/**
 * Token bucket: `rate` tokens per `perMs` flow into a bucket of `burst`
 * tokens (full at the start); each call takes `cost` tokens.
 *
 * Pure core ({@link TokenBucket}, state {@link TokenBucketState}) and
 * in-process limiter ({@link RateLimiter}) are separate: the core is a state
 * machine a store-backed limiter can run as is (see `algorithm.ts`).
 *
 * The state is anchored rather than accumulated: `anchorMs` is the last time
 * the bucket was seen full and `consumed` the tokens taken since. Admission
 * compares `consumed + cost - burst` with `(now - anchorMs) * rate / perMs`,
 * so every decision costs one rounding, never an accumulated one: 10⁶
 * acquisitions do not drift (with integer costs `consumed` stays exact up to
 * 2⁵³).
 *
 * @module
 */
import { badOptions, throwIf } from "../internal/arguments.ts";
import { lazy, strictObject, validate } from "../validation.ts";
import type { RateLimitAlgorithm } from "./algorithm.ts";
import { AlgorithmLimiter, type LimiterOptions } from "./limiter.ts";
import { bucketParams, bucketShape, limiterShape, positiveWait } from "./options.ts";

const limiterSchema = /* @__PURE__ */ lazy(() => strictObject({ ...bucketShape(), ...limiterShape() }));

/** Options of a rate-based algorithm (token bucket, GCRA). */
export interface BucketOptions {
  /** Tokens added per `perMs`; any finite number > 0. Default `10` (or `configure()`'s). */
  rate?: number;
  /** The period of `rate`, in ms. Default `1000`. */
  perMs?: number;
  /** Bucket size, >= 1; the bucket starts full. Default `rate` (at least 1). */
  burst?: number;
}

/** Plain, serializable token-bucket state. */
export interface TokenBucketState {
  /** When the bucket was last known full. */
  anchorMs: number;
  /** Tokens taken since `anchorMs`. */
  consumed: number;
}

/**
 * The token-bucket algorithm as a pure state machine.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "bulwark";
 * const bucket = new TokenBucket({ rate: 10, perMs: 1_000, burst: 2 });
 * const state = bucket.initial(0);
 * bucket.step(state, 0, 2, state);               // admitted: returns 0
 * const wait = bucket.step(state, 0, 1, state);  // one token takes 100 ms
 * if (wait !== 100) throw new Error(`unexpected ${wait}`);
 * ```
 */
export class TokenBucket implements RateLimitAlgorithm<TokenBucketState> {
  readonly kind: "token-bucket" = "token-bucket";
  readonly wholeUnits: boolean = false;
  /** Tokens per `perMs`. */
  readonly rate: number;
  /** Period of `rate` in ms. */
  readonly perMs: number;
  /** Bucket size. */
  readonly burst: number;
  readonly limit: number;
  readonly windowMs: number;

  constructor(options: BucketOptions = {}) {
    throwIf(badOptions("TokenBucket", options));
    const { rate, perMs, burst } = bucketParams("TokenBucket", options);
    this.rate = rate;
    this.perMs = perMs;
    this.burst = burst;
    this.limit = burst;
    this.windowMs = (burst * perMs) / rate;
  }

  initial(now: number): TokenBucketState {
    return { anchorMs: now, consumed: 0 };
  }

  restore(now: number, fullAt: number): TokenBucketState {
    // Tokens refill linearly, so "full at fullAt" pins the state exactly.
    const missing = fullAt > now ? ((fullAt - now) * this.rate) / this.perMs : 0;
    return { anchorMs: now, consumed: Math.min(this.burst, missing) };
  }

  clone(state: Readonly<TokenBucketState>): TokenBucketState {
    return { anchorMs: state.anchorMs, consumed: state.consumed };
  }

  step(state: Readonly<TokenBucketState>, now: number, cost: number, next: TokenBucketState): number {
    const elapsed = now - state.anchorMs;
    const refilled = (elapsed * this.rate) / this.perMs;
    const consumed = state.consumed;
    if (refilled >= consumed) {
      // Full: re-anchor here, which keeps the numbers small and exact.
      if (cost > this.burst) return Infinity;
      next.anchorMs = now;
      next.consumed = cost;
      return 0;
    }
    const deficit = consumed + cost - this.burst;
    if (deficit <= refilled) {
      next.anchorMs = state.anchorMs;
      next.consumed = consumed + cost;
      return 0;
    }
    if (cost > this.burst) return Infinity;
    const wait = (deficit * this.perMs) / this.rate - elapsed;
    return positiveWait(wait);
  }

  available(state: Readonly<TokenBucketState>, now: number): number {
    const refilled = ((now - state.anchorMs) * this.rate) / this.perMs;
    return refilled >= state.consumed ? this.burst : this.burst - state.consumed + refilled;
  }

  resetAfter(state: Readonly<TokenBucketState>, now: number): number {
    const wait = (state.consumed * this.perMs) / this.rate - (now - state.anchorMs);
    return wait > 0 ? wait : 0;
  }
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions extends BucketOptions, LimiterOptions {}

/**
 * Token-bucket rate limiter (the seeds' `RateLimiter`): `rate` tokens per
 * `perMs`, bursts up to `burst`, starts full. `tryAcquire` never waits;
 * `acquire` waits in FIFO order, exactly until its tokens are due.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const limiter = new RateLimiter({ rate: 2, perMs: 1_000, clock });
 * limiter.tryAcquire();
 * limiter.tryAcquire();
 * if (limiter.tryAcquire()) throw new Error("bucket should be empty");
 * if (limiter.timeUntilToken() !== 500) throw new Error("one token per 500 ms");
 * const waited = limiter.acquire();
 * await clock.advance(500);
 * await waited;
 * ```
 */
export class RateLimiter extends AlgorithmLimiter<TokenBucketState> {
  declare readonly algorithm: TokenBucket;

  constructor(options: RateLimiterOptions = {}) {
    throwIf(badOptions("RateLimiter", options));
    validate("RateLimiter", limiterSchema(), options);
    const { name, clock, wakeMode, ...bucket } = options;
    super(new TokenBucket(bucket), { name, clock, wakeMode });
  }

  /** Tokens per `perMs`. */
  get rate(): number {
    return this.algorithm.rate;
  }

  /** Period of `rate` in ms. */
  get perMs(): number {
    return this.algorithm.perMs;
  }

  /** Bucket size. */
  get burst(): number {
    return this.algorithm.burst;
  }

  /** Tokens in the bucket now (fractional while refilling). */
  get tokens(): number {
    return this.available;
  }

  /** Ms until one token is available (0 if one is), behind anyone waiting. */
  timeUntilToken(): number {
    return this.timeUntilAvailable(1);
  }
}
