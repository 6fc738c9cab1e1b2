/**
 * The FIFO of callers waiting on one limit. Internal: used by the in-process
 * limiters and by each key of a keyed limiter. Two ways to wake them (the
 * limiter's `wakeMode`), on one projection of the future.
 *
 * **A projection at enqueue.** A caller who must wait is given a time at
 * once: the earliest time the limit admits its units behind every caller
 * already queued, found by the algorithm's own pure `step`, and committed to
 * the projected state (the limit once everyone queued is served). The next
 * caller's time is one `step` (or two, for rounding) away: enqueue is O(1)
 * whatever the queue's length. The projection decides timeouts up front (a
 * caller whose time would be more than `timeoutMs` away is refused at once,
 * with that wait, and queues nothing) and answers `timeUntilAvailable`.
 * Beside it the queue keeps the *granted* state: the limit with only the
 * grants made so far.
 *
 * - **Strict FIFO** in both modes: a large request is never overtaken by
 *   smaller ones behind it, and `tryAcquire` refuses while anyone waits (or
 *   until the last grant's time has come, see jitter below).
 *
 * **Hand-over** (the default off Workers): one timer per queue, for the
 * time the first caller's units come on the granted state. When it fires,
 * it grants every caller whose units have come, in order (each accounted
 * at the time its units came, so a timer firing late catches up rather
 * than losing the rate; never before the caller queued, the last grant, or
 * the abort that made it first), and sets one timer for the new first
 * caller: one timer per wake-up, not per waiter. An abort unlinks the caller in O(1);
 * if it was first, the timer moves earlier when the new first caller is
 * due earlier (otherwise it fires as set, finds the caller not yet due and
 * is set once more). Aborted units are thus at once available to those
 * behind: the survivors are granted at the configured rate. The projection
 * then overstates waits (aborted callers stay in it until a replay, below):
 * a caller is never granted later than it was told, possibly earlier.
 *
 * **Self-wake** (the default on Cloudflare Workers): the projected time is
 * the caller's reservation, and the caller is woken by its own timer then,
 * never by another caller's code. On Workers a timer belongs to the request
 * that set it and a promise settled from another request never resumes the
 * one awaiting it (workerd cancels it as hung), so a limiter shared by the
 * requests of an isolate must not hand units from one request to the next.
 * Its units were accounted for when it queued, so a waiter never checks
 * whether it is first and never sleeps again: one timer firing per grant.
 * On a real clock two waiters due within the same millisecond may resume
 * in either order; their units were reserved in order. The price: the
 * waiters behind an aborted one keep their times (nothing may wake them
 * earlier), so its units go only to callers who queue later (see abort).
 *
 * - **Timer jitter never loops.** `setTimeout` counts whole milliseconds
 *   from a loop time that can lag `performance.now()`, so a timer may fire
 *   a little early. A timer that fires at most {@link EARLY_MS} before the
 *   time it was set for counts as firing then: the grants it makes are
 *   accounted at their times, and `tryAcquire` stays refused until the last
 *   of them has come, so nobody slips in behind. One that fires earlier than
 *   that sets one more timer for the rest, never a polling loop (so does a
 *   wait beyond the longest timer a runtime honours, 2³¹ − 1 ms); a clock
 *   that fires again without time moving on is taken at its word.
 * - **Abort is O(1)**: unlink, clear the caller's timer (self-wake), remove
 *   its listener. When the queue empties (served, aborted or rejected by
 *   dispose) the granted state becomes the state, so every aborted unit is
 *   back. While callers remain, the projection still counts aborted
 *   reservations; it is rebuilt from the granted state by replaying the
 *   live ones (at their reserved times in self-wake mode, as early as they
 *   now come in hand-over mode) once aborts and enqueues since the first
 *   abort number more than a quarter of the live callers. That replay costs
 *   O(live), paid for by those calls, so abort and enqueue stay amortised
 *   O(1), and the aborted reservations held back never number more than a
 *   quarter of the live ones. In self-wake mode, if those include the last
 *   reservation, a newcomer still queues behind its time until the next
 *   replay or until the queue empties: the price of never replaying more
 *   often than aborts and enqueues pay for.
 *
 * @module
 */
import type { CancelTimer, Clock } from "../clock.ts";
import { RateLimitExceededError } from "../errors.ts";
import type { RateLimitAlgorithm } from "./algorithm.ts";
import type { WakeMode } from "./limiter.ts";

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
 * How early a timer may fire and still count as firing at its time: timers
 * count whole milliseconds, so a timer set for 0.4 ms ahead fires "early"
 * by up to one.
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
  readonly wakeMode: WakeMode;
  /** Write-only target of probes, shared with the limiter. */
  scratch?: S;
}

