/**
 * The pluggable part of a circuit breaker: what decides, from the outcomes of
 * calls made while the circuit is closed, that it should open.
 *
 * @module
 */

/**
 * Decides when a closed circuit opens. The breaker feeds it the outcome of
 * every counted call made while closed, and calls {@link BreakerStrategy.reset}
 * whenever the circuit closes. Implementations must be O(1) per call and
 * allocate nothing in {@link BreakerStrategy.record}: it runs on the hot path.
 *
 * Adding a strategy is adding a class; the breaker never switches on its kind.
 *
 * @example
 * ```ts
 * import { type BreakerStrategy, CircuitBreaker } from "bulwark";
 *
 * // Opens on the first failure that follows another one.
 * class TwoInARow implements BreakerStrategy {
 *   #last = false;
 *   failureCount(): number { return this.#last ? 1 : 0; }
 *   record(failed: boolean): boolean {
 *     const trip = failed && this.#last;
 *     this.#last = failed;
 *     return trip;
 *   }
 *   reset(): void { this.#last = false; }
 * }
 * const breaker = new CircuitBreaker({ strategy: new TwoInARow() });
 * breaker.recordFailure();
 * breaker.recordFailure();
 * if (breaker.state !== "open") throw new Error("should be open");
 * ```
 */
export interface BreakerStrategy {
  /** Failures currently counted toward opening, as of monotonic time `now`. */
  failureCount(now: number): number;
  /**
   * Records one call's outcome; returns `true` when the circuit should open.
   *
   * @param failed the call failed (it threw an error that counts, or its
   *   result was judged a failure).
   * @param slow the call took longer than `slowCallDurationMs`.
   * @param now monotonic ms when the call ended.
   */
  record(failed: boolean, slow: boolean, now: number): boolean;
  /** Forgets every recorded call. Called when the circuit closes or is reset. */
  reset(): void;
}
