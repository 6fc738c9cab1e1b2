/**
 * The FIFO of callers waiting on one limit. Internal: used by the in-process
 * limiters and by each key of a keyed limiter.
 *
 * - Strict FIFO: only the head may take units, so a large request at the
 *   head is never starved by smaller ones behind it (and `tryAcquire` refuses
 *   while anyone waits).
 * - No polling: each waiter sets one timer, for exactly when its units are
 *   due (the state after everyone ahead is served, by the algorithm's own
 *   `step`), and serves itself when it fires.
 * - Each waiter is woken by its own timer, never by another caller's code.
 *   On Cloudflare Workers a timer belongs to the request that set it and a
 *   promise settled from another request never resumes the one awaiting
 *   it, so a limiter shared by the requests of an isolate could not hand
 *   units from one request to the next. The price: when a waiter ahead
 *   aborts (or the limiter is reset), those behind still wake at the time
 *   they were given, not earlier.
 * - Timeouts are decided up front: the queue keeps a projection of the state
 *   after every waiter ahead has been served, so a caller whose units would
 *   come too late is refused at once, with the wait it would have had.
 * - Aborting removes the waiter at once (O(1), a doubly linked list); it has
 *   taken nothing, so there is nothing to give back.
 *
 * @module
 */
import type { CancelTimer, Clock } from "../clock.ts";
import { RateLimitExceededError } from "../errors.ts";
import type { RateLimitAlgorithm } from "./algorithm.ts";

/**
 * Shortest timer the queue sets. Floating-point rounding can leave a head a
 * hair short of its units at the exact due time; re-arming for at least this
 * long (1 µs) guarantees progress instead of a zero-delay loop.
 */
const MIN_WAIT_MS = 0.001;

/** Mutable counters a limiter shares with its queues. */
export interface Counters {
  acquired: number;
  rejected: number;
  waitedMs: number;
}

/** Whatever holds the state the queue serves from. */
export interface StateHolder<S> {
  state: S;
}

interface Waiter {
  readonly cost: number;
  readonly enqueuedAt: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  cancelTimer: CancelTimer | undefined;
  /** When its timer fires. */
  wakeAt: number;
  queued: boolean;
  prev: Waiter | undefined;
  next: Waiter | undefined;
}

/** Admits `cost` on `state` at `at` or as soon after as possible; returns the admission time. */
function admit<S extends object>(algorithm: RateLimitAlgorithm<S>, state: S, at: number, cost: number): number {
  let time = at;
  for (;;) {
    const wait = algorithm.step(state, time, cost, state);
    if (wait === 0 || wait === Infinity) return wait === 0 ? time : Infinity;
    time += wait < MIN_WAIT_MS ? MIN_WAIT_MS : wait;
  }
}

/** A FIFO of waiters on one {@link StateHolder}. */
export class WaitQueue<S extends object> {
  readonly #algorithm: RateLimitAlgorithm<S>;
  readonly #clock: Clock;
  readonly #holder: StateHolder<S>;
  readonly #counters: Counters;
  readonly #name: string;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  #length = 0;
  /** The state once every queued waiter is served; undefined until needed, or after an abort or reset. */
  #projected: S | undefined;
  /** When the last queued waiter is served, per {@link WaitQueue.#projected}. */
  #projectedAt = 0;

  constructor(
    algorithm: RateLimitAlgorithm<S>,
    clock: Clock,
    holder: StateHolder<S>,
    counters: Counters,
    name: string,
  ) {
    this.#algorithm = algorithm;
    this.#clock = clock;
    this.#holder = holder;
    this.#counters = counters;
    this.#name = name;
  }

  /** Callers waiting. */
  get length(): number {
    return this.#length;
  }

