/**
 * One timer for many deadlines of the same duration.
 *
 * Every entry of a {@link DeadlineList} expires the same `durationMs` after
 * it was added, on one monotonic clock, so the entries expire in the order
 * they were added: the oldest entry's deadline is the earliest. One timer,
 * armed for the oldest entry, bounds them all. When it fires it expires
 * every entry that is due and re-arms for the oldest left. An entry removed
 * before its deadline (the usual case: the call answered) only leaves the
 * list; the timer is not touched, and when it fires for an entry that is
 * gone it re-arms for the new oldest one, so in steady traffic the timer
 * fires about once per `durationMs`, not once per call. No deadline is ever
 * late: the timer is armed for the oldest live deadline or an earlier one.
 *
 * When the list empties, the timer is cancelled a few microtask turns later
 * unless an entry was added by then: calls made one after the other (the
 * next starting as the previous one's caller resumes) keep one timer, and
 * once the calls stop, no timer is left to keep a process alive.
 *
 * On Cloudflare Workers a timer belongs to the request that set it (and is
 * cancelled when that request ends), so one request's timer cannot serve
 * another's deadlines: there each entry gets its own timer.
 *
 * @module
 */
import type { CancelTimer, Clock } from "../clock.ts";
import { onWorkers } from "./runtime.ts";

/** An entry of a {@link DeadlineList}. The list owns every field but `expire`. */
export interface ListedDeadline {
  /** Called once, when the deadline passes while the entry is still listed. */
  expire(): void;
  /** The deadline (the clock's `now()`), while listed; `-1` otherwise. */
  deadlineAt: number;
  /** The next (younger) entry, while listed; on Workers, the entry's own timer. */
  deadlineNext: ListedDeadline | CancelTimer | undefined;
  /** The previous (older) entry, while listed. */
  deadlinePrev: ListedDeadline | undefined;
}

/** Microtask turns an empty list waits for a new entry before it cancels its timer. */
const IDLE_TURNS = 4;
/** `deadlineAt` of an entry that is not listed. */
const UNLISTED = -1;

/** Deadlines `durationMs` after each entry is added, on `clock`: one timer for all of them. */
export class DeadlineList {
  readonly #clock: Clock;
  /** How long after it is added each entry expires. */
  readonly durationMs: number;
  /** Each entry with its own timer (Workers); decided on the first entry. */
  #perEntry: boolean | undefined;
  /** The oldest entry (the earliest deadline) and the youngest. */
  #head: ListedDeadline | undefined = undefined;
  #tail: ListedDeadline | undefined = undefined;
  /** Cancels the shared timer; `undefined` when none is armed. */
  #cancel: CancelTimer | undefined = undefined;
  /** Expiring entries: an entry added meanwhile does not arm a second timer. */
  #firing = false;
  /** Microtask turns left before an empty list cancels its timer; 0: no idle check queued. */
  #idleTurns = 0;
  /** A settled promise to hop microtask turns with: cheaper than `queueMicrotask` on Node. */
  readonly #settled: Promise<void> = Promise.resolve();

  constructor(clock: Clock, durationMs: number) {
    this.#clock = clock;
    this.durationMs = durationMs;
  }

  /** Lists `entry`, to expire `durationMs` from now. It must not be listed already. */
  add(entry: ListedDeadline): void {
    if (this.#perEntry ??= onWorkers()) {
      entry.deadlineAt = 0;
      entry.deadlinePrev = undefined;
      entry.deadlineNext = this.#clock.schedule(() => {
        if (entry.deadlineAt === UNLISTED) return;
        entry.deadlineAt = UNLISTED;
        entry.deadlineNext = undefined;
        entry.expire();
      }, this.durationMs);
      return;
    }
    entry.deadlineAt = this.#clock.now() + this.durationMs;
    entry.deadlineNext = undefined;
    const tail = this.#tail;
    entry.deadlinePrev = tail;
    if (tail === undefined) this.#head = entry;
    else tail.deadlineNext = entry;
    this.#tail = entry;
    if (this.#cancel === undefined && !this.#firing) this.#cancel = this.#clock.schedule(this.#fire, this.durationMs);
  }

  /** Unlists `entry` if it is listed; its deadline will not fire. */
  remove(entry: ListedDeadline): void {
    if (entry.deadlineAt === UNLISTED) return;
    entry.deadlineAt = UNLISTED;
    if (this.#perEntry) {
      const cancel = entry.deadlineNext as CancelTimer;
      entry.deadlineNext = undefined;
      cancel();
      return;
    }
    this.#unlink(entry);
    if (this.#head === undefined && this.#cancel !== undefined) {
      if (this.#idleTurns === 0) void this.#settled.then(this.#idle);
      this.#idleTurns = IDLE_TURNS;
    }
  }

  #unlink(entry: ListedDeadline): void {
    const previous = entry.deadlinePrev;
    const next = entry.deadlineNext as ListedDeadline | undefined;
    if (previous === undefined) this.#head = next;
    else previous.deadlineNext = next;
    if (next === undefined) this.#tail = previous;
    else next.deadlinePrev = previous;
    entry.deadlineNext = entry.deadlinePrev = undefined;
  }

  /** Cancels the timer once the list has stayed empty for {@link IDLE_TURNS} turns. */
  readonly #idle = (): void => {
    if (this.#head !== undefined) {
      this.#idleTurns = 0;
      return;
    }
    if (--this.#idleTurns > 0) {
      void this.#settled.then(this.#idle);
      return;
    }
    const cancel = this.#cancel;
    this.#cancel = undefined;
    cancel?.();
  };

  /** Expires every entry that is due, then re-arms for the oldest one left. */
  readonly #fire = (): void => {
    this.#cancel = undefined;
    this.#firing = true;
    const clock = this.#clock;
    let now = clock.now();
    try {
      // An expiry may run code that adds entries (they go to the tail, due later) or removes some.
      for (let entry = this.#head; entry !== undefined && entry.deadlineAt <= now; entry = this.#head) {
        this.#unlink(entry);
        entry.deadlineAt = UNLISTED;
        entry.expire();
      }
    } finally {
      this.#firing = false;
      const head = this.#head;
      if (head !== undefined) {
        now = clock.now();
        this.#cancel = clock.schedule(this.#fire, head.deadlineAt - now);
      }
    }
  };
}
