/**
 * Checks shared by the Cloudflare stores' constructors: the binding
 * argument (their own options are schemas of src/validation.ts handed to the base).
 *
 * @module
 */
import { InvalidArgumentError } from "../../src/errors.ts";
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
