/**
 * The strategies that decide when a closed circuit opens.
 *
 * @module
 */
// By name: each strategy's module also holds its unchecked rule, the breaker's own.
export * from "./strategy.ts";
export { ConsecutiveStrategy, type ConsecutiveStrategyOptions } from "./consecutive.ts";
export { CountWindowStrategy, type CountWindowStrategyOptions } from "./count_window.ts";
export { TimeWindowStrategy, type TimeWindowStrategyOptions } from "./time_window.ts";
export type { RateRuleOptions } from "./rate_rules.ts";
