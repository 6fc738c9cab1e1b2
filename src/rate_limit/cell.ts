/**
 * One limit's state with its waiters, and the operations every in-process
 * limiter performs on it. Internal: `AlgorithmLimiter` holds one cell,
 * `KeyedRateLimiter` one per key, so both behave identically. Arguments are
 * checked by the public methods before they get here (see `options.ts`).
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { RateLimitExceededError } from "../errors.ts";
import type { RateLimitAlgorithm, RateLimitDecision } from "./algorithm.ts";
import type { WakeMode } from "./limiter.ts";
import { type Counters, WaitQueue } from "./waiters.ts";

/** One limit: its state and, once someone had to wait, its queue. */
export interface Cell<S extends object> {
  state: S;
  queue: WaitQueue<S> | undefined;
}

/** What the operations need besides the cell. */
export interface CellContext<S extends object> {
  readonly algorithm: RateLimitAlgorithm<S>;
  readonly clock: Clock;
  readonly counters: Counters;
  readonly name: string;
  /** How the cells' queues wake their waiters. */
  readonly wakeMode: WakeMode;
  /** Write-only target of the queues' probes, made on first need and shared by every cell. */
  scratch?: S;
}

/** True when a caller arriving at `now` need not queue on `cell`. */
function idle(cell: Cell<object>, now: number): boolean {
  return cell.queue === undefined || !cell.queue.busy(now);
}

function scratchOf<S extends object>(context: CellContext<S>): S {
  return context.scratch ??= context.algorithm.initial(0);
}

/** `tryAcquire`: never waits, never jumps the queue, allocates nothing. */
export function tryTake<S extends object>(context: CellContext<S>, cell: Cell<S>, now: number, cost: number): boolean {
  if (idle(cell, now) && context.algorithm.step(cell.state, now, cost, cell.state) === 0) {
    context.counters.acquired++;
    return true;
  }
  context.counters.rejected++;
  return false;
}

/**
 * `acquire`: takes at once if possible, else reserves a place in the queue
 * (or refuses up front past `timeoutMs`). The arguments are already checked.
 */
export function take<S extends object>(
  context: CellContext<S>,
  cell: Cell<S>,
  cost: number,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  let now: number;
  try {
    now = context.clock.now();
  } catch (error) {
    // A clock that cannot tell the time fails the call: a rejection, not a throw.
    return Promise.reject(error);
  }
  if (idle(cell, now)) {
    const wait = context.algorithm.step(cell.state, now, cost, cell.state);
    if (wait === 0) {
      context.counters.acquired++;
      return Promise.resolve();
    }
    if (timeoutMs !== undefined && wait > timeoutMs) {
      context.counters.rejected++;
      return Promise.reject(new RateLimitExceededError(wait, context.name));
    }
  }
  cell.queue ??= new WaitQueue(context, cell);
  return cell.queue.enqueue(cost, now, timeoutMs, signal, scratchOf(context));
}

/** `consume`: `tryTake` that reports the whole decision. */
export function decideOn<S extends object>(
  context: CellContext<S>,
  cell: Cell<S>,
  now: number,
  cost: number,
): RateLimitDecision {
  const algorithm = context.algorithm;
  const queued = !idle(cell, now);
  const wait = queued
    ? cell.queue!.projectedWait(cost, now, scratchOf(context))
    : algorithm.step(cell.state, now, cost, cell.state);
  // Behind late timers the projected wait can be 0, but the units are theirs first.
  const allowed = !queued && wait === 0;
  if (allowed) context.counters.acquired++;
  else context.counters.rejected++;
  return {
    allowed,
    cost,
    limit: algorithm.limit,
    windowMs: algorithm.windowMs,
    // Nothing can be taken ahead of the queue.
    remaining: queued ? 0 : algorithm.available(cell.state, now),
    retryAfterMs: wait,
    resetMs: algorithm.resetAfter(cell.state, now),
  };
}

/** Ms until `cost` units could be taken, behind everyone waiting. `scratch` receives throwaway writes. */
export function waitFor<S extends object>(
  context: CellContext<S>,
  cell: Cell<S>,
  now: number,
  cost: number,
  scratch: S,
): number {
  if (!idle(cell, now)) return cell.queue!.projectedWait(cost, now, scratch);
  return context.algorithm.step(cell.state, now, cost, scratch);
}

/** Units that could be taken at `now` were nobody waiting: what has been granted so far, not what is reserved. */
export function availableIn<S extends object>(context: CellContext<S>, cell: Cell<S>, now: number): number {
  return context.algorithm.available(cell.queue === undefined ? cell.state : cell.queue.settled, now);
}
