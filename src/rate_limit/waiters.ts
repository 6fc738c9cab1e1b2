/**
 * The FIFO of callers waiting on one limit. Internal: used by the in-process
 * limiters and by each key of a keyed limiter.
 *
 * - Strict FIFO: only the head may take units, so a large request at the
 *   head is never starved by smaller ones behind it (and `tryAcquire` refuses
 *   while anyone waits).
 * - No polling: one clock timer at a time, set for exactly when the head's
 *   units are due according to the algorithm's own `step`.
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
  #cancelTimer: CancelTimer | undefined;
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
    if (timeoutMs !== undefined || this.#projected !== undefined) {
      // Keep the projection current, so timeouts are decided in O(1) per call.
      const projected = this.#algorithm.clone(this.#projection(now));
      const at = admit(this.#algorithm, projected, Math.max(this.#projectedAt, now), cost);
      if (timeoutMs !== undefined && at - now > timeoutMs) {
        this.#counters.rejected++;
        return Promise.reject(new RateLimitExceededError(at - now, this.#name));
      }
      this.#projected = projected;
      this.#projectedAt = at;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        enqueuedAt: now,
        resolve,
        reject,
        signal,
        onAbort: undefined,
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
      if (this.#length === 1) this.#pump();
    });
  }

  /** The state changed behind the queue's back (a reset): re-plan. */
  refresh(): void {
    this.#projected = undefined;
    if (this.#length > 0) this.#pump();
  }

  /** Rejects every waiter with `reason` and stops the timer. */
  rejectAll(reason: unknown): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
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

  readonly #onTimer = (): void => {
    this.#cancelTimer = undefined;
    this.#pump();
  };

  /** Serves the head for as long as its units are there, then sleeps until the next head's are due. */
  #pump(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const now = this.#clock.now();
    const holder = this.#holder;
    for (let head = this.#head; head !== undefined; head = this.#head) {
      const wait = this.#algorithm.step(holder.state, now, head.cost, holder.state);
      if (wait !== 0) {
        this.#cancelTimer = this.#clock.schedule(this.#onTimer, wait < MIN_WAIT_MS ? MIN_WAIT_MS : wait);
        return;
      }
      this.#unlink(head);
      this.#counters.acquired++;
      this.#counters.waitedMs += now - head.enqueuedAt;
      head.resolve();
    }
    this.#projected = undefined;
  }

  #abort(waiter: Waiter): void {
    if (!waiter.queued) return;
    const wasHead = waiter === this.#head;
    this.#unlink(waiter);
    this.#projected = undefined;
    waiter.reject(waiter.signal!.reason);
    // A smaller request behind an aborted head may be servable right now.
    if (wasHead) this.#pump();
  }

  #unlink(waiter: Waiter): void {
    waiter.queued = false;
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    if (waiter.prev === undefined) this.#head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.#tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.#length--;
  }
}
