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
 *
 * `R` is what the policy's operations may return. Most policies run any
 * operation (`Policy`, that is `Policy<unknown>`); one that judges results
 * accepts only operations whose result it can judge: a
 * `RetryPolicy<Response>` with `retryOnResult: (r: Response) => ...` is a
 * `Policy<Response>`, and `pipeline()` of it is one too. `Policy<never>`
 * is any policy at all.
 */
export interface Policy<R = unknown> {
  /**
   * Runs `fn` under this policy. `signal` is the caller's: when it aborts, the
   * policy stops waiting and passes the abort on to `fn` through its context.
   */
  execute<T extends R>(fn: Operation<T>, signal?: AbortSignal): Promise<T>;
}

/**
 * The results policy `P` accepts: `Response` for a `Policy<Response>`,
 * `unknown` for a policy that runs any operation.
 *
 * @example
 * ```ts
 * import { RetryPolicy, type PolicyResult } from "bulwark";
 * const policy = new RetryPolicy({ retryOnResult: (response: Response) => response.status === 503 });
 * const accepted: PolicyResult<typeof policy> = new Response("ok");
 * if (!(accepted instanceof Response)) throw new Error("unexpected");
 * ```
 */
// deno-lint-ignore no-explicit-any
export type PolicyResult<P> = P extends { execute(fn: Operation<infer R>, ...rest: any[]): unknown } ? R : unknown;

/**
 * The results every policy of the tuple `P` accepts: the intersection of
 * their {@link PolicyResult}s (`unknown` when none restricts them).
 */
export type PoliciesResult<P extends readonly unknown[]> = P extends readonly [infer First, ...infer Rest]
  ? PolicyResult<First> & PoliciesResult<Rest>
  : unknown;

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
