/**
 * The classic rule: open after N failures in a row.
 *
 * @module
 */
import { integer, lazy, optional, strictObject, validate } from "../validation.ts";
import type { BreakerStrategy } from "./strategy.ts";

/** Options of {@link ConsecutiveStrategy}. */
export interface ConsecutiveStrategyOptions {
  /** Failures in a row that open the circuit. An integer >= 1. */
  maxFailures: number;
  /** Failures in a row already counted, e.g. restored from a snapshot. Default `0`. */
  failures?: number;
}

const schema = /* @__PURE__ */ lazy(() =>
  strictObject({
    maxFailures: integer(1),
    failures: optional(integer(0)),
  })
);

/**
 * {@link ConsecutiveStrategy} without its option checks, for options already
 * checked: a breaker builds its strategy from its own options, which it
 * checks against the same rules, so it neither checks them twice nor
 * carries the strategy's checks in its bundle. Not exported by the package.
 */
export class ConsecutiveRule implements BreakerStrategy {
  readonly #maxFailures: number;
  #failures: number;

  constructor(parsed: ConsecutiveStrategyOptions) {
    this.#maxFailures = parsed.maxFailures;
    this.#failures = parsed.failures ?? 0;
  }

  failureCount(_now?: number): number {
    return this.#failures;
  }

  record(failed: boolean, _slow?: boolean, _now?: number): boolean {
    if (!failed) {
      this.#failures = 0;
      return false;
    }
    return ++this.#failures >= this.#maxFailures;
  }

  reset(): void {
    this.#failures = 0;
  }
}

/**
 * Opens the circuit after `maxFailures` consecutive failures; any success
 * starts the count again. Slow calls do not matter to it.
 *
 * @example
 * ```ts
 * import { ConsecutiveStrategy } from "bulwark";
 * const strategy = new ConsecutiveStrategy({ maxFailures: 2 });
 * strategy.record(true, false, 0);
 * strategy.record(false, false, 0); // a success resets the count
 * strategy.record(true, false, 0);
 * if (!strategy.record(true, false, 0)) throw new Error("should trip");
 * ```
 */
export class ConsecutiveStrategy extends ConsecutiveRule {
  constructor(options: ConsecutiveStrategyOptions) {
    super(validate("ConsecutiveStrategy", schema(), options));
  }
}
