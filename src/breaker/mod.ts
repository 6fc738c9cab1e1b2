/**
 * The strategies that decide when a closed circuit opens.
 *
 * @module
 */
export * from "./strategy.ts";
export * from "./consecutive.ts";
export * from "./count_window.ts";
export * from "./time_window.ts";
export type { RateRuleOptions } from "./rate_rules.ts";
