/**
 * The shape and cap of a backoff, without jitter: what the breaker's
 * growing open period needs of `backoffDelay` (which adds the retry's
 * jitter on top), in a module of its own so that a breaker's bundle
 * carries no jitter code.
 *
 * @module
 */
import type { BackoffFunction, BackoffKind } from "../backoff.ts";

/** What {@link grownDelay} needs: the shape, its base, the cap and the growth factor of `"exponential"`. */
export interface Growth {
  readonly backoff: BackoffKind | BackoffFunction;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
}

/** The `attempt`-th delay (1-based) of `growth`'s shape, capped at its `maxDelayMs`. */
export function grownDelay(growth: Growth, attempt: number): number {
  const { backoff, baseDelayMs } = growth;
  let delay: number;
  if (typeof backoff === "function") delay = backoff(attempt);
  else if (backoff === "constant") delay = baseDelayMs;
  else if (backoff === "linear") delay = baseDelayMs * attempt;
  else delay = baseDelayMs * growth.multiplier ** (attempt - 1);
  // A custom function may return anything: NaN or a negative delay means none.
  return Math.min(growth.maxDelayMs, delay > 0 ? delay : 0);
}
