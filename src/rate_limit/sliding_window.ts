/**
 * Sliding window: at most `limit` units in any `windowMs`.
 *
 * Two pure cores (see `algorithm.ts`) behind one in-process limiter
 * ({@link SlidingWindowLimiter}):
 *
 * - {@link SlidingWindowLog}, exact: a ring buffer of the admission times
 *   still in the window (one slot per unit). O(1) amortised per call;
 *   memory grows with the units admitted in the window, up to 8 bytes ×
 *   `limit`; costs must be whole numbers.
 * - {@link SlidingWindowCounter}, the two-window approximation: counts of the
 *   current and previous fixed windows, the previous one weighted by how much
 *   of it the sliding window still covers. O(1) time and three numbers of
 *   state, at the price of assuming the previous window's traffic was even.
 *
 * @module
 */
import { badOptions, throwIf } from "../internal/arguments.ts";
import { boolean, lazy, optional, strictObject, validate } from "../validation.ts";
import type { RateLimitAlgorithm } from "./algorithm.ts";
import { AlgorithmLimiter, type LimiterOptions } from "./limiter.ts";
import { limiterShape, positiveWait, windowSchema, windowShape } from "./options.ts";

const limiterSchema = /* @__PURE__ */ lazy(() => strictObject({ ...windowShape(), ...limiterShape(), approximate: optional(boolean()) }));

/** Options of the window-based algorithms. */
export interface WindowOptions {
  /** Most units admitted in any window: an integer >= 1. */
  limit: number;
  /** Window length in ms. */
  windowMs: number;
}

/** Plain, serializable state of {@link SlidingWindowLog}. */
export interface SlidingWindowLogState {
  /**
   * Ring buffer of admission times. Its length is the capacity: it starts
   * small and doubles as the window fills, up to `limit`, and drops back to
   * the starting size once the window is empty, so a lightly used limit
   * stays small however large `limit` is.
   */
  times: number[];
  /** Index of the oldest entry. */
  head: number;
  /** Entries in the ring. */
  size: number;
}

/** Capacity a log starts with (or `limit`, if smaller): 8 admission times. */
const LOG_START = 8;

/**
 * The exact sliding-window log as a pure state machine. An entry admitted at
 * `t` counts while `now - t < windowMs`. Times must not go backwards.
 *
 * Memory: one number (8 bytes) per unit admitted in the last `windowMs`, in a
 * ring that grows by doubling (at most `limit` numbers, so at most
 * `8 × limit` bytes plus the array's header) and shrinks back to 8 numbers
 * when the window empties.
 *
 * @example
 * ```ts
 * import { SlidingWindowLog } from "bulwark";
 * const log = new SlidingWindowLog({ limit: 2, windowMs: 1_000 });
 * const state = log.initial(0);
 * log.step(state, 0, 1, state);
 * log.step(state, 400, 1, state);
 * if (log.step(state, 500, 1, state) !== 500) throw new Error("the entry at 0 expires at 1000");
 * ```
 */
export class SlidingWindowLog implements RateLimitAlgorithm<SlidingWindowLogState> {
  readonly kind: "sliding-window" = "sliding-window";
  readonly wholeUnits: boolean = true;
  readonly limit: number;
  readonly windowMs: number;

  constructor(options: WindowOptions) {
    throwIf(badOptions("SlidingWindowLog", options));
    const { limit, windowMs } = validate("SlidingWindowLog", windowSchema(), options);
    this.limit = limit;
    this.windowMs = windowMs;
  }

  initial(_now: number): SlidingWindowLogState {
    return { times: new Array<number>(Math.min(this.limit, LOG_START)).fill(0), head: 0, size: 0 };
  }

  restore(now: number, fullAt: number, used: number = this.limit): SlidingWindowLogState {
    const state = this.initial(now);
    const count = Math.min(this.limit, Math.ceil(used));
    if (fullAt > now && count > 0) {
      // `used` entries that all expire at fullAt: the evicted ones expired at
      // fullAt or earlier, so this is at least as strict.
      if (count > state.times.length) state.times = new Array<number>(count);
      state.times.fill(fullAt - this.windowMs, 0, count);
      state.size = count;
    }
    return state;
  }

  clone(state: Readonly<SlidingWindowLogState>): SlidingWindowLogState {
    return { times: state.times.slice(), head: state.head, size: state.size };
  }

