/**
 * The FIFO of callers waiting on one limit. Internal: used by the in-process
 * limiters and by each key of a keyed limiter.
 *
 * **Reservation at enqueue.** A caller who must wait is given its grant time
 * at once: the earliest time the limit admits its units behind every
 * reservation already made, found by the algorithm's own pure `step`. The
 * reservation is committed to the limit's state there and then, so the state
 * always describes the future once everyone queued is served, and the next
 * caller's time is one `step` (or two, for rounding) away: enqueue is O(1)
 * whatever the queue's length.
 *
 * - **One timer per waiter, set once, for its grant time.** When it fires
 *   the waiter resolves itself: its units were accounted for when it was
 *   queued, so it never checks whether it is the head and never sleeps
 *   again. Waiters are granted at exactly the configured rate (measured in
 *   docs/benchmarks.md), with one timer firing per grant.
 * - **Each waiter is woken by its own timer, never by another caller's
 *   code.** On Cloudflare Workers a timer belongs to the request that set it
 *   and a promise settled from another request never resumes the one
 *   awaiting it (workerd cancels it as hung), so a limiter shared by the
 *   requests of an isolate must not hand units from one request to the
 *   next. Reservations need no hand-over at all.
 * - **Strict FIFO.** Grant times never decrease along the queue, so a large
 *   request is never overtaken by smaller ones behind it, and `tryAcquire`
 *   refuses while anyone waits (or until the last reservation's time has
 *   come). On a real clock two waiters due within the same millisecond may
 *   resume in either order; their units were reserved in order.
 * - **Timeouts are decided up front**: a caller whose reserved time would be
 *   more than `timeoutMs` away is refused at once, with that wait, and
 *   reserves nothing.
 * - **Timer jitter never loops.** `setTimeout` counts whole milliseconds
 *   from a loop time that can lag `performance.now()`, so a timer may fire
 *   a little early. A waiter woken at most {@link EARLY_MS} early takes its
 *   reservation (the state already holds it); one woken earlier than that
 *   sets one more timer for the rest, never a polling loop. (So does a wait
 *   beyond the longest timer a runtime honours, 2³¹ − 1 ms.)
 * - **Abort is O(1)**: unlink, clear the timer, remove the listener. The
 *   waiters behind keep their times (nothing may wake them earlier, see
 *   above). The aborted units are given back to whoever enqueues next: the
 *   queue also keeps the *settled* state (the limit with only the granted
 *   reservations applied); when the queue empties, that becomes the state,
 *   and once aborted reservations outnumber the live ones the state is
 *   rebuilt from it by replaying the live reservations at their times. That
 *   replay costs O(live) and happens once aborts and enqueues since the
 *   first abort number more than a quarter of the live reservations, so
 *   abort and enqueue stay amortised O(1), and the aborted reservations
 *   still held back never number more than a quarter of the live ones. (If
 *   those include the last reservation, a newcomer still queues behind its
 *   time until the next replay or until the queue empties: the price of
 *   never replaying more often than aborts and enqueues pay for.)
 *
 * @module
 */
import type { CancelTimer, Clock } from "../clock.ts";
import { RateLimitExceededError } from "../errors.ts";
import type { RateLimitAlgorithm } from "./algorithm.ts";

/**
 * The algorithms floor a refusal's wait at a nanosecond (`positiveWait`);
 * a wait that small means rounding left the units a few ulps short.
 */
const ROUNDING_WAIT_MS = 1e-6;

/**
 * The next time to try after a refusal asking for `wait` more ms. When the
 * refusal is only rounding (the first time in a search), a few ulps later
 * rather than a whole nanosecond: thousands of back-to-back reservations
 * would otherwise drift behind the configured rate. Always moves on.
 */
function later(time: number, wait: number, rounding: boolean): number {
  if (rounding && wait <= ROUNDING_WAIT_MS) return time + Math.max(Math.abs(time) * 8 * Number.EPSILON, 1e-12);
  const next = time + wait;
  return next > time ? next : time + MIN_WAIT_MS;
}

/** Smallest step when a wait vanishes against a large time: 1 µs, so the search always moves on. */
const MIN_WAIT_MS = 0.001;

/**
 * How early a waiter's timer may fire and still grant: timers count whole
 * milliseconds, so a timer set for 0.4 ms ahead fires "early" by up to one.
 */
export const EARLY_MS = 1;

/**
 * Once reservations were aborted, the queue replays its live ones (dropping
 * the aborted) after more than `length / REBUILD_RATIO` aborts and enqueues:
 * each replay of `length` steps is paid for by those calls, so abort and
 * enqueue stay O(1) amortised, and fewer than that many aborted
 * reservations are ever held back.
 */
const REBUILD_RATIO = 4;

