/**
 * Checks shared by the Cloudflare stores' constructors: the binding
 * argument, and their own options beside the common ones.
 *
 * @module
 */
import { ConfigError, type ConfigIssue, InvalidArgumentError } from "../../src/errors.ts";
import type { Binding } from "./bindings.ts";

/**
 * Throws `InvalidArgumentError` unless `binding` is a function (the lazy
 * form, called per operation) or an object with every method in `methods`.
 */
export function checkBinding<T extends object>(target: string, binding: unknown, what: string, methods: readonly string[]): Binding<T> {
  if (typeof binding === "function") return binding as () => T;
  if (
    typeof binding === "object" && binding !== null &&
    methods.every((method) => typeof (binding as Record<string, unknown>)[method] === "function")
  ) {
    return binding as T;
  }
  throw new InvalidArgumentError(target, "binding", binding, `${what} (with ${methods.join(", ")}) or a function returning one`);
}

/** One rule for an adapter's own option: `undefined` passes, `check` says whether a given value does. */
export interface OptionRule {
  readonly allowed: string;
  readonly check: (value: unknown) => boolean;
}

/** Throws `ConfigError` naming every own option of `options` that breaks its rule. */
export function checkOwnOptions(target: string, options: unknown, rules: Record<string, OptionRule>): void {
  if (typeof options !== "object" || options === null) return; // the base reports a non-object
  const issues: ConfigIssue[] = [];
  for (const [field, rule] of Object.entries(rules)) {
    const value = (options as Record<string, unknown>)[field];
    if (value !== undefined && !rule.check(value)) issues.push({ field, value, allowed: rule.allowed });
  }
  if (issues.length > 0) throw new ConfigError(target, issues);
}