  step(state: Readonly<SlidingWindowLogState>, now: number, cost: number, next: SlidingWindowLogState): number {
    const times = state.times;
    const capacity = times.length;
    const cutoff = now - this.windowMs;
    let head = state.head;
    let size = state.size;
    while (size > 0 && times[head]! <= cutoff) {
      if (++head === capacity) head = 0;
      size--;
    }
    // An emptied window gives a grown ring back (the regrow below).
    if (size + cost <= capacity && (size > 0 || capacity <= LOG_START)) {
      const out = next.times;
      for (let i = 0; i < cost; i++) {
        let slot = head + size + i;
        if (slot >= capacity) slot -= capacity;
        out[slot] = now;
      }
      next.head = head;
      next.size = size + cost;
      return 0;
    }
    if (size + cost <= this.limit) {
      next.times = this.#regrow(times, head, size, size + cost, now);
      next.head = 0;
      next.size = size + cost;
      return 0;
    }
    // Housekeeping only: expired entries are dropped once, not rescanned.
    next.head = head;
    next.size = size;
    if (cost > this.limit) return Infinity;
    // Admission needs the (size + cost - limit) oldest entries gone: wait for the last of them.
    let slot = head + size + cost - this.limit - 1;
    if (slot >= capacity) slot -= capacity;
    return positiveWait(times[slot]! + this.windowMs - now);
  }

  available(state: Readonly<SlidingWindowLogState>, now: number): number {
    return this.limit - this.#live(state, now);
  }

  resetAfter(state: Readonly<SlidingWindowLogState>, now: number): number {
    if (state.size === 0) return 0;
    let newest = state.head + state.size - 1;
    if (newest >= state.times.length) newest -= state.times.length;
    const wait = state.times[newest]! + this.windowMs - now;
    return wait > 0 ? wait : 0;
  }

  /**
   * A ring holding the `size` live entries from `head`, then `needed - size`
   * admissions at `now`: doubled when it is too small, back to the starting
   * size when the window had emptied.
   */
  #regrow(times: readonly number[], head: number, size: number, needed: number, now: number): number[] {
    let capacity = size === 0 ? Math.min(this.limit, LOG_START) : times.length * 2;
    while (capacity < needed) capacity *= 2;
    if (capacity > this.limit) capacity = this.limit;
    const out = new Array<number>(capacity).fill(now);
    for (let i = 0; i < size; i++) {
      let slot = head + i;
      if (slot >= times.length) slot -= times.length;
      out[i] = times[slot]!;
    }
    return out;
  }

  /** Entries still inside the window at `now`. */
  #live(state: Readonly<SlidingWindowLogState>, now: number): number {
    const cutoff = now - this.windowMs;
    const capacity = state.times.length;
    let head = state.head;
    let size = state.size;
    while (size > 0 && state.times[head]! <= cutoff) {
      if (++head === capacity) head = 0;
      size--;
    }
    return size;
  }
}

/** Plain, serializable state of {@link SlidingWindowCounter}. */
export interface SlidingWindowCounterState {
  /** Index of the current fixed window: `floor(now / windowMs)`. */
  window: number;
  /** Units admitted in the previous window. */
  previous: number;
  /** Units admitted in the current window. */
  current: number;
}

/**
 * The two-window sliding counter as a pure state machine: the estimate at
 * `now` is `previous × (1 − elapsed fraction of the current window) +
 * current`, and a call is admitted when the estimate plus its cost fits in
 * `limit`. Windows are aligned to multiples of `windowMs` from time 0.
 *
 * @example
 * ```ts
 * import { SlidingWindowCounter } from "bulwark";
 * const counter = new SlidingWindowCounter({ limit: 10, windowMs: 1_000 });
 * const state = counter.initial(0);
 * counter.step(state, 500, 10, state);             // 10 in window 0
 * // At 1250 window 0 still weighs 75 %: 7.5 + 3 > 10, until 1300 where 70 % of 10 + 3 = 10.
 * if (counter.step(state, 1_250, 3, state) !== 50) throw new Error("due at 1300");
 * ```
 */
export class SlidingWindowCounter implements RateLimitAlgorithm<SlidingWindowCounterState> {
  readonly kind: "sliding-window" = "sliding-window";
  readonly wholeUnits: boolean = false;
  readonly limit: number;
  readonly windowMs: number;

  constructor(options: WindowOptions) {
    throwIf(badOptions("SlidingWindowCounter", options));
    const { limit, windowMs } = validate("SlidingWindowCounter", windowSchema(), options);
    this.limit = limit;
    this.windowMs = windowMs;
  }

  initial(now: number): SlidingWindowCounterState {
    return { window: Math.floor(now / this.windowMs), previous: 0, current: 0 };
  }

