/**
 * The names of the distributed rate limits' transitions, alone: the adapters
 * that run ports of them (Redis, PostgreSQL) import this, not the limiter.
 *
 * @module
 */

/**
 * Transition names, by algorithm; engines that run ports (Redis' Lua,
 * PostgreSQL's function) look them up by these.
 *
 * @example
 * ```ts
 * import { RATE_LIMIT_TRANSITION_NAMES } from "bulwark";
 * if (RATE_LIMIT_TRANSITION_NAMES.gcra !== "bulwark.rate-limit.gcra") throw new Error("stable names");
 * ```
 */
export const RATE_LIMIT_TRANSITION_NAMES: {
  readonly "fixed-window": "bulwark.rate-limit.fixed-window";
  readonly "sliding-window": "bulwark.rate-limit.sliding-window";
  readonly "sliding-window-counter": "bulwark.rate-limit.sliding-window-counter";
  readonly "token-bucket": "bulwark.rate-limit.token-bucket";
  readonly gcra: "bulwark.rate-limit.gcra";
} = {
  "fixed-window": "bulwark.rate-limit.fixed-window",
  "sliding-window": "bulwark.rate-limit.sliding-window",
  "sliding-window-counter": "bulwark.rate-limit.sliding-window-counter",
  "token-bucket": "bulwark.rate-limit.token-bucket",
  gcra: "bulwark.rate-limit.gcra",
};