/**
 * The longest timer runtimes honour: `setTimeout` fires a longer one at
 * once (browsers, Workers) or after 1 ms (Node). A wait beyond it takes one
 * timer per 24.8 days.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

function timerMs(ms: number): number {
  return ms < MAX_TIMER_MS ? ms : MAX_TIMER_MS;
}

/** Mutable counters a limiter shares with its queues. */
export interface Counters {
  acquired: number;
  rejected: number;
  waitedMs: number;
}

/** Whatever holds the state the queue reserves on. */
export interface StateHolder<S> {
  state: S;
}

/** What a queue needs from its limiter. */
export interface QueueContext<S extends object> {
  readonly algorithm: RateLimitAlgorithm<S>;
  readonly clock: Clock;
  readonly counters: Counters;
  readonly name: string;
}

interface Waiter {
  readonly cost: number;
  /** The reserved grant time: its timer fires then. */
  readonly at: number;
  readonly enqueuedAt: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  cancelTimer: CancelTimer | undefined;
  /** When its timer was last set. */
  armedAt: number;
  queued: boolean;
  prev: Waiter | undefined;
  next: Waiter | undefined;
}

/**
 * The earliest time >= `from` at which `state` admits `cost`, or `Infinity`.
 * Probes write only into `scratch`: `state` is untouched.
 */
export function admissionTime<S extends object>(
  algorithm: RateLimitAlgorithm<S>,
  state: S,
  from: number,
  cost: number,
  scratch: S,
): number {
  let time = from;
  let nudged = false;
  for (;;) {
    const wait = algorithm.step(state, time, cost, scratch);
    if (wait === 0 || wait === Infinity) return wait === 0 ? time : Infinity;
    time = later(time, wait, !nudged);
    if (wait <= ROUNDING_WAIT_MS) nudged = true;
  }
}

/**
 * Admits `cost` on `state` in place at `at` (or, should rounding refuse it
 * there, as soon after as it allows); returns the time it was admitted.
 * Only for times at or after every time `state` has seen, so the
 * housekeeping of a refused step changes nothing still to be decided.
 */
function commit<S extends object>(algorithm: RateLimitAlgorithm<S>, state: S, at: number, cost: number): number {
  let time = at;
  let nudged = false;
  for (;;) {
    const wait = algorithm.step(state, time, cost, state);
    if (wait === 0 || wait === Infinity) return time;
    time = later(time, wait, !nudged);
    if (wait <= ROUNDING_WAIT_MS) nudged = true;
  }
}

/** A FIFO of reservations on one {@link StateHolder}. */
export class WaitQueue<S extends object> {
  readonly #context: QueueContext<S>;
  readonly #holder: StateHolder<S>;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  #length = 0;
  /** The latest time the holder's state was stepped at by a reservation: nothing may step it earlier. */
  #horizon = -Infinity;
  /** While anyone waits: the state with only the granted reservations applied. */
  #settled: S | undefined;
  /** The latest time {@link WaitQueue.#settled} was stepped at. */
  #settledAt = -Infinity;
  /** Aborted reservations still counted in the holder's state. */
  #dead = 0;
  /** Aborts and enqueues since the first of those aborted reservations: what pays for a replay. */
  #ops = 0;

  constructor(context: QueueContext<S>, holder: StateHolder<S>) {
    this.#context = context;
    this.#holder = holder;
  }

  /** Callers waiting. */
  get length(): number {
    return this.#length;
  }

  /**
   * The state as granted so far, ignoring reservations not yet granted: what
   * "available now" means while callers wait.
   */
  get settled(): S {
    return this.#settled ?? this.#holder.state;
  }

  /**
   * Whether a caller arriving at `now` must queue: someone waits, or the
   * last reservation's time has not quite come (its timer fired early).
   */
  busy(now: number): boolean {
    return this.#length > 0 || now < this.#horizon;
  }

