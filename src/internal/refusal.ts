/**
 * The open circuit's refusal, built for the rate an open circuit sees.
 *
 * A stack trace costs V8 per frame it walks, frames it skips included: a
 * `CircuitOpenError` built by its constructor from three calls deep
 * (its constructor and `ResilienceError`'s, then the breaker's helpers)
 * cost about twice a plain `new Error()` in the caller's frame
 * (docs/benchmarks.md). So the breaker builds the refusal with
 * {@link refusalError} (an `Error` born with the class's prototype, its
 * trace starting at `execute`), and this gives it the fields the
 * constructor would have: same prototype (so
 * `instanceof`, `name` and `retryAfterMs` hold), same own fields in the
 * same order (`code`, `name`, `breakerName`, `remainingMs`), and a stack
 * trace whose first frame is `execute`, then the caller's. V8 formats
 * `stack` on first read, so its header reads `CircuitOpenError: …` too.
 *
 * One error per refusal, never a shared one: callers attach things to
 * errors (a `cause` chain, logging context), and a stack that points at
 * another call misleads.
 *
 * @module
 */
import { CircuitOpenError } from "../errors.ts";

/** What `error` becomes: the fields the constructor sets, writable as it leaves them. */
interface Fields {
  code: string;
  name: string;
  breakerName: string;
  remainingMs: number;
}

/**
 * `new Error(message, options)` born with `CircuitOpenError.prototype`, its
 * stack trace starting at the caller: no `Object.setPrototypeOf` after the
 * fact, which cost JavaScriptCore (Bun) 25–65 ns per refusal
 * (docs/benchmarks.md).
 *
 * `Reflect.construct(Error, …, newTarget)` takes the prototype from
 * `newTarget.prototype`, and V8 starts the trace after the frame of
 * `newTarget` when it is a plain function: this one, so the first frame is
 * the caller's (`execute`). A class that is not on the stack as
 * `newTarget` would leave V8 no frame at all, and Bun no `stack`.
 */
export function refusalError(message: string, options: { cause: unknown } | undefined): Error {
  // Set on first use, not at import: a module only declares.
  if (refusalError.prototype !== CircuitOpenError.prototype) refusalError.prototype = CircuitOpenError.prototype;
  return Reflect.construct(Error, [message, options], refusalError) as Error;
}

/** Gives `error`, just built by {@link refusalError}, the fields `CircuitOpenError`'s constructor sets. */
export function asCircuitOpenError(error: Error, breakerName: string, remainingMs: number): CircuitOpenError {
  const fields = error as unknown as Fields;
  fields.code = "ERR_CIRCUIT_OPEN";
  fields.name = "CircuitOpenError";
  fields.breakerName = breakerName;
  fields.remainingMs = Math.ceil(remainingMs);
  return error as CircuitOpenError;
}

/** The message `new CircuitOpenError(breakerName, remainingMs)` builds for an open circuit. */
export function openMessage(breakerName: string, remainingMs: number): string {
  const ceiled = Math.ceil(remainingMs);
  // An int32 formats without the double-to-string path (about 0.1 µs on JavaScriptCore).
  return `Circuit '${breakerName}' is open; next probe allowed in ${ceiled <= 0x7fffffff ? ceiled | 0 : ceiled} ms`;
}
