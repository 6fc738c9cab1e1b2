/**
 * One limit's state with its waiters, and the operations every in-process
 * limiter performs on it. Internal: `AlgorithmLimiter` holds one cell,
 * `KeyedRateLimiter` one per key, so both behave identically.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { RateLimitExceededError } from "../errors.ts";
import type { RateLimitAlgorithm, RateLimitDecision } from "./algorithm.ts";
import { checkCost, checkTimeout } from "./options.ts";
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
}

/** True when nobody waits on `cell`. */
function idle(cell: Cell<object>): boolean {
  return cell.queue === undefined || cell.queue.length === 0;
}

/** `tryAcquire`: never waits, never jumps the queue, allocates nothing. */
export function tryTake<S extends object>(context: CellContext<S>, cell: Cell<S>, now: number, cost: number): boolean {
  if (idle(cell) && context.algorithm.step(cell.state, now, cost, cell.state) === 0) {
    context.counters.acquired++;
    return true;
  }
  context.counters.rejected++;
  return false;
}

/** `acquire`: takes at once if possible, else queues (or refuses up front past `timeoutMs`). */
export function take<S extends object>(
  context: CellContext<S>,
  cell: Cell<S>,
  cost: number,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    if (cost !== 1) checkCost(context.algorithm, cost);
    checkTimeout(timeoutMs);
  } catch (error) {
    return Promise.reject(error);
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  const now = context.clock.now();
  if (idle(cell)) {
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
  cell.queue ??= new WaitQueue(context.algorithm, context.clock, cell, context.counters, context.name);
  return cell.queue.enqueue(cost, now, timeoutMs, signal);
}

/** `consume`: `tryTake` that reports the whole decision. */
export function decideOn<S extends object>(
  context: CellContext<S>,
  cell: Cell<S>,
  now: number,
  cost: number,
): RateLimitDecision {
  const algorithm = context.algorithm;
  const queued = !idle(cell);
  const wait = queued ? cell.queue!.projectedWait(cost, now) : algorithm.step(cell.state, now, cost, cell.state);
  const allowed = !queued && wait === 0;
  if (allowed) context.counters.acquired++;
  else context.counters.rejected++;
  return {
    allowed,
    cost,
    limit: algorithm.limit,
    windowMs: algorithm.windowMs,
    remaining: algorithm.available(cell.state, now),
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
  if (!idle(cell)) return cell.queue!.projectedWait(cost, now);
  return context.algorithm.step(cell.state, now, cost, scratch);
}
