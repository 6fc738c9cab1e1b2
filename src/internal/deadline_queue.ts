/**
 * Lazy deadlines: a timer only for the calls that are still pending a few
 * microtask turns after they start.
 *
 * An entry is added when its call starts. A few microtask turns later, one
 * pass over the entries added since (a burst) arms a timer for each entry
 * still pending, for its full duration; an entry removed before then costs
 * no timer and no clock read. So an operation that settles within those
 * turns (cached or synchronous work, an `async` function awaiting settled
 * values) pays one microtask per burst of calls, and a deadline can only be
 * late by those few turns, never early.
 *
 * Why a timer per pending entry, not one shared timer for the earliest
 * deadline: on Cloudflare Workers a timer belongs to the request that set
 * it, and is cancelled when that request ends; a timer set by one request
 * could not serve the deadlines of another. The pass that arms an entry's
 * timer runs in the microtask turns of the code that added it, so in its
 * request. Runtimes keep their own timers cheap (Node, for one, lists
 * timers of equal duration together), so little is lost elsewhere.
 *
 * @module
 */
import type { CancelTimer, Clock } from "../clock.ts";

/** An entry of a {@link DeadlineQueue}. The queue owns every field but `durationMs` and `expire`. */
export interface Deadline {
  /** How long after it is added the entry expires, in ms. */
  readonly durationMs: number;
  /**
   * Called once, when the deadline passes while the entry is still queued;
   * or with the error, when the clock threw as the entry's timer was set
   * (the entry has left the queue).
   */
  expire(error?: unknown): void;
  /** {@link PENDING} (added, no timer yet), {@link ARMED} or {@link DONE}. */
  deadlineState: number;
  /**
   * While in a burst (added, before the pass), the next entry of the same
   * burst; once armed, the function that cancels its timer. One field for
   * both: an entry is in a burst or armed, never both, and every call
   * allocates an entry.
   */
  deadlineLink: Deadline | CancelTimer | undefined;
}

/** Added; the timer is armed a few microtask turns later if still pending. */
export const PENDING = 1;
/** Its timer is set. */
export const ARMED = 2;
/** Removed or expired (also the state of an entry never added). */
export const DONE = 0;

/** Microtask turns between adding an entry and arming its timer. */
const ARM_AFTER_TURNS = 3;

/** The deadlines of one clock. */
export class DeadlineQueue {
  readonly #clock: Clock;
  /** Entries added since the last pass, oldest first; removed ones are skipped then. */
  #first: Deadline | undefined = undefined;
  #last: Deadline | undefined = undefined;
  /** Entries queued (pending or armed). */
  #size = 0;
  /** Microtask turns left before the queued pass runs; 0: none queued. */
  #turns = 0;
  /** A settled promise to hop microtask turns with: cheaper than `queueMicrotask` on Node. */
  readonly #settled: Promise<void> = Promise.resolve();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Entries queued. */
  get size(): number {
    return this.#size;
  }

  /** Queues `entry` to expire `entry.durationMs` from (about) now. */
  add(entry: Deadline): void {
    entry.deadlineState = PENDING;
    entry.deadlineLink = undefined;
    if (this.#last === undefined) this.#first = entry;
    else this.#last.deadlineLink = entry;
    this.#last = entry;
    this.#size++;
    if (this.#turns === 0) {
      this.#turns = ARM_AFTER_TURNS;
      void this.#settled.then(this.#pass);
    }
  }

  /** Unqueues `entry` (and cancels its timer) if it is queued. */
  remove(entry: Deadline): void {
    const state = entry.deadlineState;
    if (state === DONE) return;
    entry.deadlineState = DONE;
    this.#size--;
    if (state === ARMED) {
      const cancel = entry.deadlineLink as CancelTimer;
      entry.deadlineLink = undefined;
      cancel();
    }
  }

  /** Arms a timer for each entry of the burst still pending. */
  readonly #pass = (): void => {
    if (--this.#turns > 0 && this.#size > 0) {
      void this.#settled.then(this.#pass);
      return;
    }
    this.#turns = 0;
    let entry = this.#first;
    this.#first = this.#last = undefined;
    // Entries added while the loop runs (by an unarmable entry's abort
    // listeners) start a burst of their own: this one is already detached.
    while (entry !== undefined) {
      const next = entry.deadlineLink as Deadline | undefined;
      entry.deadlineLink = undefined;
      if (entry.deadlineState === PENDING) this.#arm(entry);
      entry = next;
    }
  };

  #arm(entry: Deadline): void {
    entry.deadlineState = ARMED;
    try {
      entry.deadlineLink = this.#clock.schedule(() => this.#fire(entry), entry.durationMs);
    } catch (error) {
      // A clock that cannot set this timer fails this entry alone: the rest
      // of the burst is still armed, and nothing rejects unhandled.
      entry.deadlineState = DONE;
      entry.deadlineLink = undefined;
      this.#size--;
      entry.expire(error);
    }
  }

  #fire(entry: Deadline): void {
    if (entry.deadlineState !== ARMED) return;
    entry.deadlineState = DONE;
    entry.deadlineLink = undefined;
    this.#size--;
    entry.expire();
  }
}

let queues: WeakMap<Clock, DeadlineQueue> | undefined;

/** The deadline queue shared by every timeout on `clock`. */
export function deadlineQueueFor(clock: Clock): DeadlineQueue {
  queues ??= new WeakMap();
  let queue = queues.get(clock);
  if (queue === undefined) queues.set(clock, queue = new DeadlineQueue(clock));
  return queue;
}
