import type { CancelTimer, Clock } from "../clock.ts";
import { sleepOn } from "../internal/sleep.ts";

interface PendingTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** Options of {@link ManualClock}. */
export interface ManualClockOptions {
  /** Initial monotonic time in ms. Default `0`. */
  now?: number;
  /** Initial wall-clock time in epoch ms. Default `Date.UTC(2025, 0, 1)`. */
  wallNow?: number;
}

/**
 * How many microtask turns {@link ManualClock.advance} lets pass after each
 * timer it fires, so that code resumed by that timer can schedule the next
 * one before the clock moves on. Deep enough for every policy chain in this
 * library; no real time passes.
 */
const MICROTASK_TURNS = 64;

async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < MICROTASK_TURNS; i++) await undefined;
}

/**
 * A clock that only moves when told to. Sleeps and scheduled callbacks fire
 * in time order (ties in scheduling order) as {@link ManualClock.advance}
 * passes their due time, each seeing `now()` equal to its own due time.
 *
 * Wall-clock time moves with the monotonic time unless set apart with
 * {@link ManualClock.setWall}, to simulate a clock jump.
 *
 * @example
 * ```ts
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * let woke = false;
 * clock.sleep(1_000).then(() => { woke = true; });
 * await clock.advance(999);
 * if (woke) throw new Error("too early");
 * await clock.advance(1);
 * if (!woke) throw new Error("should have woken");
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #wallOffset: number;
  #seq = 0;
  #timers: PendingTimer[] = [];
  /**
   * Index of the first timer not yet fired: firing moves it on rather than
   * `shift()`ing, which copies a large array every time (a test with 10⁵
   * queued waiters would spend seconds there).
   */
  #first = 0;

  constructor(options: ManualClockOptions = {}) {
    this.#now = options.now ?? 0;
    this.#wallOffset = (options.wallNow ?? Date.UTC(2025, 0, 1)) - this.#now;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#now + this.#wallOffset;
  }

  /**
   * Resolves once time has been advanced by `ms`; rejects at once with
   * `signal.reason` if the signal aborts first. An `ms` that is not a number
   * (or is `NaN`) or a `signal` that is not an `AbortSignal` rejects with an
   * `InvalidArgumentError` and schedules nothing ({@link ManualClock.pending}
   * is unchanged).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal, "ManualClock.sleep");
  }

  schedule(callback: () => void, ms: number): CancelTimer {
    const timer: PendingTimer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      callback,
      cancelled: false,
    };
    // Keep the list sorted by (at, seq); insertion from the back is cheap
    // because most timers are scheduled in increasing order.
    const timers = this.#timers;
    let i = timers.length;
    while (i > this.#first && timers[i - 1]!.at > timer.at) i--;
    if (i === timers.length) timers.push(timer);
    else timers.splice(i, 0, timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /**
   * Number of scheduled callbacks and sleeps not yet fired or cancelled:
   * read it at the end of a test to check that nothing was left armed.
   *
   * @example
   * ```ts
   * import { ManualClock } from "bulwark/testing";
   * const clock = new ManualClock();
   * const cancel = clock.schedule(() => {}, 100);
   * const armed = clock.pending;
   * cancel();
   * if (armed !== 1 || clock.pending !== 0) throw new Error("the timer should be gone");
   * ```
   */
  get pending(): number {
    let count = 0;
    const timers = this.#timers;
    for (let i = this.#first; i < timers.length; i++) if (!timers[i]!.cancelled) count++;
    return count;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way,
   * in order, and letting the code each one resumes run before the next.
   */
  advance(ms: number): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(`ManualClock.advance: ms must be a finite number >= 0, got ${ms}`);
    }
    return this.#runUntil(this.#now + ms);
  }

  /**
   * Moves monotonic time to `now` (never backwards: a monotonic clock cannot),
   * firing due timers as {@link ManualClock.advance} does.
   */
  set(now: number): Promise<void> {
    if (!(now >= this.#now) || !Number.isFinite(now)) {
      throw new RangeError(
        `ManualClock.set: time must be finite and >= the current ${this.#now}, got ${now}`,
      );
    }
    return this.#runUntil(now);
  }

  /** Sets wall-clock time (epoch ms) without moving monotonic time. */
  setWall(epochMs: number): void {
    this.#wallOffset = epochMs - this.#now;
  }

  /** Lets pending microtasks run without moving time. */
  flush(): Promise<void> {
    return drainMicrotasks();
  }

  async #runUntil(target: number): Promise<void> {
    await drainMicrotasks();
    for (;;) {
      const next = this.#timers[this.#first];
      if (next === undefined || next.at > target) break;
      this.#first++;
      if (this.#first > 1_024 && this.#first * 2 > this.#timers.length) {
        // Drop the fired prefix now and then: amortised O(1) per timer.
        this.#timers.splice(0, this.#first);
        this.#first = 0;
      }
      if (next.cancelled) continue;
      this.#now = next.at;
      next.callback();
      await drainMicrotasks();
    }
    this.#now = target;
  }
}