  /** Ms from `now` until `cost` more units could be reserved behind everyone. Reserves nothing. */
  projectedWait(cost: number, now: number, scratch: S): number {
    const at = admissionTime(this.#context.algorithm, this.#holder.state, Math.max(now, this.#horizon), cost, scratch);
    return at - now;
  }

  /**
   * Reserves `cost` units behind everyone queued and waits for them. Rejects
   * at once with {@link RateLimitExceededError}, reserving nothing, if they
   * would come more than `timeoutMs` from `now`.
   */
  enqueue(
    cost: number,
    now: number,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
    scratch: S,
  ): Promise<void> {
    const context = this.#context;
    if (this.#dead > 0) {
      this.#ops++;
      this.#replayIfPaid();
    }
    const at = admissionTime(context.algorithm, this.#holder.state, Math.max(now, this.#horizon), cost, scratch);
    if (at === Infinity || (timeoutMs !== undefined && at - now > timeoutMs)) {
      context.counters.rejected++;
      return Promise.reject(new RateLimitExceededError(at - now, context.name));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        at,
        enqueuedAt: now,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        cancelTimer: undefined,
        armedAt: now,
        queued: false,
        prev: undefined,
        next: undefined,
      };
      // Listener and timer first: if either throws (a foreign signal, a
      // broken clock), the promise rejects with nothing reserved or queued.
      if (signal !== undefined) {
        waiter.onAbort = () => this.#abort(waiter);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      try {
        waiter.cancelTimer = context.clock.schedule(() => this.#wake(waiter), timerMs(at - now));
      } catch (error) {
        if (waiter.onAbort !== undefined) signal!.removeEventListener("abort", waiter.onAbort);
        throw error;
      }
      this.#reserve(waiter, now);
    });
  }

  /**
   * The holder's state was replaced by a fresh one (a reset): the waiters
   * keep their times, so their reservations are applied to it again.
   */
  refresh(): void {
    this.#horizon = -Infinity;
    this.#dead = 0;
    if (this.#length === 0) {
      this.#settled = undefined;
      return;
    }
    this.#settled = this.#context.algorithm.clone(this.#holder.state);
    this.#settledAt = this.#context.clock.now();
    this.#rebuild();
  }

  /** Rejects every waiter with `reason`, stops their timers, and gives back what they reserved. */
  rejectAll(reason: unknown): void {
    while (this.#head !== undefined) {
      const waiter = this.#head;
      this.#unlink(waiter);
      waiter.reject(reason);
    }
    this.#settle();
  }

  #reserve(waiter: Waiter, now: number): void {
    const algorithm = this.#context.algorithm;
    const holder = this.#holder;
    if (this.#settled === undefined) {
      // The first waiter: what is granted from here on is tracked apart.
      this.#settled = algorithm.clone(holder.state);
      this.#settledAt = Math.max(now, this.#horizon);
    }
    this.#horizon = commit(algorithm, holder.state, waiter.at, waiter.cost);
    waiter.queued = true;
    waiter.prev = this.#tail;
    if (this.#tail === undefined) this.#head = waiter;
    else this.#tail.next = waiter;
    this.#tail = waiter;
    this.#length++;
  }

  /** `waiter`'s own timer fired: its units were reserved, so it takes them. */
  #wake(waiter: Waiter): void {
    waiter.cancelTimer = undefined;
    if (!waiter.queued) return;
    const context = this.#context;
    const now = context.clock.now();
    if (now < waiter.at - EARLY_MS && now > waiter.armedAt) {
      // Fired well before its time: a timer counted from a lagging loop
      // time, or one capped at the longest timer runtimes allow. Once more,
      // for the rest. A clock that fires again without time moving on is
      // taken at its word rather than polled.
      waiter.armedAt = now;
      waiter.cancelTimer = context.clock.schedule(() => this.#wake(waiter), timerMs(waiter.at - now));
      return;
    }
    this.#unlink(waiter);
    // Out-of-order firings within a millisecond are applied in time order.
    const at = waiter.at > this.#settledAt ? waiter.at : this.#settledAt;
    this.#settledAt = commit(context.algorithm, this.#settled!, at, waiter.cost);
    context.counters.acquired++;
    context.counters.waitedMs += now - waiter.enqueuedAt;
    if (this.#length === 0) this.#settle();
    waiter.resolve();
  }

  #abort(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.#unlink(waiter);
    if (this.#dead++ === 0) this.#ops = 0;
    this.#ops++;
    if (this.#length === 0) this.#settle();
    else this.#replayIfPaid();
    waiter.reject(waiter.signal!.reason);
  }

  /** Drops the aborted reservations once enough aborts and enqueues have paid for the replay. */
  #replayIfPaid(): void {
    if (this.#ops * REBUILD_RATIO > this.#length) this.#rebuild();
  }

  /** Nobody waits any more: the granted state is the state. */
  #settle(): void {
    if (this.#settled === undefined) return;
    this.#holder.state = this.#settled;
    this.#horizon = this.#settledAt;
    this.#settled = undefined;
    this.#dead = 0;
  }

  /** The state = the granted state plus every live reservation, at its time: drops the aborted ones. */
  #rebuild(): void {
    const algorithm = this.#context.algorithm;
    const state = algorithm.clone(this.#settled!);
    let time = this.#settledAt;
    for (let waiter = this.#head; waiter !== undefined; waiter = waiter.next) {
      time = commit(algorithm, state, waiter.at > time ? waiter.at : time, waiter.cost);
    }
    this.#holder.state = state;
    this.#horizon = time;
    this.#dead = 0;
    this.#ops = 0;
  }

  #unlink(waiter: Waiter): void {
    waiter.queued = false;
    waiter.cancelTimer?.();
    waiter.cancelTimer = undefined;
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    if (waiter.prev === undefined) this.#head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.#tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.#length--;
  }
}
