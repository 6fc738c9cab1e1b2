/**
 * `setTimeout` for any delay. Runtimes keep a timer's delay in a signed
 * 32-bit integer: a delay past 2³¹−1 ms (about 24.8 days) overflows and the
 * timer fires after about 1 ms. So a longer delay is waited in chunks, the
 * timer re-armed until the whole delay has passed.
 *
 * @module
 */
import type { CancelTimer } from "../clock.ts";

/** The longest delay `setTimeout` honours: 2³¹−1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const never: CancelTimer = () => {};

/**
 * Runs `callback` once, `ms` after now, on the runtime's timers; returns the
 * function that cancels it (at any time, between chunks too). A delay up to
 * `chunkMs` is one `setTimeout`. A longer one arms `chunkMs` at a
 * time and measures what is left on `now` (monotonic ms) at each re-arm, so
 * a late chunk never makes the whole late by more than its own lateness,
 * and nothing fires early. `Infinity` never fires and sets no timer.
 *
 * `chunkMs` is a parameter so that tests can watch the re-arming with a
 * small one.
 */
export function scheduleTimer(
  callback: () => void,
  ms: number,
  now: () => number,
  chunkMs: number = MAX_TIMER_MS,
): CancelTimer {
  if (ms === Infinity) return never;
  // `!(ms > 0)` keeps NaN on this path, where setTimeout treats it as 0, as before.
  if (!(ms > 0)) {
    const handle = setTimeout(callback, 0);
    return () => clearTimeout(handle);
  }
  // One loop for a short delay and a chunked one: each firing measures
  // what is left on `now` and re-arms for it (at most `chunkMs`). Runtimes
  // count timers in whole ms of their own clock, so one may fire up to a
  // millisecond before `now()` has moved by `ms`: a breaker asked right then
  // would still be open. Never early: re-arm for what is left.
  const due = now() + ms;
  const fire = (): void => {
    const left = due - now();
    if (left > 0) handle = setTimeout(fire, left < chunkMs ? left : chunkMs);
    else callback();
  };
  let handle = setTimeout(fire, ms < chunkMs ? ms : chunkMs);
  return () => clearTimeout(handle);
}
