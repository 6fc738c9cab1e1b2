/**
 * The one small interface every in-process rate limiter implements, and the
 * class that implements it for any {@link RateLimitAlgorithm}: it owns the
 * state, the clock, the FIFO of waiters and the stats, while the algorithm
 * stays a pure state machine (see `algorithm.ts`). `RateLimiter`,
 * `GcraLimiter`, `SlidingWindowLimiter` and `FixedWindowLimiter` are this
 * class with their algorithm's options.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { InvalidArgumentError, RateLimitExceededError } from "../errors.ts";
import { contextFor, type Operation, type Policy } from "../policy.ts";
import { lazy, strictObject, validate } from "../validation.ts";
import type { RateLimitAlgorithm, RateLimitDecision } from "./algorithm.ts";
import { badCall, badOptions, throwIf } from "../internal/arguments.ts";
import { availableIn, type Cell, type CellContext, decideOn, take, tryTake, waitFor } from "./cell.ts";
import { badAcquire, badCost, limiterShape, wakeModeOf } from "./options.ts";
import type { Counters } from "./waiters.ts";

const limiterSchema = /* @__PURE__ */ lazy(() => strictObject(limiterShape()));

/** Options of {@link Limiter.acquire}. */
export interface AcquireOptions {
  /**
   * Units to take: a finite number > 0, at most the algorithm's limit (whole
   * for the sliding-window log). Default `1`; `null` is refused, as by
   * `tryAcquire(null)`.
   */
  cost?: number;
  /**
   * Longest acceptable wait in ms. If the units would come later, `acquire`
   * rejects at once with {@link RateLimitExceededError} (carrying the wait it
   * would have had). Default: wait as long as needed.
   */
  timeoutMs?: number;
  /**
   * Aborting removes the caller from the queue at once (O(1)); it rejects
   * with the signal's reason. Its units go to the callers behind it
   * (`wakeMode: "handover"`) or to whoever queues next (`"self"`; see
   * {@link LimiterOptions.wakeMode}).
   */
  signal?: AbortSignal;
}

/** Counters of a limiter since it was created. */
export interface RateLimiterStats {
  /** Acquisitions granted (immediately or after waiting). */
  readonly totalAcquired: number;
  /** Acquisitions refused (`tryAcquire` false, `consume` not allowed, timeout decided up front). */
  readonly totalRejected: number;
  /** Total ms granted callers spent waiting. */
  readonly totalWaitedMs: number;
}

/**
 * How callers waiting in `acquire` are woken (see
 * {@link LimiterOptions.wakeMode}).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 1, clock, wakeMode: "handover" });
 * limiter.tryAcquire();
 * const gaveUp = new AbortController();
 * void limiter.acquire({ signal: gaveUp.signal }).catch(() => {}); // due at 100 ms
 * let grantedAt = -1;
 * void limiter.acquire().then(() => (grantedAt = clock.now())); // due at 200 ms
 * gaveUp.abort();
 * await clock.advance(200);
 * if (grantedAt !== 100) throw new Error("the caller behind takes the aborted slot");
 * ```
 */
export type WakeMode = "handover" | "self";