  restore(now: number, fullAt: number, used: number = this.limit): SlidingWindowCounterState {
    const state = this.initial(now);
    const units = Math.min(this.limit, used);
    if (fullAt <= now || units <= 0) return state;
    if (fullAt > (state.window + 1) * this.windowMs) {
      // Units were admitted in this window: hold all `used` through it; they
      // then fade over the next one, as the evicted ones do at the latest.
      state.current = units;
    } else {
      // Only the previous window's units remain, fading to 0 by this
      // window's end: weigh them so that `used` still counts now.
      const share = 1 - (now / this.windowMs - state.window);
      state.previous = units < this.limit * share ? units / share : this.limit;
    }
    return state;
  }

  clone(state: Readonly<SlidingWindowCounterState>): SlidingWindowCounterState {
    return { window: state.window, previous: state.previous, current: state.current };
  }

  step(
    state: Readonly<SlidingWindowCounterState>,
    now: number,
    cost: number,
    next: SlidingWindowCounterState,
  ): number {
    const windowMs = this.windowMs;
    const limit = this.limit;
    const position = now / windowMs;
    const window = Math.floor(position);
    let previous = 0;
    let current = 0;
    if (window === state.window) {
      previous = state.previous;
      current = state.current;
    } else if (window === state.window + 1) {
      previous = state.current;
    }
    const remainingShare = 1 - (position - window);
    if (previous * remainingShare + current + cost <= limit) {
      next.window = window;
      next.previous = previous;
      next.current = current + cost;
      return 0;
    }
    if (cost > limit) return Infinity;
    // Solve previous × (1 − f) + current + cost <= limit for the earliest f.
    let dueAt: number;
    if (current + cost > limit) {
      // Not before the next window, where `current` becomes the weighted one.
      dueAt = (window + 1 + 1 - (limit - cost) / current) * windowMs;
    } else {
      dueAt = (window + 1 - (limit - cost - current) / previous) * windowMs;
    }
    const wait = dueAt - now;
    return positiveWait(wait);
  }

  available(state: Readonly<SlidingWindowCounterState>, now: number): number {
    const position = now / this.windowMs;
    const window = Math.floor(position);
    let estimate = 0;
    if (window === state.window) estimate = state.previous * (1 - (position - window)) + state.current;
    else if (window === state.window + 1) estimate = state.current * (1 - (position - window));
    const available = this.limit - estimate;
    return available > 0 ? available : 0;
  }

  resetAfter(state: Readonly<SlidingWindowCounterState>, now: number): number {
    const end = state.current > 0
      ? (state.window + 2) * this.windowMs
      : state.previous > 0
      ? (state.window + 1) * this.windowMs
      : now;
    return end > now ? end - now : 0;
  }
}

/** Options of {@link SlidingWindowLimiter}. */
export interface SlidingWindowLimiterOptions extends WindowOptions, LimiterOptions {
  /**
   * Use the two-window counter approximation ({@link SlidingWindowCounter}):
   * O(1) memory instead of up to 8 bytes per unit of `limit`. Default `false`: the exact log.
   */
  approximate?: boolean;
}

/**
 * At most `limit` units in any sliding `windowMs` (the seeds'
 * `SlidingWindowLimiter`): exact log by default, the two-window counter with
 * `approximate: true`.
 *
 * @example
 * ```ts
 * import { SlidingWindowLimiter } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const limiter = new SlidingWindowLimiter({ limit: 3, windowMs: 1_000, clock });
 * for (let i = 0; i < 3; i++) limiter.tryAcquire();
 * if (limiter.tryAcquire()) throw new Error("window full");
 * await clock.advance(1_000);
 * if (!limiter.tryAcquire()) throw new Error("window slid");
 * ```
 */
export class SlidingWindowLimiter extends AlgorithmLimiter<SlidingWindowLogState | SlidingWindowCounterState> {
  declare readonly algorithm: SlidingWindowLog | SlidingWindowCounter;

  constructor(options: SlidingWindowLimiterOptions) {
    throwIf(badOptions("SlidingWindowLimiter", options));
    validate("SlidingWindowLimiter", limiterSchema(), options);
    const { name, clock, wakeMode, approximate, ...window } = options;
    super(approximate ? new SlidingWindowCounter(window) : new SlidingWindowLog(window), { name, clock, wakeMode });
  }

  /** Units counted in the window now (an estimate when `approximate`). */
  get count(): number {
    return this.algorithm.limit - this.available;
  }
}
