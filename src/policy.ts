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

/**
 * The context of a call made without a signal. One object, so that it
 * allocates nothing per call; its `signal` is a new, never-aborting signal
 * on each read. Not one shared signal: on Cloudflare Workers a signal
 * belongs to the request that created it, and another request that passes
 * it to `fetch` (or listens to it) fails with "Cannot perform I/O on behalf
 * of a different request".
 */
const withoutSignal: ExecutionContext = Object.freeze({
  get signal(): AbortSignal {
    return new AbortController().signal;
  },
});

/**
 * The context handed to `fn`: `{ signal }`, or, when the caller gave no
 * signal, one shared context whose `signal` never aborts (created on read,
 * never at import time, which Workers forbid), so the no-signal hot path
 * allocates nothing.
 */
export function contextFor(signal: AbortSignal | undefined): ExecutionContext {
  return signal === undefined ? withoutSignal : { signal };
}