/** Options every in-process limiter takes. */
export interface LimiterOptions {
  /** Name used in errors and headers. Default: the algorithm's name. */
  name?: string;
  /** Time source. Default {@link systemClock}. */
  clock?: Clock;
  /**
   * How callers waiting in `acquire` are woken. Either way they are served
   * in FIFO order, a caller whose wait would pass its `timeoutMs` is refused
   * at once, and `tryAcquire` refuses while anyone waits.
   *
   * - `"handover"`: one timer per queue, for the first caller's due time;
   *   when it fires it grants every caller whose units have come, in order,
   *   and sets one timer for the next. A caller that aborts leaves its units
   *   to those behind it at once, so the limit delivers its configured rate
   *   however many abort (100,000 callers at 50,000/s with half aborted:
   *   the 50,000 left are granted in 1 s). Callers are woken by the code of
   *   whoever ran the timer: not possible on Cloudflare Workers (safe there
   *   only for a limiter that serves a single request).
   * - `"self"`: each caller reserves its grant time when it queues and is
   *   woken by its own timer then, never by another caller's code: the only
   *   mode that works for a limiter shared by the requests of a Workers
   *   isolate. The price: one timer per waiting caller, and the callers
   *   behind an aborted one keep their times, so its units go only to
   *   callers who queue later. With half of 100,000 callers at 50,000/s
   *   aborted, the 50,000 left are granted at 25,000/s (2 s, not 1); with
   *   the first 500 of 1,000 callers at 1,000/s aborted, the rest wait
   *   0.5 s behind their empty slots and a newcomer 0.97 s, not 0.5 s
   *   (measured in docs/benchmarks.md).
   *
   * Default: `"self"` on Cloudflare Workers (`navigator.userAgent` is
   * `"Cloudflare-Workers"`, read when the limiter is built), `"handover"`
   * elsewhere; a value given here or to `configure({ rateLimiter })` wins on
   * every runtime.
   */
  wakeMode?: WakeMode;
}

/**
 * What every in-process rate limiter offers, whatever its algorithm, so a
 * caller can switch algorithms by name (see `createRateLimiter`). It is a
 * {@link Policy}: `execute` acquires one unit, then runs the function.
 */
export interface Limiter extends Policy, Disposable {
  /** Name used in errors and headers. */
  readonly name: string;
  /** The pure algorithm deciding admissions. */
  readonly algorithm: RateLimitAlgorithm;
  /**
   * Units that could be taken now were nobody waiting (may be fractional):
   * what the grants so far leave, not counting units waiters have reserved.
   */
  readonly available: number;
  /** Callers currently waiting in `acquire`. */
  readonly waiting: number;
  /** How waiting callers are woken (see {@link LimiterOptions.wakeMode}). */
  readonly wakeMode: WakeMode;
  /** Counters since creation. */
  readonly stats: RateLimiterStats;
  /**
   * Takes `cost` units if they are there and nobody is waiting; never waits.
   * Throws {@link InvalidArgumentError} for a bad `cost`.
   */
  tryAcquire(cost?: number): boolean;
  /**
   * Takes units, waiting in FIFO order until they are due (woken as
   * {@link Limiter.wakeMode} says). Rejects with {@link InvalidArgumentError},
   * queueing nothing, for options that are not an object or hold a bad
   * `cost`, `timeoutMs` or `signal`.
   */
  acquire(options?: AcquireOptions): Promise<void>;
  /** Like {@link Limiter.tryAcquire}, returning the full decision (for HTTP headers). */
  consume(cost?: number): RateLimitDecision;
  /** Ms until `cost` units could be taken, behind everyone waiting (0 if now). */
  timeUntilAvailable(cost?: number): number;
  /**
   * Back to the initial state (full). Callers already waiting are served
   * from it first, in order: at once with `wakeMode: "handover"`; at the
   * times they reserved with `"self"` (nothing may wake them earlier), and
   * newcomers behind them from the fresh state.
   */
  reset(): void;
}

/**
 * A rate limiter for any {@link RateLimitAlgorithm}. Use it directly to run a
 * custom algorithm, or through `RateLimiter`, `GcraLimiter`,
 * `SlidingWindowLimiter`, `FixedWindowLimiter`.
 *
 * `tryAcquire(1)` with nobody waiting reads the clock once, runs the
 * algorithm's `step` in place and allocates nothing.
 *
 * @example
 * ```ts
 * import { AlgorithmLimiter, FixedWindow } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const limiter = new AlgorithmLimiter(new FixedWindow({ limit: 2, windowMs: 1_000 }), { clock });
 * limiter.tryAcquire();
 * limiter.tryAcquire();
 * if (limiter.tryAcquire()) throw new Error("limit exceeded");
 * await clock.advance(1_000);
 * if (!limiter.tryAcquire()) throw new Error("new window");
 * ```
 */
