/**
 * What lets the function forms, `retry(fn, options)` and
 * `withTimeout(fn, options)`, reuse a policy instead of building one per
 * call. They take their options afresh on every call, most often as an
 * object literal; validating those with zod and building a policy cost
 * 10–100 times the call itself. Each form keeps the few policies it built
 * last, each beside the option values it was built from, and a call whose
 * options hold the same values (compared with `===`, key for key, no other
 * key given) under the same `configure()` defaults runs the policy built
 * for them. Anything else (a new value, an unknown key, a key given as
 * `undefined`, an object that is not plain) goes through the full
 * validation, which reports a bad option as it always did.
 *
 * @module
 */

let generation = 0;

/** Called by `configure()`: policies built under the previous defaults are not reused. */
export function defaultsChanged(): void {
  generation++;
}

/** Counts `configure()` calls: a form's policy is reused only under the defaults it was built with. */
export function defaultsGeneration(): number {
  return generation;
}

/**
 * The keys of `options` but `signal` (the caller's, not the policy's), or
 * `-1` when `options` is not a plain object, whose keys `for…in` would not
 * list exactly as the policy reads them (inherited ones, a null prototype).
 */
export function policyKeyCount(options: object): number {
  if (Object.getPrototypeOf(options) !== Object.prototype) return -1;
  let count = 0;
  for (const key in options) if (key !== "signal") count++;
  return count;
}

/** How many policies each function form keeps. */
export const FORMS_KEPT = 8;
