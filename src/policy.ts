/**
 * The shape every policy shares, so that pipelines can compose them and the
 * caller's abort signal flows through every layer to the wrapped function.
 *
 * @module
 */

/** What a wrapped function receives: the signal to honour. */
export interface ExecutionContext {
  /**
   * Aborts when the caller aborts, or when an enclosing timeout expires.
   * Policies create it lazily: a function that never reads it costs no
   * `AbortController`.
   */
  readonly signal: AbortSignal;
}

/** A function a policy can run. It may ignore its context. */
export type Operation<T> = (context: ExecutionContext) => T | PromiseLike<T>;

/**
 * A resilience policy: runs an operation under its rules. Circuit breakers,
 * retries, timeouts, bulkheads, rate limiters and fallbacks all fit, so any
 * of them can be layered by {@link Operation}-passing composition.
 */
export interface Policy {
  /**
   * Runs `fn` under this policy. `signal` is the caller's: when it aborts, the
   * policy stops waiting and passes the abort on to `fn` through its context.
   */
  execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T>;
}

let neverAborted: ExecutionContext | undefined;

/**
 * The context handed to `fn` when the caller gave no signal: one shared,
 * never-aborting signal, created on first use (never at import time, which
 * Workers forbid), so the no-signal hot path allocates nothing.
 */
export function contextFor(signal: AbortSignal | undefined): ExecutionContext {
  if (signal !== undefined) return { signal };
  return (neverAborted ??= { signal: new AbortController().signal });
}
