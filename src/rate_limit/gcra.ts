/**
 * GCRA, the generic cell rate algorithm (virtual scheduling): the same limit
 * as a token bucket (`rate` per `perMs`, bursts of `burst`), kept as one
 * number, the theoretical arrival time. A single number with a natural
 * expiry ({@link Gcra.resetAfter}) is what store-backed limiters want: one
 * Redis key with a TTL, one Durable Object field.
 *
 * Pure core ({@link Gcra}) and in-process limiter ({@link GcraLimiter}) are
 * separate; see `algorithm.ts`.
 *
 * Precision: the arrival time is counted in emission intervals (`ms × rate /
 * perMs`), not in ms, so an admission adds the exact `cost` rather than a
 * rounded `cost × perMs / rate`; only the conversion of `now` rounds, once
 * per decision. 10⁶ admissions do not drift.
 *
 * @module
 */
import { badOptions, throwIf } from "../internal/arguments.ts";
import { lazy, strictObject, validate } from "../validation.ts";
import type { RateLimitAlgorithm } from "./algorithm.ts";
import { AlgorithmLimiter, type LimiterOptions } from "./limiter.ts";
import { bucketParams, bucketShape, limiterShape, positiveWait } from "./options.ts";
import type { BucketOptions } from "./token_bucket.ts";

const limiterSchema = /* @__PURE__ */ lazy(() => strictObject({ ...bucketShape(), ...limiterShape() }));

/** Relative rounding forgiven when comparing positions: a few ulps. */
const ROUNDING = 4 * Number.EPSILON;

/** Plain, serializable GCRA state. */
export interface GcraState {
  /**
   * Theoretical arrival time, in emission intervals since time 0
   * (`ms × rate / perMs`): the bucket is full again when `now` reaches it.
   */
  tat: number;
}

/**
 * GCRA as a pure state machine.
 *
 * @example
 * ```ts
 * import { Gcra } from "bulwark";
 * const gcra = new Gcra({ rate: 10, perMs: 1_000, burst: 1 });
 * const state = gcra.initial(0);
 * gcra.step(state, 0, 1, state);
 * if (state.tat !== 1) throw new Error("one emission interval ahead");
 * if (gcra.step(state, 50, 1, state) !== 50) throw new Error("due at 100 ms");
 * ```
 */
export class Gcra implements RateLimitAlgorithm<GcraState> {
  readonly kind: "gcra" = "gcra";
  readonly wholeUnits: boolean = false;
  /** Units per `perMs`. */
  readonly rate: number;
  /** Period of `rate` in ms. */
  readonly perMs: number;
  /** Largest burst. */
  readonly burst: number;
  readonly limit: number;
  readonly windowMs: number;
  /** Ms per unit: the emission interval. */
  readonly intervalMs: number;

  constructor(options: BucketOptions = {}) {
    throwIf(badOptions("Gcra", options));
    const { rate, perMs, burst } = bucketParams("Gcra", options);
    this.rate = rate;
    this.perMs = perMs;
    this.burst = burst;
    this.limit = burst;
    this.intervalMs = perMs / rate;
    this.windowMs = burst * this.intervalMs;
  }

  initial(now: number): GcraState {
    return { tat: this.#units(now) };
  }

  restore(now: number, fullAt: number): GcraState {
    return { tat: this.#units(Math.max(now, fullAt)) };
  }

  clone(state: Readonly<GcraState>): GcraState {
    return { tat: state.tat };
  }

  step(state: Readonly<GcraState>, now: number, cost: number, next: GcraState): number {
    const position = this.#units(now);
    const ahead = state.tat > position ? state.tat - position : 0;
    const excess = ahead + cost - this.burst;
    // `ahead` is a difference of two large numbers of intervals: forgive the
    // few ulps it can be off by, or `(p + 1) - p` = 1.0000000000000018 would
    // refuse a call that has its unit exactly.
    if (excess <= (position + this.burst) * ROUNDING) {
      next.tat = (ahead > 0 ? state.tat : position) + cost;
      return 0;
    }
    return cost > this.burst ? Infinity : positiveWait(excess * this.intervalMs);
  }

  available(state: Readonly<GcraState>, now: number): number {
    const ahead = state.tat - this.#units(now);
    return ahead > 0 ? this.burst - ahead : this.burst;
  }

  resetAfter(state: Readonly<GcraState>, now: number): number {
    const ahead = state.tat - this.#units(now);
    return ahead > 0 ? ahead * this.intervalMs : 0;
  }

  /** `ms` in emission intervals. */
  #units(ms: number): number {
    return (ms * this.rate) / this.perMs;
  }
}

/** Options of {@link GcraLimiter}. */
export interface GcraLimiterOptions extends BucketOptions, LimiterOptions {}

/**
 * Rate limiter running {@link Gcra}: behaves like {@link RateLimiter} and
 * keeps a single number of state.
 *
 * @example
 * ```ts
 * import { GcraLimiter } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const limiter = new GcraLimiter({ rate: 5, perMs: 1_000, burst: 1, clock });
 * if (!limiter.tryAcquire() || limiter.tryAcquire()) throw new Error("burst of 1");
 * await clock.advance(200);
 * if (!limiter.tryAcquire()) throw new Error("one every 200 ms");
 * ```
 */
export class GcraLimiter extends AlgorithmLimiter<GcraState> {
  declare readonly algorithm: Gcra;

  constructor(options: GcraLimiterOptions = {}) {
    throwIf(badOptions("GcraLimiter", options));
    validate("GcraLimiter", limiterSchema(), options);
    const { name, clock, wakeMode, ...bucket } = options;
    super(new Gcra(bucket), { name, clock, wakeMode });
  }
}
