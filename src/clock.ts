/**
 * The time seam. The core never reads time directly: every component takes a
 * {@link Clock} (default {@link systemClock}) so that tests can drive time by
 * hand with {@link ManualClock} and never wait on a real timer.
 *
 * @module
 */
import { sleepOn } from "./internal/sleep.ts";
import { scheduleTimer } from "./internal/timer.ts";

/** Cancels a callback scheduled with {@link Clock.schedule}. Idempotent. */
export type CancelTimer = () => void;

/**
 * A source of time.
 *
 * - `now()` is monotonic: use it for durations. It is meaningless across
 *   processes.
 * - `wallNow()` is epoch milliseconds: use it for anything persisted or
 *   compared across processes (breaker state saved in KV, heartbeats).
 */
export interface Clock {
  /** Monotonic milliseconds, for measuring durations. */
  now(): number;
  /** Wall-clock epoch milliseconds, for anything persisted. */
  wallNow(): number;
  /**
   * Resolves after `ms` milliseconds. If `signal` aborts first, rejects at
   * once with `signal.reason` and leaves no timer behind.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Runs `callback` once after `ms` milliseconds; returns a function that
   * cancels it. The primitive under shared deadline queues and waiters: no
   * promise and no `AbortController` per call.
   *
   * Every delay the library computes goes through here, so an
   * implementation must honour any `ms`: past 2³¹−1 ms, where a bare
   * `setTimeout` overflows and fires at once, and `Infinity`, which never
   * fires.
   */
  schedule(callback: () => void, ms: number): CancelTimer;
}

const monotonicNow = (): number => performance.now();

class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  wallNow(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal, "systemClock.sleep");
  }

  schedule(callback: () => void, ms: number): CancelTimer {
    // Timers are created only when called, never at import time (workerd
    // rejects timers in global scope). Delays past 2³¹−1 ms are waited in
    // chunks: a bare setTimeout would fire them at once.
    return scheduleTimer(callback, ms, monotonicNow);
  }
}

/**
 * The real clock: `performance.now()` and `Date.now()`, timers from the
 * runtime. Available on every supported runtime. Any delay works: one past
 * the runtime's 2³¹−1 ms timer limit (about 24.8 days) is waited in chunks,
 * and `Infinity` never fires.
 * Its `sleep` rejects with an `InvalidArgumentError`, arming no timer,
 * when `ms` is not a number (or is `NaN`) or `signal` is not an `AbortSignal`.
 *
 * @example
 * ```ts
 * import { systemClock } from "bulwark";
 * const start = systemClock.now();
 * await systemClock.sleep(1);
 * if (systemClock.now() < start) throw new Error("not monotonic");
 * ```
 */
export const systemClock: Clock = new SystemClock();

