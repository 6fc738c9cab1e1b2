/**
 * Checks of positional arguments at call time. A `typeof` or an
 * `instanceof`-free shape test each: nothing measurable on a hot path, and
 * nothing to allocate unless the argument is wrong.
 *
 * Convention: a call that returns a promise rejects with the error (so a
 * caller's `catch` sees it like any other failure of the call); a call that
 * returns synchronously (constructors, `wrap`, `tryAcquire`) throws it.
 * Either way the call has touched no state.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** What the messages say a signal must be. */
const SIGNAL = "an AbortSignal or undefined";

/**
 * True for an `AbortSignal`, checked by shape so that signals from another
 * realm (an iframe, a test runner's VM) pass, and cheap enough for every call.
 */
export function isSignal(value: unknown): value is AbortSignal {
  return typeof value === "object" && value !== null &&
    typeof (value as AbortSignal).aborted === "boolean" &&
    typeof (value as AbortSignal).addEventListener === "function" &&
    typeof (value as AbortSignal).removeEventListener === "function";
}

/** The error for `fn` that is not a function, or `undefined` when it is one. */
export function badFunction(target: string, fn: unknown, argument = "fn"): InvalidArgumentError | undefined {
  return typeof fn === "function" ? undefined : new InvalidArgumentError(target, argument, fn, "a function");
}

/** The error for `value` that is not a string (a name, a key), or `undefined` when it is one. */
export function badString(target: string, value: unknown, argument: string): InvalidArgumentError | undefined {
  return typeof value === "string" ? undefined : new InvalidArgumentError(target, argument, value, "a string");
}

/** The error for a `signal` that is neither undefined nor an `AbortSignal`, or `undefined` when it is fine. */
export function badSignal(target: string, signal: unknown, argument = "signal"): InvalidArgumentError | undefined {
  return signal === undefined || isSignal(signal) ? undefined : new InvalidArgumentError(target, argument, signal, SIGNAL);
}

/** The error for the `(fn, signal)` pair every `execute` takes, or `undefined` when both are fine. */
export function badCall(target: string, fn: unknown, signal: unknown): InvalidArgumentError | undefined {
  return badFunction(target, fn) ?? badSignal(target, signal);
}

/**
 * The error for an options argument that is not a plain object (a number
 * where `{ timeoutMs }` belongs, `null`, a string), or `undefined` when it
 * is an object or absent.
 */
export function badOptions(target: string, options: unknown, argument = "options"): InvalidArgumentError | undefined {
  return options === undefined || (typeof options === "object" && options !== null && !Array.isArray(options))
    ? undefined
    : new InvalidArgumentError(target, argument, options, "an options object or undefined");
}

/** Throws `error` if there is one (for calls that return synchronously). */
export function throwIf(error: InvalidArgumentError | undefined): void {
  if (error !== undefined) throw error;
}