  /**
   * Ms from `now` until `cost` more units could be served behind everyone
   * already waiting. Does not enqueue.
   */
  projectedWait(cost: number, now: number): number {
    const projected = this.#algorithm.clone(this.#projection(now));
    return admit(this.#algorithm, projected, Math.max(this.#projectedAt, now), cost) - now;
  }

  /**
   * Queues a caller for `cost` units. Rejects at once with
   * {@link RateLimitExceededError} if they would be served more than
   * `timeoutMs` from `now`.
   */
  enqueue(cost: number, now: number, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    // Keep the projection current, so timeouts and wake-up times are decided in O(1) per call.
    const projected = this.#algorithm.clone(this.#projection(now));
    // Never before the waiter ahead wakes: after an abort the projection is
    // replayed from the present, but those ahead keep their timers.
    const at = Math.max(admit(this.#algorithm, projected, Math.max(this.#projectedAt, now), cost), this.#tail?.wakeAt ?? now);
    if (at === Infinity || (timeoutMs !== undefined && at - now > timeoutMs)) {
      this.#counters.rejected++;
      return Promise.reject(new RateLimitExceededError(at - now, this.#name));
    }
    this.#projected = projected;
    this.#projectedAt = at;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        enqueuedAt: now,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        cancelTimer: undefined,
        wakeAt: at,
        queued: true,
        prev: this.#tail,
        next: undefined,
      };
      if (this.#tail === undefined) this.#head = waiter;
      else this.#tail.next = waiter;
      this.#tail = waiter;
      this.#length++;
      if (signal !== undefined) {
        waiter.onAbort = () => this.#abort(waiter);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#sleep(waiter, at - now, now);
    });
  }

  /** The state changed behind the queue's back (a reset): forget the projection. */
  refresh(): void {
    this.#projected = undefined;
  }

  /** Rejects every waiter with `reason` and stops their timers. */
  rejectAll(reason: unknown): void {
    this.#projected = undefined;
    while (this.#head !== undefined) {
      const waiter = this.#head;
      this.#unlink(waiter);
      waiter.reject(reason);
    }
  }

  #projection(now: number): S {
    if (this.#projected !== undefined) return this.#projected;
    // Replay: serve every waiter, in order, on a copy of the current state.
    const projected = this.#algorithm.clone(this.#holder.state);
    let at = now;
    for (let waiter = this.#head; waiter !== undefined; waiter = waiter.next) {
      at = admit(this.#algorithm, projected, at, waiter.cost);
    }
    this.#projected = projected;
    this.#projectedAt = at;
    return projected;
  }

  /** Sets `waiter`'s timer: it runs in the waiter's own context (its request, on Workers). */
  #sleep(waiter: Waiter, ms: number, now: number): void {
    const wait = ms < MIN_WAIT_MS ? MIN_WAIT_MS : ms;
    waiter.wakeAt = now + wait;
    waiter.cancelTimer = this.#clock.schedule(() => this.#wake(waiter), wait);
  }

  /** `waiter`'s timer fired: it serves itself if it is the head and its units are there, else sleeps again. */
  #wake(waiter: Waiter): void {
    waiter.cancelTimer = undefined;
    if (!waiter.queued) return;
    const now = this.#clock.now();
    const holder = this.#holder;
    if (waiter === this.#head) {
      const wait = this.#algorithm.step(holder.state, now, waiter.cost, holder.state);
      if (wait === 0) {
        this.#unlink(waiter);
        if (this.#head === undefined) this.#projected = undefined;
        this.#counters.acquired++;
        this.#counters.waitedMs += now - waiter.enqueuedAt;
        waiter.resolve();
        return;
      }
      this.#sleep(waiter, wait, now);
      return;
    }
    // Woken before the one ahead was served (their timers were due at the
    // same time, or the one ahead had to sleep again): check again just
    // after it wakes.
    this.#sleep(waiter, waiter.prev!.wakeAt - now, now);
  }

  #abort(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.#unlink(waiter);
    this.#projected = undefined;
    waiter.reject(waiter.signal!.reason);
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
