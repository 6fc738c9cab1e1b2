/**
 * Rate-based tripping over the calls of the last `windowMs` milliseconds.
 *
 * @module
 */
import { durationMs, integer, lazy, optional, strictObject, validate } from "../validation.ts";
import { type RateRuleOptions, RateRules, rateRuleShape } from "./rate_rules.ts";
import type { BreakerStrategy } from "./strategy.ts";

/** Options of {@link TimeWindowStrategy}. */
export interface TimeWindowStrategyOptions extends RateRuleOptions {
  /** Span of time, in ms, the rates are computed over. */
  windowMs: number;
  /**
   * Buckets the window is divided into: the window slides one bucket
   * (`windowMs / windowBuckets`) at a time. An integer from 1 to 1000;
   * default `10`.
   */
  windowBuckets?: number;
}

const schema = /* @__PURE__ */ lazy(() =>
  strictObject({
    windowMs: durationMs(0, true),
    windowBuckets: optional(integer(1, 1_000)),
    ...rateRuleShape(),
  })
);

/**
 * {@link TimeWindowStrategy} without its option checks, for options already
 * checked: a breaker builds its strategy from its own options, which it
 * checks against the same rules, so it neither checks them twice nor
 * carries the strategy's checks in its bundle. Not exported by the package.
 */
export class TimeWindowRule implements BreakerStrategy {
  readonly #windowMs: number;
  readonly #buckets: number;
  readonly #calls: Uint32Array;
  readonly #failures: Uint32Array;
  readonly #slowCalls: Uint32Array;
  readonly #rules: RateRules;
  /** Index in the rings of the newest bucket. */
  #index = 0;
  /** Number of the newest bucket: `floor(time * buckets / windowMs)`. */
  #head = -Infinity;
  #totalCalls = 0;
  #totalFailures = 0;
  #totalSlowCalls = 0;

  constructor(parsed: TimeWindowStrategyOptions) {
    const buckets = parsed.windowBuckets ?? 10;
    this.#windowMs = parsed.windowMs;
    this.#buckets = buckets;
    this.#calls = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
    this.#slowCalls = new Uint32Array(buckets);
    this.#rules = new RateRules(parsed, Infinity);
  }

  failureCount(now: number): number {
    this.#slide(now);
    return this.#totalFailures;
  }

  record(failed: boolean, slow: boolean, now: number): boolean {
    this.#slide(now);
    const i = this.#index;
    this.#calls[i]!++;
    this.#totalCalls++;
    if (failed) {
      this.#failures[i]!++;
      this.#totalFailures++;
    }
    if (slow) {
      this.#slowCalls[i]!++;
      this.#totalSlowCalls++;
    }
    return this.#rules.decide(failed, slow, this.#totalCalls, this.#totalFailures, this.#totalSlowCalls);
  }

  reset(): void {
    this.#clear();
    this.#head = -Infinity;
    this.#rules.reset();
  }

  /** Moves the window so that its newest bucket holds `now`, emptying the buckets it leaves behind. */
  #slide(now: number): void {
    // Multiply before dividing: `now / (windowMs / buckets)` rounds, and a
    // call made exactly windowMs ago could land one bucket short of expiry.
    const bucket = Math.floor((now * this.#buckets) / this.#windowMs);
    // Monotonic time never goes back; a call that ended "earlier" joins the newest bucket.
    if (bucket <= this.#head) return;
    const size = this.#calls.length;
    if (bucket - this.#head >= size) {
      this.#clear();
    } else {
      // At most size - 1 steps: bounded by the ring, not by traffic.
      for (let step = this.#head; step < bucket; step++) {
        const i = this.#index = this.#index + 1 === size ? 0 : this.#index + 1;
        this.#totalCalls -= this.#calls[i]!;
        this.#totalFailures -= this.#failures[i]!;
        this.#totalSlowCalls -= this.#slowCalls[i]!;
        this.#calls[i] = this.#failures[i] = this.#slowCalls[i] = 0;
      }
    }
    this.#head = bucket;
  }

  #clear(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slowCalls.fill(0);
    this.#totalCalls = this.#totalFailures = this.#totalSlowCalls = 0;
  }
}

/**
 * Opens the circuit when, over the calls that ended in the last `windowMs`
 * (and at least `minimumThroughput` of them), the failure rate reaches
 * `failureRateThreshold` or the slow-call rate reaches `slowCallRateThreshold`.
 *
 * The window is a fixed ring of `windowBuckets` buckets of counts with
 * running totals, so a call costs O(1) and no memory, whatever the traffic;
 * the price is that the window's far edge moves one bucket at a time.
 *
 * @example
 * ```ts
 * import { TimeWindowStrategy } from "bulwark";
 * const strategy = new TimeWindowStrategy({
 *   windowMs: 1_000, minimumThroughput: 2, failureRateThreshold: 1,
 * });
 * strategy.record(true, false, 0);
 * // The first failure has left the window by t = 1500: the rate is 1 of 1.
 * if (strategy.record(true, false, 1_500)) throw new Error("should not trip");
 * if (!strategy.record(true, false, 1_600)) throw new Error("2 of 2 failed: should trip");
 * ```
 */
export class TimeWindowStrategy extends TimeWindowRule {
  constructor(options: TimeWindowStrategyOptions) {
    super(validate("TimeWindowStrategy", schema(), options));
  }
}
