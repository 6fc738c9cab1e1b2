/** Instrumented seams for the rate-limiter queue tests: they count work, not wall time. */
import type { CancelTimer, Clock, RateLimitAlgorithm } from "../../mod.ts";
import { ManualClock } from "../../src/testing/mod.ts";

/**
 * A {@link ManualClock} that counts the timers set and fired, and can fire
 * timers `earlyMs` early, as `setTimeout` does against `performance.now()`
 * when it counts from a loop time that lags: only timers set outside a timer
 * callback (the loop time is fresh when timers run). With `tickMs`, timers
 * fire only on multiples of it, as `setTimeout`'s whole milliseconds do:
 * one set for 0.02 ms ahead fires at the next tick.
 */
export class CountingClock implements Clock {
  readonly manual: ManualClock;
  scheduled = 0;
  fired = 0;
  readonly #earlyMs: number;
  readonly #tickMs: number;
  #inTimer = false;

  constructor(earlyMs = 0, tickMs = 0) {
    this.manual = new ManualClock();
    this.#earlyMs = earlyMs;
    this.#tickMs = tickMs;
  }

  now(): number {
    return this.manual.now();
  }

  wallNow(): number {
    return this.manual.wallNow();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.manual.sleep(ms, signal);
  }

  schedule(callback: () => void, ms: number): CancelTimer {
    this.scheduled++;
    const early = this.#inTimer ? 0 : this.#earlyMs;
    let delay = Math.max(0, ms - early);
    if (this.#tickMs > 0) {
      const now = this.manual.now();
      delay = Math.ceil((now + delay) / this.#tickMs) * this.#tickMs - now;
    }
    return this.manual.schedule(() => {
      this.fired++;
      this.#inTimer = true;
      try {
        callback();
      } finally {
        this.#inTimer = false;
      }
    }, delay);
  }

  advance(ms: number): Promise<void> {
    return this.manual.advance(ms);
  }

  get pending(): number {
    return this.manual.pending;
  }
}

/** `algorithm` with a counter of the work done on it: every `step` and `clone` is one unit. */
export function counted<S extends object>(algorithm: RateLimitAlgorithm<S>): RateLimitAlgorithm<S> & { work: number } {
  const wrapper = {
    work: 0,
    kind: algorithm.kind,
    limit: algorithm.limit,
    windowMs: algorithm.windowMs,
    wholeUnits: algorithm.wholeUnits,
    initial: (now: number) => algorithm.initial(now),
    restore: (now: number, fullAt: number) => algorithm.restore(now, fullAt),
    clone(state: Readonly<S>): S {
      wrapper.work++;
      return algorithm.clone(state);
    },
    step(state: Readonly<S>, now: number, cost: number, next: S): number {
      wrapper.work++;
      return algorithm.step(state, now, cost, next);
    },
    available: (state: Readonly<S>, now: number) => algorithm.available(state, now),
    resetAfter: (state: Readonly<S>, now: number) => algorithm.resetAfter(state, now),
  };
  return wrapper;
}
