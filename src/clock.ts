/**
 * The time seam. The core never reads time directly: every component takes a
 * {@link Clock} (default {@link systemClock}) so that tests can drive time by
 * hand with {@link ManualClock} and never wait on a real timer.
 *
 * @module
 */
import { sleepOn } from "./internal/sleep.ts";

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
   */
  schedule(callback: () => void, ms: number): CancelTimer;
}

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
    // rejects timers in global scope).
    const handle = setTimeout(callback, Math.max(0, ms));
    return () => clearTimeout(handle);
  }
}

/**
 * The real clock: `performance.now()` and `Date.now()`, timers from the
 * runtime. Available on every supported runtime. Its `sleep` rejects with an
 * `InvalidArgumentError`, arming no timer, when `ms` is not a finite number
 * or `signal` is not an `AbortSignal`.
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

