/**
 * Rate-based tripping over the last N calls.
 *
 * @module
 */
import { integer, lazy, strictObject, validate } from "../validation.ts";
import { type RateRuleOptions, RateRules, rateRuleShape } from "./rate_rules.ts";
import type { BreakerStrategy } from "./strategy.ts";

/** Options of {@link CountWindowStrategy}. */
export interface CountWindowStrategyOptions extends RateRuleOptions {
  /** How many of the most recent calls the rates are computed over. An integer >= 1. */
  windowSize: number;
}

const schema = /* @__PURE__ */ lazy(() => strictObject({ windowSize: integer(1, 1_000_000), ...rateRuleShape() }));

const FAILED = 1;
const SLOW = 2;

/**
 * {@link CountWindowStrategy} without its option checks, for options already
 * checked: a breaker builds its strategy from its own options, which it
 * checks against the same rules, so it neither checks them twice nor
 * carries the strategy's checks in its bundle. Not exported by the package.
 */
export class CountWindowRule implements BreakerStrategy {
  readonly #ring: Uint8Array;
  readonly #rules: RateRules;
  #next = 0;
  #calls = 0;
  #failures = 0;
  #slowCalls = 0;

  constructor(parsed: CountWindowStrategyOptions) {
    this.#ring = new Uint8Array(parsed.windowSize);
    this.#rules = new RateRules(parsed, parsed.windowSize);
  }

  failureCount(_now?: number): number {
    return this.#failures;
  }

  record(failed: boolean, slow: boolean, _now?: number): boolean {
    const ring = this.#ring;
    const slot = this.#next;
    this.#next = slot + 1 === ring.length ? 0 : slot + 1;
    const outcome = (failed ? FAILED : 0) | (slow ? SLOW : 0);
    if (this.#calls === ring.length) {
      // The window is full: the oldest call, in this slot, leaves it. When it
      // had the same outcome (a success replacing a success, mostly), the
      // totals stand and the slot is left as it is.
      const evicted = ring[slot]!;
      if (evicted !== outcome) {
        ring[slot] = outcome;
        this.#failures += (outcome & FAILED) - (evicted & FAILED);
        this.#slowCalls += (outcome >> 1) - (evicted >> 1);
      }
    } else {
      this.#calls++;
      ring[slot] = outcome;
      this.#failures += outcome & FAILED;
      this.#slowCalls += outcome >> 1;
    }
    // A success that is not slow opens nothing: it only ends a run of failures.
    if (outcome === 0) return this.#rules.succeeded();
    return this.#rules.decide(failed, slow, this.#calls, this.#failures, this.#slowCalls);
  }

  reset(): void {
    this.#next = this.#calls = this.#failures = this.#slowCalls = 0;
    this.#rules.reset();
  }
}

/**
 * Opens the circuit when, over the last `windowSize` calls (and at least
 * `minimumThroughput` of them), the failure rate reaches
 * `failureRateThreshold` or the slow-call rate reaches `slowCallRateThreshold`.
 *
 * One byte per call slot in a fixed ring and running totals: O(1) per call,
 * no allocation, no growth with traffic.
 *
 * @example
 * ```ts
 * import { CountWindowStrategy } from "bulwark";
 * const strategy = new CountWindowStrategy({
 *   windowSize: 4, minimumThroughput: 4, failureRateThreshold: 0.5,
 * });
 * strategy.record(true, false, 0);
 * strategy.record(false, false, 0);
 * strategy.record(false, false, 0);
 * if (!strategy.record(true, false, 0)) throw new Error("2 of 4 failed: should trip");
 * ```
 */
export class CountWindowStrategy extends CountWindowRule {
  constructor(options: CountWindowStrategyOptions) {
    super(validate("CountWindowStrategy", schema(), options));
  }
}
