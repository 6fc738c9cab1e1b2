/**
 * One timer per clock for every pending timeout.
 *
 * Deadlines of the same duration are kept in one doubly linked list: as the
 * clock is monotonic, appending keeps each list sorted, so adding and removing
 * are O(1) and the earliest deadline is the smallest list head. A single
 * `clock.schedule` is armed for that earliest deadline.
 *
 * Entries are stamped lazily: a few microtask turns after the first entry of
 * a burst is added, one clock read stamps every entry of the burst still
 * pending (deadline = that time + its duration), and the timer is armed if
 * needed. An operation that settles within those turns (cached or
 * synchronous work, an `async` function awaiting settled values) costs no
 * clock read and no timer; on virtual machines, where reading the clock can
 * cost as much as the call itself, this matters. A deadline can only be late
 * by those few microtask turns, never early.
 *
 * The timer is cancelled as soon as no entry is pending, so an idle queue
 * never keeps a process alive or leaks a timer into a test.
 *
 * @module
 */
import type { CancelTimer, Clock } from "../clock.ts";

/** An entry of a {@link DeadlineQueue}. The queue owns every field but `expire`. */
export interface Deadline {
  /** `clock.now()` at which {@link Deadline.expire} is due; `NaN` until stamped. */
  deadline: number;
  prev: Deadline | undefined;
  next: Deadline | undefined;
  list: DeadlineList | undefined;
  /** Called once, when the deadline passes while the entry is still queued. */
  expire(): void;
}

/**
 * Entries of one duration, in deadline order; unstamped ones at the tail.
 * A timeout policy keeps its list, so adding costs no lookup.
 */
class DeadlineList {
  readonly durationMs: number;
  head: Deadline | undefined = undefined;
  tail: Deadline | undefined = undefined;
  /** In the queue's set of lists (the queue drops idle lists when it has many). */
  registered = false;

  constructor(durationMs: number) {
    this.durationMs = durationMs;
  }
}

export type { DeadlineList };

/** Microtask turns between adding an entry and stamping it. */
const STAMP_AFTER_TURNS = 3;

/** Drop the per-duration lists when this many exist and none is in use. */
const MAX_IDLE_LISTS = 32;

/** The pending deadlines of one clock. */
export class DeadlineQueue {
  readonly #clock: Clock;
  /** The lists to stamp and expire. */
  readonly #lists = new Set<DeadlineList>();
  /** The list handed out for each duration, so that policies of one duration share it. */
  readonly #byDuration = new Map<number, DeadlineList>();
  #size = 0;
  #cancelTimer: CancelTimer | undefined = undefined;
  #armedAt = Infinity;
  /** Microtask turns left before the queued stamp runs; 0: none queued. */
  #stampTurns = 0;
  /** A settled promise to hop microtask turns with: cheaper than `queueMicrotask` on Node. */
  readonly #settled: Promise<void> = Promise.resolve();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Entries pending. */
  get size(): number {
    return this.#size;
  }

  /** The list for entries of `durationMs`: look it up once, add to it often. */
  listFor(durationMs: number): DeadlineList {
    let list = this.#byDuration.get(durationMs);
    if (list === undefined) this.#byDuration.set(durationMs, list = new DeadlineList(durationMs));
    return list;
  }

  /** Queues `entry` to expire `list.durationMs` from (about) now. */
  add(entry: Deadline, list: DeadlineList): void {
    if (!list.registered) {
      list.registered = true;
      this.#lists.add(list);
    }
    entry.deadline = Number.NaN;
    entry.list = list;
    entry.next = undefined;
    entry.prev = list.tail;
    if (list.tail === undefined) list.head = entry;
    else list.tail.next = entry;
    list.tail = entry;
    this.#size++;
    if (this.#stampTurns === 0) {
      this.#stampTurns = STAMP_AFTER_TURNS;
      void this.#settled.then(this.#stamp);
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
    if (this.#lists.size > MAX_IDLE_LISTS) {
      // Lists still held by policies register again on their next add.
      for (const list of this.#lists) list.registered = false;
      this.#lists.clear();
      this.#byDuration.clear();
    }
  }

  /** Stamps the unstamped entries (at the tails) and arms the timer if needed. */
  readonly #stamp = (): void => {
    if (this.#size === 0) {
      this.#stampTurns = 0;
      return;
    }
    if (--this.#stampTurns > 0) {
      void this.#settled.then(this.#stamp);
      return;
    }
    const now = this.#clock.now();
    let earliest = Infinity;
    for (const list of this.#lists) {
      for (let entry = list.tail; entry !== undefined && Number.isNaN(entry.deadline); entry = entry.prev) {
        entry.deadline = now + list.durationMs;
      }
      if (list.head !== undefined && list.head.deadline < earliest) earliest = list.head.deadline;
    }
    if (earliest < this.#armedAt) this.#arm(earliest, now);
  };

  #arm(at: number, now: number): void {
    this.#cancelTimer?.();
    this.#armedAt = at;
    this.#cancelTimer = this.#clock.schedule(this.#fire, at - now);
  }

  readonly #fire = (): void => {
    this.#cancelTimer = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    // Unlink everything due first, then expire: expiring runs user code
    // (abort listeners) that may add or remove entries. Unstamped entries
    // (NaN) are never due.
    const due: Deadline[] = [];
    let earliest = Infinity;
    for (const list of this.#lists) {
      while (list.head !== undefined && list.head.deadline <= now) {
        const entry = list.head;
        this.remove(entry);
        due.push(entry);
      }
      if (list.head !== undefined && list.head.deadline < earliest) earliest = list.head.deadline;
    }
    if (earliest < Infinity && this.#cancelTimer === undefined) this.#arm(earliest, now);
    for (const entry of due) entry.expire();
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
