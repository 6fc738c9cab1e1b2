/**
 * A `fetch` with resilience built in, for edge functions and any runtime
 * with a web-standard `fetch`: a circuit breaker per origin, retries that
 * honour `Retry-After`, per-attempt and overall timeouts, and an optional
 * bulkhead. It has `fetch`'s signature and can replace it anywhere.
 *
 * Layers, outermost first: bulkhead, overall timeout, retry, the origin's
 * circuit breaker, per-attempt timeout, `fetch`. The breaker sits inside the
 * retry so that every failed attempt counts, and an open circuit ends the
 * retries at once instead of being waited on; `order` puts it outside
 * instead, as `ResiliencePipeline` does (docs/architecture.md, "One
 * layering").
 *
 * Both timeouts are hard (`strategy: "aggressive"`): at a deadline the call
 * or the attempt rejects with the `TimeoutError` at once, and `fetch`'s
 * signal is aborted, even if that `fetch` ignores its signal and never
 * settles. A caller who sets `timeoutMs` gets an answer by then, and the
 * bulkhead slot and half-open probe of the call are freed with it.
 *
 * @module
 */
import { Bulkhead, type BulkheadOptions } from "./bulkhead.ts";
import { CircuitBreaker, type CircuitBreakerOptions } from "./breaker/circuit_breaker.ts";
import { CircuitBreakerRegistry } from "./breaker/registry.ts";
import { type Clock, systemClock } from "./clock.ts";
import {
  BulkheadRejectedError,
  CircuitOpenError,
  ConfigError,
  type ConfigIssue,
  NotRetryableError,
} from "./errors.ts";
import { badOptions, badSignal, throwIf } from "./internal/arguments.ts";
import { invoke, parentOf } from "./internal/context.ts";
import { layers } from "./internal/layers.ts";
import type { ExecutionContext, Policy } from "./policy.ts";
import { type RetryOptions, RetryPolicy } from "./retry.ts";
import { TimeoutPolicy } from "./timeout.ts";
import {
  arrayOf,
  clock as clockSchema,
  durationMs,
  func,
  isPlainObject,
  lazy,
  optional,
  satisfying,
  strictObject,
  validate,
} from "./validation.ts";

/** `fetch`'s signature. */
export type FetchFunction = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** Retry options of {@link createResilientFetch}; which failures to retry is decided by the fetch itself. */
export type ResilientFetchRetryOptions = Omit<RetryOptions, "clock" | "retryOn" | "retryOnResult" | "retryAfter">;

/** Circuit-breaker options of {@link createResilientFetch}, applied to each origin's breaker. */
export type ResilientFetchBreakerOptions = Omit<
  CircuitBreakerOptions,
  "name" | "clock" | "isResultFailure" | "fallback" | "initialState"
>;

/** Options of {@link createResilientFetch}. */
export interface ResilientFetchOptions {
  /** The `fetch` to wrap. Default: the runtime's `globalThis.fetch`, looked up at call time. */
  fetch?: FetchFunction;
  /** Retry options (default: the `retry` defaults of `configure()`), or `false` for no retries. */
  retry?: ResilientFetchRetryOptions | false;
  /**
   * Methods retried without an `Idempotency-Key` header. Default the
   * idempotent ones: GET, HEAD, OPTIONS, PUT, DELETE. A request that carries
   * `Idempotency-Key` is retried whatever its method.
   */
  retryMethods?: readonly string[];
  /**
   * Deadline of each attempt, in ms. Default: none. At the deadline the
   * attempt fails with a `TimeoutError` (counted by the breaker, retried)
   * and its `fetch` is aborted, even if that `fetch` never settles.
   */
  attemptTimeoutMs?: number;
  /**
   * Deadline of the whole call, retries and waits included, in ms. Default:
   * none. At the deadline the call rejects with a `TimeoutError`, aborts
   * what is in flight and frees its bulkhead slot, even if the `fetch` it
   * wraps ignores its signal and never settles.
   */
  timeoutMs?: number;
  /** Options of the breaker kept for each origin, or `false` for none. Default: the breaker defaults. */
  circuitBreaker?: ResilientFetchBreakerOptions | false;
  /** Where the per-origin breakers live (named by origin). Default: a registry of this fetch's own. */
  registry?: CircuitBreakerRegistry;
  /** A bulkhead shared by every call (or its options). Default: none. */
  bulkhead?: Bulkhead | BulkheadOptions;
  /**
   * Whether a response is a failure: counted by the breaker and retried.
   * Default: status >= 500, 408 and 429.
   */
  isFailureResponse?: (response: Response) => boolean;
  /** Time source for every layer. Default {@link systemClock}. */
  clock?: Clock;
  /**
   * Where the origin's breaker sits against the retry, outermost first:
   * `["retry", "circuitBreaker"]` (the default: every attempt is an outcome
   * of the breaker, and an open circuit ends the retries at once) or
   * `["circuitBreaker", "retry"]` (as `ResiliencePipeline` by default: a
   * whole retried call is one outcome, so failures that a retry masks never
   * open the circuit). See docs/architecture.md, "One layering".
   */
  order?: readonly ResilientFetchStep[];
}