interface Waiter {
  readonly cost: number;
  /** The projected grant time: self-wake, its timer fires then; hand-over, the latest it is granted. */
  readonly at: number;
  readonly enqueuedAt: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Its own timer (self-wake mode). */
  cancelTimer: CancelTimer | undefined;
  /** When its own timer was last set. */
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

/**
 * A FIFO of callers on one {@link StateHolder}: while anyone waits, the
 * holder's state is the projection and the queue keeps the granted state.
 */
export class WaitQueue<S extends object> {
  readonly #context: QueueContext<S>;
  readonly #holder: StateHolder<S>;
  readonly #handover: boolean;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  #length = 0;
  /** The latest time the holder's state was stepped at by a reservation: nothing may step it earlier. */
  #horizon = -Infinity;
  /** While anyone waits: the state with only the grants made so far applied. */
  #settled: S | undefined;
  /** The latest time {@link WaitQueue.#settled} was stepped at. */
  #settledAt = -Infinity;
  /** Hand-over mode: the queue's one timer, set for the first caller. */
  #timer: CancelTimer | undefined;
  /** The time {@link WaitQueue.#timer} was set for. */
  #armedFor = 0;
  /** When {@link WaitQueue.#timer} was set. */
  #armedAt = 0;
  /**
   * Hand-over: when the first caller became first by an abort ahead of it.
   * Its grant is never accounted earlier: units that came while another
   * caller held the head were not handed out then, and accounting them in
   * the past would let them count against a window already over.
   */
  #headSince = -Infinity;
  /** Aborted reservations still counted in the holder's state. */
  #dead = 0;
  /** Aborts and enqueues since the first of those aborted reservations: what pays for a replay. */
  #ops = 0;

