/**
 * Delays between retry attempts: a backoff shape, a cap and a jitter.
 *
 * @module
 */
import { grownDelay } from "./internal/growth.ts";

/** Built-in backoff shapes. */
export type BackoffKind = "constant" | "linear" | "exponential";

/**
 * A custom backoff: the delay in ms before the next attempt, given the
 * number (1-based) of the attempt that just failed.
 */
export type BackoffFunction = (attempt: number) => number;

/**
 * How delays are randomised, so that many clients failing together do not
 * retry together (see "Exponential Backoff And Jitter", AWS Architecture
 * Blog, 2015):
 * - `"none"`: the backoff delay as is;
 * - `"full"`: uniform in `[0, delay)`;
 * - `"equal"`: uniform in `[delay / 2, delay)`;
 * - `"decorrelated"`: uniform in `[baseDelayMs, 3 × previous delay)`,
 *   whatever the backoff shape.
 */
export type Jitter = "none" | "full" | "equal" | "decorrelated";

/** What {@link backoffDelay} needs. */
export interface BackoffOptions {
  readonly backoff: BackoffKind | BackoffFunction;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Growth factor of `"exponential"`. */
  readonly multiplier: number;
  readonly jitter: Jitter;
  /** Uniform random numbers in `[0, 1)`; called only when jitter needs one. */
  readonly random: () => number;
}

/**
 * The delay in ms before the attempt after `attempt` (1-based number of the
 * attempt that just failed): shape, then cap at `maxDelayMs`, then jitter.
 * `previousDelayMs` is the delay returned for the previous attempt (only
 * `"decorrelated"` jitter uses it; pass `baseDelayMs` for the first).
 *
 * @example
 * ```ts
 * import { backoffDelay } from "bulwark";
 * const options = {
 *   backoff: "exponential", baseDelayMs: 100, maxDelayMs: 1_000,
 *   multiplier: 2, jitter: "none", random: Math.random,
 * } as const;
 * const delays = [1, 2, 3, 4, 5].map((attempt) => backoffDelay(options, attempt, 100));
 * if (delays.join() !== "100,200,400,800,1000") throw new Error(delays.join());
 * ```
 */
export function backoffDelay(options: BackoffOptions, attempt: number, previousDelayMs: number): number {
  // `backoff` is read first, as it always was: a call without options
  // fails with the same TypeError ("Cannot destructure property 'backoff'").
  const { backoff: _, baseDelayMs, maxDelayMs, jitter } = options;
  if (jitter === "decorrelated") {
    const high = Math.min(maxDelayMs, Math.max(baseDelayMs, previousDelayMs * 3));
    const low = Math.min(baseDelayMs, high);
    return low + options.random() * (high - low);
  }
  const delay = grownDelay(options, attempt);
  if (jitter === "full") return options.random() * delay;
  if (jitter === "equal") return delay / 2 + options.random() * (delay / 2);
  return delay;
}