/** The steps of {@link ResilientFetchOptions.order}. */
export type ResilientFetchStep = "retry" | "circuitBreaker";

/** A resilient `fetch`, with its parts reachable for events and inspection. */
export interface ResilientFetch extends FetchFunction {
  /** The per-origin breakers (`registry.get("https://api.example.com")`). */
  readonly registry: CircuitBreakerRegistry;
  /** The retry policy, `undefined` when retries are off: subscribe to its events here. */
  readonly retryPolicy: RetryPolicy | undefined;
  /** The bulkhead, if any. */
  readonly bulkhead: Bulkhead | undefined;
}

const DEFAULT_RETRY_METHODS: readonly string[] = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"];

/** The default `isFailureResponse`: 5xx, 408 Request Timeout and 429 Too Many Requests. */
export function isFailureResponse(response: Response): boolean {
  return response.status >= 500 || response.status === 408 || response.status === 429;
}

/** Built on the first call, not at import. */
const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    fetch: optional(func<FetchFunction>()),
    retry: optional(satisfying<false | Record<string, unknown>>(
      (value) => value === false || isPlainObject(value),
      "retry options (an object) or false",
    )),
    retryMethods: optional(
      arrayOf<string>((value) => typeof value === "string", "an HTTP method name", "an array of HTTP method names"),
    ),
    attemptTimeoutMs: optional(durationMs(0, true)),
    timeoutMs: optional(durationMs(0, true)),
    circuitBreaker: optional(satisfying<false | Record<string, unknown>>(
      (value) => value === false || isPlainObject(value),
      "circuit breaker options (an object) or false",
    )),
    registry: optional(satisfying<CircuitBreakerRegistry>(
      (value) => value instanceof CircuitBreakerRegistry,
      "a CircuitBreakerRegistry",
    )),
    bulkhead: optional(satisfying<Bulkhead | Record<string, unknown>>(
      (value) => value instanceof Bulkhead || isPlainObject(value),
      "a Bulkhead or bulkhead options",
    )),
    isFailureResponse: optional(func<(response: Response) => boolean>()),
    clock: optional(clockSchema()),
    order: optional(satisfying<readonly ResilientFetchStep[]>(
      (value) =>
        Array.isArray(value) && value.length === 2 && value.includes("retry") && value.includes("circuitBreaker"),
      `["retry", "circuitBreaker"] or ["circuitBreaker", "retry"]`,
    )),
  })
);

/**
 * Builds a nested component; its bad options are added to `issues` under
 * `prefix.`, so that every bad component is reported at once.
 */
function nested<T>(prefix: string, build: () => T, issues: ConfigIssue[]): T | undefined {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) issues.push({ ...issue, field: `${prefix}.${issue.field}` });
    return undefined;
  }
}

function isOneShotBody(body: unknown): boolean {
  if (body === null || body === undefined) return false;
  if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) return true;
  // Async iterables (accepted as bodies by some runtimes) can be read once too.
  return typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

/** Why a request may not be sent twice, or `undefined` if it may. */
function whyNotRetryable(request: Request, init: RequestInit | undefined, retryMethods: ReadonlySet<string>): string | undefined {
  if (isOneShotBody(init?.body)) {
    return "its body is a one-shot stream, which cannot be sent twice (pass a string, bytes or a Blob to allow retries)";
  }
  if (!retryMethods.has(request.method) && !request.headers.has("idempotency-key")) {
    return `${request.method} is not idempotent and the request has no Idempotency-Key header`;
  }
  return undefined;
}

