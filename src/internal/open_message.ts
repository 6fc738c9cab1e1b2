/**
 * The message of an open circuit, in one place for `CircuitOpenError`'s
 * constructor and the breaker's refusals (which build the error without it).
 *
 * @module
 */

/** The message `new CircuitOpenError(breakerName, remainingMs)` builds for an open circuit. */
export function openMessage(breakerName: string, remainingMs: number): string {
  const ceiled = Math.ceil(remainingMs);
  // An int32 formats without the double-to-string path (about 0.1 µs on
  // JavaScriptCore); any other number (NaN, beyond int32) as it is.
  return `Circuit '${breakerName}' is open; next probe allowed in ${(ceiled | 0) === ceiled ? ceiled | 0 : ceiled} ms`;
}
