/**
 * The open circuit's refusal, built for the rate an open circuit sees.
 *
 * A stack trace costs V8 per frame it walks, frames it skips included: a
 * `CircuitOpenError` built by its constructor from three calls deep
 * (its constructor and `ResilienceError`'s, then the breaker's helpers)
 * cost about twice a plain `new Error()` in the caller's frame
 * (docs/benchmarks.md). So the breaker builds the refusal as a plain
 * `new Error(message)` in the very frame of `execute`, and this gives it
 * the class and fields the constructor would have: same prototype (so
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

/** Turns `error`, just built as `new Error(message)`, into the `CircuitOpenError` its constructor would build. */
export function asCircuitOpenError(error: Error, breakerName: string, remainingMs: number): CircuitOpenError {
  Object.setPrototypeOf(error, CircuitOpenError.prototype);
  const fields = error as unknown as Fields;
  fields.code = "ERR_CIRCUIT_OPEN";
  fields.name = "CircuitOpenError";
  fields.breakerName = breakerName;
  fields.remainingMs = Math.ceil(remainingMs);
  return error as CircuitOpenError;
}