/**
 * Creates a `fetch` with a circuit breaker per origin, retries, timeouts and
 * an optional bulkhead.
 *
 * - Network errors, attempt timeouts, and responses that
 *   `isFailureResponse` flags (5xx, 408, 429) are failures: the origin's
 *   breaker counts them, and they are retried, waiting at least the
 *   response's `Retry-After` (capped by `retry.maxDelayMs`).
 * - Only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) are retried,
 *   plus any request with an `Idempotency-Key` header: a POST without one is
 *   never retried silently. A request whose body is a one-shot stream is
 *   never retried. When such a request fails with a network error, the
 *   rejection is a {@link NotRetryableError} that says why, the original
 *   error as its `cause`.
 * - When the last attempt still gets a failure response, that response is
 *   returned, as `fetch` would; when it still throws, the call rejects with
 *   a `RetryExhaustedError` (cause: the last error). An open circuit rejects
 *   with `CircuitOpenError`; a full bulkhead with `BulkheadRejectedError`; an
 *   overall or attempt deadline with `TimeoutError`, at the deadline, even
 *   if the wrapped `fetch` ignores its signal.
 * - The caller's `signal` (in `init` or on the `Request`) cancels everything
 *   at once: queued, waiting or in flight. The call rejects with its reason.
 *   An `init.signal` that is not an `AbortSignal` (nor `null`) rejects with
 *   an `InvalidArgumentError` before anything runs.
 *
 * @example
 * ```ts
 * import { createResilientFetch } from "bulwark";
 * let calls = 0;
 * const flaky = async (): Promise<Response> =>
 *   new Response(null, { status: ++calls < 3 ? 503 : 200 });
 * const fetchWithRetry = createResilientFetch({ fetch: flaky, retry: { baseDelayMs: 0 } });
 * const response = await fetchWithRetry("https://api.example.com/items");
 * if (response.status !== 200 || calls !== 3) throw new Error("expected the third attempt to succeed");
 * ```
 */