export class AlgorithmLimiter<S extends object> implements Limiter {
  readonly name: string;
  readonly algorithm: RateLimitAlgorithm<S>;
  readonly wakeMode: WakeMode;
  readonly #context: CellContext<S>;
  readonly #cell: Cell<S>;
  /** Write-only target of `timeUntilAvailable`, so asking allocates nothing. */
  readonly #scratch: S;
  readonly #clock: Clock;
  readonly #counters: Counters = { acquired: 0, rejected: 0, waitedMs: 0 };
  /** The class name, for argument errors. */
  readonly #owner: string;

  constructor(algorithm: RateLimitAlgorithm<S>, options: LimiterOptions = {}) {
    throwIf(
      (typeof algorithm !== "object" || algorithm === null || typeof algorithm.step !== "function"
        ? new InvalidArgumentError("AlgorithmLimiter", "algorithm", algorithm, "a RateLimitAlgorithm (e.g. new TokenBucket())")
        : undefined) ?? badOptions("AlgorithmLimiter", options),
    );
    const parsed = validate("AlgorithmLimiter", limiterSchema(), options);
    this.#owner = new.target.name;
    this.algorithm = algorithm;
    this.name = parsed.name ?? algorithm.kind;
    this.#clock = parsed.clock ?? systemClock;
    this.wakeMode = wakeModeOf(parsed.wakeMode);
    this.#context = {
      algorithm,
      clock: this.#clock,
      counters: this.#counters,
      name: this.name,
      wakeMode: this.wakeMode,
    };
    const now = this.#clock.now();
    this.#cell = { state: algorithm.initial(now), queue: undefined };
    this.#scratch = algorithm.initial(now);
  }

  get available(): number {
    return availableIn(this.#context, this.#cell, this.#clock.now());
  }

  get waiting(): number {
    return this.#cell.queue === undefined ? 0 : this.#cell.queue.length;
  }

  get stats(): RateLimiterStats {
    const c = this.#counters;
    return { totalAcquired: c.acquired, totalRejected: c.rejected, totalWaitedMs: c.waitedMs };
  }

  tryAcquire(cost = 1): boolean {
    if (cost !== 1) throwIf(badCost(this.#owner, "tryAcquire", this.algorithm, cost));
    return tryTake(this.#context, this.#cell, this.#clock.now(), cost);
  }

  acquire(options?: AcquireOptions): Promise<void> {
    const error = badAcquire(this.#owner, "acquire", this.algorithm, options);
    if (error !== undefined) return Promise.reject(error);
    return take(this.#context, this.#cell, options?.cost ?? 1, options?.timeoutMs, options?.signal);
  }

  consume(cost = 1): RateLimitDecision {
    if (cost !== 1) throwIf(badCost(this.#owner, "consume", this.algorithm, cost));
    return decideOn(this.#context, this.#cell, this.#clock.now(), cost);
  }

  timeUntilAvailable(cost = 1): number {
    if (cost !== 1) throwIf(badCost(this.#owner, "timeUntilAvailable", this.algorithm, cost));
    return waitFor(this.#context, this.#cell, this.#clock.now(), cost, this.#scratch);
  }

  reset(): void {
    this.#cell.state = this.algorithm.initial(this.#clock.now());
    this.#cell.queue?.refresh();
  }

  async execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    // Checked before anything is queued; the common call pays one typeof.
    if (typeof fn !== "function" || signal !== undefined) throwIf(badCall(`${this.#owner}.execute`, fn, signal));
    await this.acquire(signal === undefined ? undefined : { signal });
    return await fn(contextFor(signal));
  }

  /** Rejects every waiting caller with a {@link RateLimitExceededError}; the limiter stays usable. */
  [Symbol.dispose](): void {
    this.#cell.queue?.rejectAll(
      new RateLimitExceededError(Infinity, this.name, `Rate limiter '${this.name}' was disposed while callers waited`),
    );
  }
}
