/**
 * Fixed window: at most `limit` units per window, windows aligned to
 * multiples of `windowMs` from time 0 (epoch-aligned when driven by wall
 * time, so every process agrees on window boundaries). Cheapest of all, and
 * allows up to twice the limit across a window boundary; use the sliding
 * window when that matters.
 *
 * Pure core ({@link FixedWindow}) and in-process limiter
 * ({@link FixedWindowLimiter}) are separate; see `algorithm.ts`.
 *
 * @module
 */
import { badOptions, throwIf } from "../internal/arguments.ts";
import { lazy, strictObject, validate } from "../validation.ts";
import type { RateLimitAlgorithm } from "./algorithm.ts";
import { AlgorithmLimiter, type LimiterOptions } from "./limiter.ts";
import { limiterShape, positiveWait, windowSchema, windowShape } from "./options.ts";
import type { WindowOptions } from "./sliding_window.ts";

const limiterSchema = /* @__PURE__ */ lazy(() => strictObject({ ...windowShape(), ...limiterShape() }));

/** Plain, serializable fixed-window state. */
export interface FixedWindowState {
  /** Index of the window counted: `floor(now / windowMs)`. */
  window: number;
  /** Units admitted in it. */
  count: number;
}

/**
 * The fixed-window counter as a pure state machine.
 *
 * @example
 * ```ts
 * import { FixedWindow } from "bulwark";
 * const fixed = new FixedWindow({ limit: 1, windowMs: 1_000 });
 * const state = fixed.initial(0);
 * fixed.step(state, 200, 1, state);
 * if (fixed.step(state, 300, 1, state) !== 700) throw new Error("next window at 1000");
 * ```
 */
export class FixedWindow implements RateLimitAlgorithm<FixedWindowState> {
  readonly kind: "fixed-window" = "fixed-window";
  readonly wholeUnits: boolean = false;
  readonly limit: number;
  readonly windowMs: number;

  constructor(options: WindowOptions) {
    throwIf(badOptions("FixedWindow", options));
    const { limit, windowMs } = validate("FixedWindow", windowSchema(), options);
    this.limit = limit;
    this.windowMs = windowMs;
  }

  initial(now: number): FixedWindowState {
    return { window: Math.floor(now / this.windowMs), count: 0 };
  }

  restore(now: number, fullAt: number, used: number = this.limit): FixedWindowState {
    // The evicted window ends at fullAt, so `now` is still in it: its count, exactly.
    const state = this.initial(now);
    if (fullAt > now) state.count = Math.min(this.limit, used);
    return state;
  }

  clone(state: Readonly<FixedWindowState>): FixedWindowState {
    return { window: state.window, count: state.count };
  }

  step(state: Readonly<FixedWindowState>, now: number, cost: number, next: FixedWindowState): number {
    const window = Math.floor(now / this.windowMs);
    const count = window === state.window ? state.count : 0;
    if (count + cost <= this.limit) {
      next.window = window;
      next.count = count + cost;
      return 0;
    }
    if (cost > this.limit) return Infinity;
    const wait = (window + 1) * this.windowMs - now;
    return positiveWait(wait);
  }

  available(state: Readonly<FixedWindowState>, now: number): number {
    return Math.floor(now / this.windowMs) === state.window ? this.limit - state.count : this.limit;
  }

  resetAfter(state: Readonly<FixedWindowState>, now: number): number {
    if (state.count === 0 || Math.floor(now / this.windowMs) !== state.window) return 0;
    return (state.window + 1) * this.windowMs - now;
  }
}

/** Options of {@link FixedWindowLimiter}. */
export interface FixedWindowLimiterOptions extends WindowOptions, LimiterOptions {}

/**
 * At most `limit` units per fixed window of `windowMs`.
 *
 * @example
 * ```ts
 * import { FixedWindowLimiter } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const limiter = new FixedWindowLimiter({ limit: 100, windowMs: 60_000, clock });
 * if (!limiter.tryAcquire(100) || limiter.tryAcquire()) throw new Error("window full");
 * if (limiter.timeUntilAvailable() !== 60_000) throw new Error("next window");
 * ```
 */
export class FixedWindowLimiter extends AlgorithmLimiter<FixedWindowState> {
  declare readonly algorithm: FixedWindow;

  constructor(options: FixedWindowLimiterOptions) {
    throwIf(badOptions("FixedWindowLimiter", options));
    validate("FixedWindowLimiter", limiterSchema(), options);
    const { name, clock, wakeMode, ...window } = options;
    super(new FixedWindow(window), { name, clock, wakeMode });
  }

  /** Units counted in the current window. */
  get count(): number {
    return this.algorithm.limit - this.available;
  }
}