  constructor(context: QueueContext<S>, holder: StateHolder<S>) {
    this.#context = context;
    this.#holder = holder;
    this.#handover = context.wakeMode === "handover";
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
   * Queues for `cost` units behind everyone queued and waits for them.
   * Rejects at once with {@link RateLimitExceededError}, queueing nothing,
   * if they would come more than `timeoutMs` from `now`.
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
        waiter.onAbort = () => this.#leave(waiter, signal.reason);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      try {
        if (!this.#handover) {
          waiter.cancelTimer = context.clock.schedule(() => this.#wake(waiter), timerMs(at - now));
        } else if (this.#length === 0) {
          // The first caller: on the granted state (the state, while nobody
          // waits) its projected time is when its units come.
          this.#arm(at, now);
        }
      } catch (error) {
        if (waiter.onAbort !== undefined) signal!.removeEventListener("abort", waiter.onAbort);
        throw error;
      }
      this.#reserve(waiter, now);
    });
  }

  /**
   * The holder's state was replaced by a fresh one (a reset), which becomes
   * the granted state. Self-wake: the waiters keep their times, so their
   * reservations are applied to it again. Hand-over: they are served from
   * it as their units come, from now on.
   */
  refresh(): void {
    this.#horizon = -Infinity;
    this.#dead = 0;
    if (this.#length === 0) {
      this.#settled = undefined;
      return;
    }
    const now = this.#context.clock.now();
    this.#settled = this.#context.algorithm.clone(this.#holder.state);
    this.#settledAt = now;
    this.#rebuild();
    if (this.#handover) this.#rearm(this.#headDue(), now);
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

  /** Self-wake: `waiter`'s own timer fired: its units were reserved, so it takes them. */
  #wake(waiter: Waiter): void {
    waiter.cancelTimer = undefined;
    if (!waiter.queued) return;
    const context = this.#context;
    let now: number;
    try {
      now = context.clock.now();
      if (now < waiter.at - EARLY_MS && now > waiter.armedAt) {
        // Fired well before its time: a timer counted from a lagging loop
        // time, or one capped at the longest timer runtimes allow. Once more,
        // for the rest. A clock that fires again without time moving on is
        // taken at its word rather than polled.
        waiter.armedAt = now;
        waiter.cancelTimer = context.clock.schedule(() => this.#wake(waiter), timerMs(waiter.at - now));
        return;
      }
    } catch (error) {
      // A clock that cannot tell the time or set the timer again would
      // leave this caller waiting for good (and throw from a timer's
      // callback): it fails with the clock's error instead, its units
      // given back as an abort's are.
      this.#leave(waiter, error);
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

  /**
   * Hand-over: the time the first caller's units come on the granted state
   * (never before it queued, nor before the last grant).
   */
  #headDue(): number {
    const head = this.#head!;
    const context = this.#context;
    const from = Math.max(head.enqueuedAt, this.#settledAt, this.#headSince);
    return admissionTime(context.algorithm, this.#settled!, from, head.cost, this.#scratch());
  }

  #scratch(): S {
    return this.#context.scratch ??= this.#context.algorithm.initial(0);
  }

  /**
   * Hand-over: makes the queue's timer fire by `due`. A timer already set
   * for no later is kept; it sets the next one when it fires.
   */
  #arm(due: number, now: number): void {
    if (this.#timer !== undefined) {
      if (this.#armedFor <= due) return;
      this.#timer();
      this.#timer = undefined;
    }
    this.#timer = this.#context.clock.schedule(() => this.#fire(), timerMs(due > now ? due - now : 0));
    this.#armedFor = due;
    this.#armedAt = now;
  }

  /**
   * {@link WaitQueue.#arm} for callers already queued: if the clock throws,
   * nobody would ever be served (no timer is left), so they are all
   * rejected with its error rather than left waiting for good.
   */
  #rearm(due: number, now: number): void {
    try {
      this.#arm(due, now);
    } catch (error) {
      this.rejectAll(error);
    }
  }

  /** Hand-over: the queue's timer fired. */
  #fire(): void {
    this.#timer = undefined;
    if (this.#head === undefined) return;
    const now = this.#context.clock.now();
    // Within EARLY_MS of its time (or on a clock that fired without moving
    // on), a timer counts as firing at its time; earlier (a lagging loop
    // time, a wait capped at the longest timer), it grants what has come.
    const onTime = now >= this.#armedFor - EARLY_MS || now <= this.#armedAt;
    this.#serve(now, onTime && this.#armedFor > now ? this.#armedFor : now);
  }

  /**
   * Hand-over: grants, in order, every caller whose units come by `until`,
   * each accounted at the time they came; then sets the timer for the next.
   */
  #serve(now: number, until: number): void {
    const context = this.#context;
    const algorithm = context.algorithm;
    const settled = this.#settled!;
    while (this.#head !== undefined) {
      const waiter = this.#head;
      const due = this.#headDue();
      if (due > until) {
        this.#rearm(due, now);
        return;
      }
      this.#settledAt = commit(algorithm, settled, due, waiter.cost);
      this.#unlink(waiter);
      context.counters.acquired++;
      context.counters.waitedMs += now - waiter.enqueuedAt;
      waiter.resolve();
    }
    this.#settle();
  }

  /** Takes `waiter` out of the line (its abort, or a clock that failed it), rejected with `reason`; the others keep their places. */
  #leave(waiter: Waiter, reason: unknown): void {
    if (!waiter.queued) return;
    const first = waiter === this.#head;
    this.#unlink(waiter);
    if (this.#dead++ === 0) this.#ops = 0;
    this.#ops++;
    // Rejected first: whatever the clock does below, the caller hears of it.
    waiter.reject(reason);
    if (this.#length === 0) this.#settle();
    else if (!this.#handover) this.#replayIfPaid();
    else {
      const now = this.#context.clock.now();
      if (first) this.#headSince = now;
      this.#replayIfPaid();
      // The units it waited for are the next caller's, at once if they have come.
      if (first) this.#rearm(this.#headDue(), now);
    }
  }

  /** Drops the aborted reservations once enough aborts and enqueues have paid for the replay. */
  #replayIfPaid(): void {
    if (this.#ops * REBUILD_RATIO > this.#length) this.#rebuild();
  }

  /** Nobody waits any more: the granted state is the state. */
  #settle(): void {
    if (this.#timer !== undefined) {
      this.#timer();
      this.#timer = undefined;
    }
    if (this.#settled === undefined) return;
    this.#holder.state = this.#settled;
    this.#horizon = this.#settledAt;
    this.#settled = undefined;
    this.#dead = 0;
  }

  /**
   * The projection = the granted state plus every live caller (at its
   * reserved time in self-wake mode, as early as its units come in
   * hand-over mode): drops the aborted ones.
   */
  #rebuild(): void {
    const algorithm = this.#context.algorithm;
    const state = algorithm.clone(this.#settled!);
    const handover = this.#handover;
    // Hand-over: nobody is granted before now, nor the first before it became first.
    let time = handover ? Math.max(this.#settledAt, this.#headSince, this.#context.clock.now()) : this.#settledAt;
    for (let waiter = this.#head; waiter !== undefined; waiter = waiter.next) {
      const from = handover ? waiter.enqueuedAt : waiter.at;
      time = commit(algorithm, state, from > time ? from : time, waiter.cost);
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