export function createResilientFetch(options: ResilientFetchOptions = {}): ResilientFetch {
  throwIf(badOptions("createResilientFetch", options));
  const parsed = validate("createResilientFetch", optionsSchema(), options);
  const clock = parsed.clock ?? systemClock;
  const isFailure = parsed.isFailureResponse ?? isFailureResponse;
  const retryMethods: ReadonlySet<string> = new Set(
    (parsed.retryMethods ?? DEFAULT_RETRY_METHODS).map((method) => method.toUpperCase()),
  );
  const registry = parsed.registry ?? new CircuitBreakerRegistry();
  const breakerOptions = parsed.circuitBreaker === false
    ? undefined
    : { ...(parsed.circuitBreaker ?? {}) as ResilientFetchBreakerOptions, clock, isResultFailure: (r: unknown) => r instanceof Response && isFailure(r) };
  const issues: ConfigIssue[] = [];
  // Validate the breaker options now, not on the first request to an origin.
  if (breakerOptions !== undefined) nested("circuitBreaker", () => new CircuitBreaker(breakerOptions), issues);

  const bulkhead = parsed.bulkhead === undefined
    ? undefined
    : parsed.bulkhead instanceof Bulkhead
    ? parsed.bulkhead
    : nested("bulkhead", () => new Bulkhead({ clock, ...parsed.bulkhead as BulkheadOptions }), issues);
  // Hard deadlines: a caller who sets a timeout is answered by then, even by
  // a fetch that ignores its signal (a cooperative timeout would wait for it).
  const overallTimeout = parsed.timeoutMs === undefined
    ? undefined
    : new TimeoutPolicy({ timeoutMs: parsed.timeoutMs, strategy: "aggressive", clock });
  const attemptTimeout = parsed.attemptTimeoutMs === undefined
    ? undefined
    : new TimeoutPolicy({ timeoutMs: parsed.attemptTimeoutMs, strategy: "aggressive", clock });

  // One retry policy for every request; a request that may not be retried
  // never reaches it (see `attempts` below).
  const retryPolicy: RetryPolicy | undefined = parsed.retry === false ? undefined : nested("retry", () =>
    new RetryPolicy({
      ...parsed.retry as ResilientFetchRetryOptions,
      clock,
      // An open circuit or a full bulkhead is an answer, not a glitch: retrying
      // it would only add load. NotRetryableError is never retried anyway.
      retryOn: (error) => !(error instanceof CircuitOpenError) && !(error instanceof BulkheadRejectedError),
      // The last attempt's failure response is returned as is, like fetch would.
      retryOnResult: (result, attempt) =>
        result instanceof Response && isFailure(result) && attempt < retryPolicy!.options.maxAttempts,
    }), issues);
  if (issues.length > 0) throw new ConfigError("createResilientFetch", issues);
  const breakerOutside = parsed.order?.[0] === "circuitBreaker";
  // A failure response that will be retried still holds its connection.
  retryPolicy?.on("retry", (event) => {
    if ("result" in event && event.result instanceof Response) event.result.body?.cancel().catch(() => {});
  });

  const outer: Policy[] = [];
  if (bulkhead !== undefined) outer.push(bulkhead);
  if (overallTimeout !== undefined) outer.push(overallTimeout);
  // Layered, as a Pipeline of these two ran them anyway: the overall
  // timeout is aggressive, which a pipeline never fuses, and a lone
  // bulkhead gains nothing from fusion. Without a Pipeline, the resilient
  // fetch's bundle carries none of the fused pipeline's code
  // (docs/benchmarks.md, "Bundle size").
  const runOuter = layers(outer) ?? invoke;

  const resilientFetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // `null` is fetch's own "no signal"; anything else but a signal is refused before any layer runs.
    const initSignal = init?.signal;
    const misuse = initSignal === null ? undefined : badSignal("resilientFetch", initSignal, "init.signal");
    if (misuse !== undefined) return Promise.reject(misuse);
    const callerSignal = initSignal ?? (input instanceof Request ? input.signal : undefined);
    let request: Request;
    try {
      // Not linked to the caller's signal: a Request that follows a signal
      // listens to it until garbage-collected (undici's does), one listener
      // per call left on a long-lived signal. The layers below pass the
      // signal on to each attempt's fetch, which lets go when it settles.
      request = new Request(input, callerSignal == null ? init : { ...init, signal: null });
    } catch (error) {
      return Promise.reject(error);
    }
    const baseFetch: FetchFunction = parsed.fetch ?? ((i, o) => globalThis.fetch(i, o));
    const reason = whyNotRetryable(request, init, retryMethods);
    // Streams cannot be cloned without buffering; send them once, as given.
    const sendOnce = reason !== undefined && isOneShotBody(init?.body);
    const breaker = breakerOptions === undefined
      ? undefined
      : registry.getOrCreate(new URL(request.url).origin, breakerOptions);

    // Signals are passed on only when there is one: reading the signal of a
    // call made without one would build a new AbortController for nothing.
    const send = (context: ExecutionContext): Promise<Response> => {
      const signal = signalOf(context);
      const sent = baseFetch(sendOnce ? request : request.clone(), { signal });
      // Some runtimes' fetch (workerd's) rejects with a copy of the abort
      // reason: hand the breaker the reason itself, so that it sees the
      // caller's cancellation for what it is, not the origin failing.
      return signal === undefined ? sent : sent.catch((error: unknown) => {
        throw signal.aborted ? signal.reason : error;
      });
    };
    const timedSend = attemptTimeout === undefined
      ? send
      : (context: ExecutionContext) => attemptTimeout.execute(send, signalOf(context));
    const guardedSend = breaker === undefined || breakerOutside
      ? timedSend
      : (context: ExecutionContext) => breaker.execute(timedSend, signalOf(context)) as Promise<Response>;

    const retried = (context: ExecutionContext): Promise<Response> => {
      if (retryPolicy === undefined) return guardedSend(context);
      if (reason === undefined) return retryPolicy.execute(guardedSend, signalOf(context));
      // Not retryable: one attempt, and a network error says why it was not retried.
      return guardedSend(context).catch((error: unknown) => {
        if (signalOf(context)?.aborted || error instanceof CircuitOpenError || error instanceof BulkheadRejectedError) {
          throw error;
        }
        throw new NotRetryableError(
          error,
          `${request.method} ${request.url} failed and was not retried: ${reason}` +
            (error instanceof Error ? ` (${error.message})` : ""),
        );
      });
    };
    const attempts = breaker === undefined || !breakerOutside
      ? retried
      : (context: ExecutionContext) => breaker.execute(retried, signalOf(context)) as Promise<Response>;
    if (callerSignal == null) return runOuter(attempts, undefined);
    // A call cancelled before it starts runs no layer.
    if (callerSignal.aborted) return Promise.reject(callerSignal.reason);
    // Reject with the caller's own reason: some runtimes' fetch (workerd's)
    // rejects with a copy of it.
    return runOuter(attempts, { signal: callerSignal }).catch((error: unknown) => {
      throw callerSignal.aborted ? callerSignal.reason : error;
    });
  };

  return Object.assign(resilientFetch, { registry, retryPolicy, bulkhead });
}

/** The signal of `context`, or `undefined` for a call made without one. */
function signalOf(context: ExecutionContext): AbortSignal | undefined {
  return parentOf(context)?.signal;
}
