/**
 * What the sliding-window strategies share: their rate options and the rule
 * that turns window totals into a decision to open.
 *
 * @module
 */
import { BREAKER_DEFAULTS } from "../internal/built_in_defaults.ts";
import { sharedDefaults } from "../internal/defaults.ts";
import { fraction, integer, lazy, optional } from "../validation.ts";

/** Options every sliding-window strategy takes besides the window's size. */
export interface RateRuleOptions {
  /**
   * Fraction of calls in the window that must fail to open the circuit, in
   * `(0, 1]`. Default from `configure()`, built-in `0.5`.
   */
  failureRateThreshold?: number;
  /**
   * Calls the window must hold before a rate can open the circuit (capped at
   * the window's size for count windows). Default from `configure()`,
   * built-in `10`.
   */
  minimumThroughput?: number;
  /**
   * Fraction of calls in the window that must be slow to open the circuit, in
   * `(0, 1]`. Default from `configure()`, built-in `1` (every call slow).
   */
  slowCallRateThreshold?: number;
  /**
   * Also open after this many failures in a row, whatever the rate (the
   * presets' "3 consecutive failures or a 30 % rate"). Default: no such rule.
   */
  maxFailures?: number;
}

/** zod shape of {@link RateRuleOptions}. */
export const rateRuleShape = /* @__PURE__ */ lazy(() => ({
  failureRateThreshold: optional(fraction()),
  minimumThroughput: optional(integer(1)),
  slowCallRateThreshold: optional(fraction()),
  maxFailures: optional(integer(1)),
}));

/** The resolved rules; `decide` is called once per recorded call. */
export class RateRules {
  readonly #failureRate: number;
  readonly #slowRate: number;
  readonly #minimum: number;
  readonly #maxFailures: number;
  #consecutive = 0;

  constructor(options: RateRuleOptions, capacity: number) {
    const defaults = sharedDefaults("circuitBreaker", BREAKER_DEFAULTS);
    this.#failureRate = options.failureRateThreshold ?? defaults.failureRateThreshold;
    this.#slowRate = options.slowCallRateThreshold ?? defaults.slowCallRateThreshold;
    // A count window can never hold more than its size: a larger minimum
    // would silently disable the rate rules.
    this.#minimum = Math.min(options.minimumThroughput ?? defaults.minimumThroughput, capacity);
    this.#maxFailures = options.maxFailures ?? Infinity;
  }

  /** Whether the window totals, just updated with this call, open the circuit. */
  decide(failed: boolean, slow: boolean, calls: number, failures: number, slowCalls: number): boolean {
    this.#consecutive = failed ? this.#consecutive + 1 : 0;
    if (this.#consecutive >= this.#maxFailures) return true;
    if (calls < this.#minimum) return false;
    // Divide rather than multiply the threshold: 0.3 * 10 is 3.0000000000000004.
    return (failed && failures / calls >= this.#failureRate) ||
      (slow && slowCalls / calls >= this.#slowRate);
  }

  /** What {@link RateRules.decide} does for a success that is not slow: ends a run of failures, opens nothing. */
  succeeded(): false {
    this.#consecutive = 0;
    return false;
  }

  reset(): void {
    this.#consecutive = 0;
  }
}
