/**
 * One timer per clock for every pending timeout.
 *
 * Deadlines with the same duration are kept in one doubly linked list: as the
 * clock is monotonic, appending keeps each list sorted, so adding and removing
 * are O(1) and the earliest deadline is the smallest list head. A single
 * `clock.schedule` is armed for that earliest deadline.
 *
 * The timer is armed lazily, a microtask after the first deadline of a burst
 * is added: an operation that settles within that microtask (the common case
 * for cached or synchronous work) costs no timer at all. The timer is
 * cancelled as soon as no deadline is pending, so an idle queue never keeps a
 * process alive or leaks a timer into a test.
 *
 * @module
 */
import type { CancelTimer, Clock } from "../clock.ts";

/** An entry of a {@link DeadlineQueue}. The queue owns the link fields. */
export interface Deadline {
  /** Absolute `clock.now()` at which {@link Deadline.expire} is due. */
  deadline: number;
  prev: Deadline | undefined;
  next: Deadline | undefined;
  list: DeadlineList | undefined;
  /** Called once, when the deadline passes while the entry is still queued. */
  expire(): void;
}

/** Deadlines of one duration, in deadline order. */
export class DeadlineList {
  head: Deadline | undefined = undefined;
  tail: Deadline | undefined = undefined;
}

/** Drop the per-duration lists when this many exist and none is in use. */
const MAX_IDLE_LISTS = 32;

/** The pending deadlines of one clock. */
export class DeadlineQueue {
  readonly #clock: Clock;
  readonly #lists = new Map<number, DeadlineList>();
  #size = 0;
  #cancelTimer: CancelTimer | undefined;
  #armedAt = Infinity;
  #checkQueued = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Deadlines pending. */
  get size(): number {
    return this.#size;
  }

  /** Queues `entry`, due at `entry.deadline`; `durationMs` picks its list. */
  add(entry: Deadline, durationMs: number): void {
    let list = this.#lists.get(durationMs);
    if (list === undefined) this.#lists.set(durationMs, list = new DeadlineList());
    entry.list = list;
    entry.next = undefined;
    entry.prev = list.tail;
    if (list.tail === undefined) list.head = entry;
    else list.tail.next = entry;
    list.tail = entry;
    this.#size++;
    if (entry.deadline < this.#armedAt && !this.#checkQueued) {
      this.#checkQueued = true;
      queueMicrotask(this.#check);
    }
  }

  /** Unqueues `entry` if it is queued. */
  remove(entry: Deadline): void {
    const list = entry.list;
    if (list === undefined) return;
    if (entry.prev === undefined) list.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) list.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.list = entry.prev = entry.next = undefined;
    if (--this.#size === 0) this.#idle();
  }

  #idle(): void {
    if (this.#cancelTimer !== undefined) {
      this.#cancelTimer();
      this.#cancelTimer = undefined;
      this.#armedAt = Infinity;
    }
    if (this.#lists.size > MAX_IDLE_LISTS) this.#lists.clear();
  }

  #earliest(): number {
    let earliest = Infinity;
    for (const list of this.#lists.values()) {
      if (list.head !== undefined && list.head.deadline < earliest) earliest = list.head.deadline;
    }
    return earliest;
  }

  #arm(at: number): void {
    this.#cancelTimer?.();
    this.#armedAt = at;
    this.#cancelTimer = this.#clock.schedule(this.#fire, at - this.#clock.now());
  }

  readonly #check = (): void => {
    this.#checkQueued = false;
    if (this.#size === 0) return;
    const earliest = this.#earliest();
    if (earliest < this.#armedAt) this.#arm(earliest);
  };

  readonly #fire = (): void => {
    this.#cancelTimer = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    // Unlink everything due first, then expire: expiring runs user code
    // (abort listeners) that may add or remove entries.
    const due: Deadline[] = [];
    for (const list of this.#lists.values()) {
      while (list.head !== undefined && list.head.deadline <= now) {
        const entry = list.head;
        this.remove(entry);
        due.push(entry);
      }
    }
    for (const entry of due) entry.expire();
    if (this.#size > 0 && this.#cancelTimer === undefined) this.#arm(this.#earliest());
  };
}

let queues: WeakMap<Clock, DeadlineQueue> | undefined;

/** The deadline queue shared by every timeout on `clock`. */
export function deadlineQueueFor(clock: Clock): DeadlineQueue {
  queues ??= new WeakMap();
  let queue = queues.get(clock);
  if (queue === undefined) queues.set(clock, queue = new DeadlineQueue(clock));
  return queue;
}
