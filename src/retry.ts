/**
 * Retry: run an operation again after a failure, with backoff and jitter,
 * honouring the server's `Retry-After` and the caller's abort signal.
 *
 * @module
 */
import { type BackoffFunction, type BackoffKind, backoffDelay, type Jitter } from "./backoff.ts";
import { type Clock, systemClock } from "./clock.ts";
import {
  CircuitOpenError,
  InvalidArgumentError,
  NotRetryableError,
  RateLimitExceededError,
  RetryExhaustedError,
} from "./errors.ts";
import { Emitter, type Listener, type Unsubscribe } from "./events.ts";
import {
  callOperation,
  executeIn,
  isThenable,
  type LayeredPolicy,
  type Next,
  parentOf,
  runInContext,
  runThrough,
  wrapIn,
} from "./internal/context.ts";
import { badFunction, badOptions, badSignal, throwIf } from "./internal/arguments.ts";
import { RETRY_DEFAULTS } from "./internal/built_in_defaults.ts";
import { sharedBase } from "./internal/defaults.ts";
import { defaultsGeneration, FORMS_KEPT, policyKeyCount } from "./internal/forms.ts";
import { fuse, type FusablePolicy, type FusedCall, type Runner, type Stage } from "./internal/fused.ts";
import { contextFor, type ExecutionContext, type Operation } from "./policy.ts";
import {
  clock as clockSchema,
  durationMs,
  func,
  integer,
  lazy,
  oneOf,
  optional,
  positiveNumber,
  satisfying,
  strictObject,
  validate,
  validateOver,
} from "./validation.ts";

/**
 * Options of {@link RetryPolicy}. Defaults cascade from `configure({ retry })`.
 * `R` is the result type `retryOnResult` judges (see {@link RetryPolicy}).
 */
export interface RetryOptions<R = unknown> {
  /** Attempts in all, the first included; `>= 1`. Built-in default 3. */
  maxAttempts?: number;
  /** Delay shape, or a function of the failed attempt's number. Built-in default `"exponential"`. */
  backoff?: BackoffKind | BackoffFunction;
  /** First delay (and step of `"linear"`), in ms. Built-in default 100. */
  baseDelayMs?: number;
  /** Cap on any single delay, server-requested ones included, in ms. Built-in default 30 000. */
  maxDelayMs?: number;
  /**
   * Gives up rather than start a wait that would end more than this many ms
   * after the first attempt started. Default: no limit (and no clock read
   * on the success path).
   */
  maxElapsedMs?: number;
  /** Growth factor of `"exponential"`, `>= 1`. Built-in default 2. */
  multiplier?: number;
  /**
   * Randomisation of delays. Built-in default `"full"`; `"none"` when
   * `backoff` is a function, whose delays are taken as given.
   */
  jitter?: Jitter;
  /** Uniform random numbers in `[0, 1)` for jitter. Default `Math.random`. */
  random?: () => number;
  /**
   * Whether to retry after `error` thrown by attempt number `attempt`.
   * Default: every error. A {@link NotRetryableError}, or any error once the
   * caller's signal has aborted, is never retried.
   */
  retryOn?: (error: unknown, attempt: number) => boolean;
  /**
   * Whether a returned value is a failure to retry (e.g. a 503 `Response`;
   * see {@link isRetryableResponse}). Default: no value is.
   */
  retryOnResult?: (result: R, attempt: number) => boolean;
  /**
   * The ms the server asked to wait before retrying after `errorOrResult`
   * (`undefined` if it did not say). Default {@link retryAfterMsOf}. The
   * wait is at least this long, capped by `maxDelayMs`.
   */
  retryAfter?: (errorOrResult: unknown, wallNowMs: number) => number | undefined;
  /** Time source. Default {@link systemClock}. */
  clock?: Clock;
}

/** {@link RetryOptions} with every default applied. */
export interface ResolvedRetryOptions<R = unknown> {
  readonly maxAttempts: number;
  readonly backoff: BackoffKind | BackoffFunction;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxElapsedMs: number;
  readonly multiplier: number;
  readonly jitter: Jitter;
  readonly random: () => number;
  readonly retryOn: (error: unknown, attempt: number) => boolean;
  readonly retryOnResult?: (result: R, attempt: number) => boolean;
  readonly retryAfter: (errorOrResult: unknown, wallNowMs: number) => number | undefined;
  readonly clock: Clock;
}

/** What a failed attempt produced. */
export type RetryFailure = { readonly error: unknown } | { readonly result: unknown };

/** Why retry stopped without a success. */
export type GiveUpReason = "maxAttempts" | "maxElapsed" | "notRetryable" | "aborted";

/** Events of {@link RetryPolicy}. */
export interface RetryEvents {
  /** Attempt `attempt` failed; the next starts after `delayMs`. */
  retry: RetryFailure & { readonly attempt: number; readonly delayMs: number };
  /** No more attempts: the call rejects. */
  giveUp: RetryFailure & { readonly attempts: number; readonly reason: GiveUpReason };
  /** Attempt number `attempts` succeeded. */
  success: { readonly attempts: number };
}

/** Built on the first construction, not at import. */
const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    maxAttempts: integer(1),
    backoff: satisfying<BackoffKind | BackoffFunction>(
      (value) => typeof value === "function" || value === "constant" || value === "linear" || value === "exponential",
      'one of "constant", "linear", "exponential", or a function',
    ),
    baseDelayMs: durationMs(0),
    maxDelayMs: durationMs(0),
    maxElapsedMs: durationMs(0, true),
    multiplier: positiveNumber(1, true),
    jitter: oneOf(["none", "full", "equal", "decorrelated"]),
    random: func<() => number>(),
    retryOn: func<(error: unknown, attempt: number) => boolean>(),
    retryOnResult: optional(func<(result: unknown, attempt: number) => boolean>()),
    retryAfter: func<(errorOrResult: unknown, wallNowMs: number) => number | undefined>(),
    clock: clockSchema(),
  })
);

const retryEveryError = (): boolean => true;

interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
}

function isResponseLike(value: unknown): value is ResponseLike {
  return typeof value === "object" && value !== null &&
    typeof (value as ResponseLike).status === "number" &&
    typeof (value as ResponseLike).headers?.get === "function";
}

/**
 * Parses an HTTP `Retry-After` value (delta-seconds or an HTTP date) into ms
 * from `wallNowMs`. `undefined` if absent or malformed; a past date gives 0.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "bulwark";
 * const now = Date.UTC(2025, 0, 1);
 * if (parseRetryAfter("120", now) !== 120_000) throw new Error("seconds");
 * if (parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", now) !== 30_000) throw new Error("date");
 * if (parseRetryAfter("soon", now) !== undefined) throw new Error("malformed");
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, wallNowMs: number): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only an HTTP date has letters; a bare "1.5" or "-1" is malformed.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - wallNowMs);
}

/**
 * The default `retryAfter` of {@link RetryOptions}: `retryAfterMs` of a
 * {@link RateLimitExceededError} or {@link CircuitOpenError}; the
 * `Retry-After` header of a 429 or 503 `Response`, given as the result or
 * as the `response` property of an error.
 *
 * @example
 * ```ts
 * import { RateLimitExceededError, retryAfterMsOf } from "bulwark";
 * const response = new Response(null, { status: 429, headers: { "retry-after": "2" } });
 * if (retryAfterMsOf(response, Date.now()) !== 2_000) throw new Error("header");
 * if (retryAfterMsOf(new RateLimitExceededError(250), 0) !== 250) throw new Error("error");
 * ```
 */
export function retryAfterMsOf(errorOrResult: unknown, wallNowMs: number): number | undefined {
  if (errorOrResult instanceof RateLimitExceededError || errorOrResult instanceof CircuitOpenError) {
    return errorOrResult.retryAfterMs;
  }
  const response = isResponseLike(errorOrResult)
    ? errorOrResult
    : isResponseLike((errorOrResult as { response?: unknown } | null)?.response)
    ? (errorOrResult as { response: ResponseLike }).response
    : undefined;
  if (response === undefined || (response.status !== 429 && response.status !== 503)) return undefined;
  return parseRetryAfter(response.headers.get("retry-after"), wallNowMs);
}

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * A ready-made `retryOnResult` for `fetch`: true for a `Response` whose
 * status says "try again later" (408, 425, 429, 500, 502, 503, 504). Other
 * statuses, 501 and 4xx client errors among them, are final.
 *
 * A `Response` that will be retried still holds its connection: cancel its
 * body (`response.body?.cancel()`) in a `retry` listener.
 *
 * @example
 * ```ts
 * import { isRetryableResponse } from "bulwark";
 * if (!isRetryableResponse(new Response(null, { status: 503 }))) throw new Error("503");
 * if (isRetryableResponse(new Response(null, { status: 404 }))) throw new Error("404");
 * ```
 */
export function isRetryableResponse(result: unknown): boolean {
  return isResponseLike(result) && RETRYABLE_STATUSES.has(result.status);
}

/**
 * The defaults a retry adds to `configure()`'s, in the order its options
 * have always listed them (`random` is replaced by the current
 * `Math.random` on each construction). Built on first use.
 */
const retryOwnDefaults = /* @__PURE__ */ lazy(() => ({
  random: Math.random,
  retryOn: retryEveryError,
  retryAfter: retryAfterMsOf,
  clock: systemClock as Clock,
}));

/**
 * Runs operations again after failures. Each call's attempts share its
 * context, so the caller's signal reaches every attempt and stops a pending
 * wait at once (rejecting with the abort reason).
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const policy = new RetryPolicy({ maxAttempts: 3, baseDelayMs: 100, jitter: "none", clock });
 * let calls = 0;
 * const result = policy.execute(async () => {
 *   if (++calls < 3) throw new Error("flaky");
 *   return calls;
 * });
 * await clock.advance(300); // waits of 100 ms, then 200 ms
 * if ((await result) !== 3) throw new Error("expected the third attempt");
 * ```
 */
export class RetryPolicy<R = unknown> implements LayeredPolicy<R>, FusablePolicy<R> {
  /** The options in force, defaults applied. */
  readonly options: ResolvedRetryOptions<R>;
  readonly #events = new Emitter<RetryEvents>();
  readonly #tracksElapsed: boolean;

  constructor(options: RetryOptions<R> = {}) {
    throwIf(badOptions("RetryPolicy", options));
    // The defaults are one shared object, checked once while configure()
    // leaves them: each construction checks only the options given (and
    // reads Math.random now, as a caller may have replaced it).
    const base = typeof options.backoff === "function"
      ? sharedBase("retry (backoff function)", "retry", RETRY_DEFAULTS, { ...retryOwnDefaults(), jitter: "none" as const })
      : sharedBase("retry", "retry", RETRY_DEFAULTS, retryOwnDefaults());
    this.options = Object.freeze(
      validateOver("RetryPolicy", optionsSchema(), base, { random: Math.random, ...options }) as ResolvedRetryOptions<R>,
    );
    this.#tracksElapsed = this.options.maxElapsedMs < Number.MAX_SAFE_INTEGER;
  }

  /**
   * Quick retries for cheap, idempotent calls (reads, lookups): 5 attempts,
   * 100 ms base delay growing 1.5× per attempt, capped at 2 s.
   *
   * @example
   * ```ts
   * import { RetryPolicy } from "bulwark";
   * if (RetryPolicy.aggressive().options.maxAttempts !== 5) throw new Error("preset");
   * ```
   */
  static aggressive<R = unknown>(overrides: RetryOptions<R> = {}): RetryPolicy<R> {
    throwIf(badOptions("RetryPolicy.aggressive", overrides, "overrides"));
    return new RetryPolicy({
      maxAttempts: 5,
      backoff: "exponential",
      baseDelayMs: 100,
      multiplier: 1.5,
      maxDelayMs: 2_000,
      ...overrides,
    });
  }

  /**
   * Slow retries for expensive calls, or where quick retries would make
   * things worse (database writes, payments): 3 attempts, 2 s base delay
   * doubling per attempt, capped at 30 s.
   *
   * @example
   * ```ts
   * import { RetryPolicy } from "bulwark";
   * if (RetryPolicy.conservative().options.baseDelayMs !== 2_000) throw new Error("preset");
   * ```
   */
  static conservative<R = unknown>(overrides: RetryOptions<R> = {}): RetryPolicy<R> {
    throwIf(badOptions("RetryPolicy.conservative", overrides, "overrides"));
    return new RetryPolicy({
      maxAttempts: 3,
      backoff: "exponential",
      baseDelayMs: 2_000,
      multiplier: 2,
      maxDelayMs: 30_000,
      ...overrides,
    });
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof RetryEvents>(event: K, listener: Listener<RetryEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /**
   * Runs `fn` until it succeeds, a failure is not retryable, or attempts run
   * out ({@link RetryExhaustedError}, the last error as `cause`).
   */
  execute<T extends R>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    return executeIn(this, fn, signal, "RetryPolicy.execute");
  }

  /** Wraps `fn` so that every call is retried under this policy. */
  wrap<A extends unknown[], T extends R>(fn: (...args: A) => T | PromiseLike<T>): (...args: A) => Promise<T> {
    return wrapIn(this, fn, "RetryPolicy.wrap");
  }

  /**
   * @internal The first attempt runs outside any async function: when it
   * succeeds, retry costs one promise reaction and, unless results are
   * checked, no closure but the rejection handler.
   */
  [runInContext]<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T> {
    return this[runThrough](fn, parent, callOperation);
  }

  /** @internal Runs each attempt as `next(fn, context)`. */
  [runThrough]<T>(fn: Operation<T>, parent: ExecutionContext | undefined, next: Next): Promise<T> {
    let startedAt = 0;
    if (this.#tracksElapsed) {
      try {
        startedAt = this.options.clock.now();
      } catch (error) {
        // A clock that cannot tell the time fails the call before it runs: a rejection, not a throw.
        return Promise.reject(error);
      }
    }
    let result: T | PromiseLike<T>;
    try {
      result = next(fn, parent ?? contextFor(undefined));
    } catch (error) {
      try {
        return this.#afterFirstError(fn, parent, next, startedAt, error);
      } catch (predicateError) {
        // A throwing retryOn: the call rejects with its error, as it does
        // after an asynchronous failure (execute returns a promise, so never throws).
        return Promise.reject(predicateError);
      }
    }
    if (!isThenable(result)) {
      try {
        return Promise.resolve(this.#afterFirstValue(fn, parent, next, startedAt, result));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const onValue = this.options.retryOnResult === undefined && !this.#events.has("success")
      ? undefined
      : (value: T) => this.#afterFirstValue(fn, parent, next, startedAt, value);
    return Promise.resolve(result).then(onValue, (error) => this.#afterFirstError(fn, parent, next, startedAt, error));
  }

  /**
   * @internal In a fused pipeline: the first attempt's outcome is judged in
   * the operation's reaction; a retry returns the promise of the later
   * attempts, which run `inner` layered.
   */
  [fuse](inner: Runner | undefined): Stage {
    const next: Next = inner === undefined ? callOperation : (fn, context) => inner(fn, parentOf(context));
    return new RetryPolicy.#Stage(this as unknown as RetryPolicy<unknown>, next);
  }

  // A class, not an object of closures: its methods are one function for
  // every policy, so a fused call site shared by several pipelines still
  // sees one target (V8 before Maglev inlines a closure shared by many
  // pipelines less well).
  static readonly #Stage = class implements Stage {
    readonly mayWait = true;
    readonly #policy: RetryPolicy<unknown>;
    readonly #next: Next;
    readonly #timed: boolean;
    constructor(policy: RetryPolicy<unknown>, next: Next) {
      this.#policy = policy;
      this.#next = next;
      this.#timed = policy.#tracksElapsed;
    }
    enter(call: FusedCall): unknown {
      return this.#timed ? new FirstAttempt(call.context, this.#policy.options.clock.now()) : call.context;
    }
    onValue(state: unknown, value: unknown, call: FusedCall): unknown {
      const policy = this.#policy;
      if (policy.options.retryOnResult === undefined && !policy.#events.has("success")) return value;
      const first = this.#timed ? state as FirstAttempt : undefined;
      const parent = first === undefined ? state as ExecutionContext | undefined : first.parent;
      return policy.#afterFirstValue(call.fn, parent, this.#next, first?.startedAt ?? 0, value);
    }
    onError(state: unknown, error: unknown, call: FusedCall): unknown {
      const policy = this.#policy;
      const first = this.#timed ? state as FirstAttempt : undefined;
      const parent = first === undefined ? state as ExecutionContext | undefined : first.parent;
      if (!policy.#isRetryable(error, 1, parent)) {
        policy.#giveUp(1, "notRetryable", { error });
        throw error;
      }
      return policy.#retry(call.fn, parent, this.#next, first?.startedAt ?? 0, { error });
    }
  };

  #afterFirstValue<T>(
    fn: Operation<T>,
    parent: ExecutionContext | undefined,
    next: Next,
    startedAt: number,
    value: T,
  ): T | Promise<T> {
    // `T extends R` where the operation came through `execute`; pipelines pass what their types allowed.
    if (this.options.retryOnResult?.(value as T & R, 1)) return this.#retry(fn, parent, next, startedAt, { result: value });
    if (this.#events.has("success")) this.#events.emit("success", { attempts: 1 });
    return value;
  }

  #afterFirstError<T>(
    fn: Operation<T>,
    parent: ExecutionContext | undefined,
    next: Next,
    startedAt: number,
    error: unknown,
  ): Promise<T> {
    if (!this.#isRetryable(error, 1, parent)) {
      this.#giveUp(1, "notRetryable", { error });
      return Promise.reject(error);
    }
    return this.#retry(fn, parent, next, startedAt, { error });
  }

  /** Waits, then runs attempts 2 and on, after attempt 1 failed with `failure`. */
  async #retry<T>(
    fn: Operation<T>,
    parent: ExecutionContext | undefined,
    next: Next,
    startedAt: number,
    failure: RetryFailure,
  ): Promise<T> {
    const options = this.options;
    const context = parent ?? contextFor(undefined);
    let previousDelayMs = options.baseDelayMs;
    for (let attempt = 1;;) {
      if (attempt >= options.maxAttempts) throw this.#exhausted(attempt, "maxAttempts", failure);
      let delayMs = previousDelayMs = backoffDelay(options, attempt, previousDelayMs);
      const serverDelayMs = options.retryAfter(
        "error" in failure ? failure.error : failure.result,
        options.clock.wallNow(),
      );
      if (serverDelayMs !== undefined && serverDelayMs > delayMs) {
        delayMs = Math.min(serverDelayMs, options.maxDelayMs);
      }
      if (this.#tracksElapsed && options.clock.now() - startedAt + delayMs > options.maxElapsedMs) {
        throw this.#exhausted(attempt, "maxElapsed", failure);
      }
      if (this.#events.has("retry")) this.#events.emit("retry", { ...failure, attempt, delayMs });

      const signal = parent?.signal;
      try {
        if (delayMs > 0) await options.clock.sleep(delayMs, signal);
        else if (signal?.aborted) throw signal.reason;
      } catch (reason) {
        this.#giveUp(attempt, "aborted", failure);
        throw reason;
      }

      attempt++;
      let result: Awaited<T>;
      try {
        result = await next(fn, context);
      } catch (error) {
        if (!this.#isRetryable(error, attempt, parent)) {
          this.#giveUp(attempt, "notRetryable", { error });
          throw error;
        }
        failure = { error };
        continue;
      }
      // Judged outside the try: a throwing retryOnResult reaches the caller,
      // as on the first attempt, rather than counting as a failed attempt.
      if (options.retryOnResult === undefined || !options.retryOnResult(result as Awaited<T> & R, attempt)) {
        if (this.#events.has("success")) this.#events.emit("success", { attempts: attempt });
        return result;
      }
      failure = { result };
    }
  }

  #isRetryable(error: unknown, attempt: number, parent: ExecutionContext | undefined): boolean {
    if (error instanceof NotRetryableError) return false;
    if (parent !== undefined && parent.signal.aborted) return false;
    return this.options.retryOn(error, attempt);
  }

  #giveUp(attempts: number, reason: GiveUpReason, failure: RetryFailure): void {
    if (this.#events.has("giveUp")) this.#events.emit("giveUp", { ...failure, attempts, reason });
  }

  #exhausted(attempts: number, reason: GiveUpReason, failure: RetryFailure): RetryExhaustedError {
    this.#giveUp(attempts, reason, failure);
    if ("error" in failure) return new RetryExhaustedError(attempts, failure.error);
    return new RetryExhaustedError(attempts, undefined, {
      lastResult: failure.result,
      message: `Gave up after ${attempts} attempt${attempts === 1 ? "" : "s"}: the last result was still a failure`,
    });
  }
}

/** A fused call's first attempt, when `maxElapsedMs` needs its start. */
class FirstAttempt {
  readonly parent: ExecutionContext | undefined;
  readonly startedAt: number;

  constructor(parent: ExecutionContext | undefined, startedAt: number) {
    this.parent = parent;
    this.startedAt = startedAt;
  }
}

/** Options of {@link retry}: the policy's, plus the caller's signal. */
export interface RetryCallOptions<T = unknown> extends RetryOptions<T> {
  /** Aborting it stops the attempts and any pending wait at once. */
  signal?: AbortSignal;
}

/** A policy built by the direct call {@link retry}, beside the option values it was built from. */
interface RetryForm {
  readonly policy: RetryPolicy;
  readonly generation: number;
  readonly keys: number;
  /** `Math.random` when it was built: the default `random`, which tests replace. */
  readonly mathRandom: () => number;
  readonly maxAttempts: unknown;
  readonly backoff: unknown;
  readonly baseDelayMs: unknown;
  readonly maxDelayMs: unknown;
  readonly maxElapsedMs: unknown;
  readonly multiplier: unknown;
  readonly jitter: unknown;
  readonly random: unknown;
  readonly retryOn: unknown;
  readonly retryOnResult: unknown;
  readonly retryAfter: unknown;
  readonly clock: unknown;
}

const NO_OPTIONS: RetryCallOptions<unknown> = {};
/** The policies `retry(fn, options)` built last (see internal/forms.ts). */
const retryForms: RetryForm[] = [];
let nextRetryForm = 0;

/** The policy for `retry(fn, options)`: one built earlier for the same option values, else a new one. */
function retryPolicyFor(options: RetryCallOptions<unknown>): RetryPolicy {
  const keys = policyKeyCount(options);
  const generation = defaultsGeneration();
  for (let i = 0; i < retryForms.length; i++) {
    const form = retryForms[i]!;
    if (
      form.keys === keys && form.generation === generation && form.mathRandom === Math.random &&
      form.maxAttempts === options.maxAttempts && form.backoff === options.backoff &&
      form.baseDelayMs === options.baseDelayMs && form.maxDelayMs === options.maxDelayMs &&
      form.maxElapsedMs === options.maxElapsedMs && form.multiplier === options.multiplier &&
      form.jitter === options.jitter && form.random === options.random && form.retryOn === options.retryOn &&
      form.retryOnResult === options.retryOnResult && form.retryAfter === options.retryAfter &&
      form.clock === options.clock
    ) {
      return form.policy;
    }
  }
  return newRetryForm(options, keys, generation);
}

/** Builds (and validates) the policy for `options`, and keeps it if its keys are exactly its options. */
function newRetryForm(options: RetryCallOptions<unknown>, keys: number, generation: number): RetryPolicy {
  const { maxAttempts, backoff, baseDelayMs, maxDelayMs, maxElapsedMs, multiplier, jitter, random, retryOn } = options;
  const { retryOnResult, retryAfter, clock } = options;
  const read = {
    maxAttempts,
    backoff,
    baseDelayMs,
    maxDelayMs,
    maxElapsedMs,
    multiplier,
    jitter,
    random,
    retryOn,
    retryOnResult,
    retryAfter,
    clock,
  };
  const given: Record<string, unknown> = {};
  let defined = 0;
  for (const [key, value] of Object.entries(read)) {
    if (value === undefined) continue;
    given[key] = value;
    defined++;
  }
  if (keys !== defined) {
    // Unknown keys, keys given as undefined, not a plain object: validated as given, never kept.
    const { signal: _, ...policyOptions } = options;
    return new RetryPolicy(policyOptions as RetryOptions);
  }
  // Built from the values just read, which the next call compares against.
  const policy = new RetryPolicy(given as RetryOptions);
  const form: RetryForm = { policy, generation, keys, mathRandom: Math.random, ...read };
  if (retryForms.length < FORMS_KEPT) retryForms.push(form);
  else retryForms[nextRetryForm++ % FORMS_KEPT] = form;
  return policy;
}

/**
 * What {@link retry} returns in decorator mode: it wraps functions whose
 * results `retryOnResult` can judge (any function when `R` is `unknown`).
 */
export type RetryDecorator<R = unknown> = <A extends unknown[], T extends R>(
  fn: (...args: A) => T | PromiseLike<T>,
) => (...args: A) => Promise<T>;

/**
 * Retries an operation, in the seeds' two modes:
 * - direct call, `retry(fn, options)`: runs `fn` (which receives the
 *   context with the signal) now, and resolves with its result;
 * - decorator, `retry(options)(fn)`: returns `fn` wrapped, same parameters,
 *   options validated once.
 *
 * Invalid options throw a `ConfigError` synchronously, in both modes. An
 * argument of the wrong type is an `InvalidArgumentError`: the direct call
 * rejects with it (`retry(undefined, options)`, `retry(3, fn)`: the
 * operation comes first), the decorator throws it (`retry(3)`, or a
 * non-function given to the decorator). The direct call reuses the policy
 * it built for the same option values (compared with `===`, under the same
 * `configure()` defaults), so a literal written at the call site costs
 * about what `RetryPolicy.execute` does; options that change on every call
 * (a new `retryOn` closure each time) are validated and built each time.
 *
 * @example
 * ```ts
 * import { retry } from "bulwark";
 * let calls = 0;
 * const value = await retry(async () => {
 *   if (++calls < 2) throw new Error("flaky");
 *   return "ok";
 * }, { maxAttempts: 3, baseDelayMs: 0 });
 * const double = retry({ maxAttempts: 2, baseDelayMs: 0 })(async (n: number) => n * 2);
 * if (value !== "ok" || (await double(21)) !== 42) throw new Error("unexpected");
 * ```
 */
export function retry<T>(fn: Operation<T>, options?: RetryCallOptions<T>): Promise<T>;
export function retry<R = unknown>(options?: RetryCallOptions<R>): RetryDecorator<R>;
export function retry<T>(
  fnOrOptions?: Operation<T> | RetryCallOptions<T>,
  maybeOptions?: RetryCallOptions<T>,
): Promise<T> | RetryDecorator<T> {
  if (typeof fnOrOptions === "function" || maybeOptions !== undefined) {
    // The direct call (a second argument says so): it returns a promise, so it rejects.
    const misuse = badFunction("retry", fnOrOptions, "fn") ?? badOptions("retry", maybeOptions) ??
      badSignal("retry", maybeOptions?.signal, "options.signal");
    if (misuse !== undefined) {
      return Promise.reject(
        typeof maybeOptions === "function"
          ? new InvalidArgumentError("retry", "fn", fnOrOptions, "a function: retry(fn, options) takes the operation first")
          : misuse,
      );
    }
    const options = (maybeOptions ?? NO_OPTIONS) as RetryCallOptions<unknown>;
    return retryPolicyFor(options).execute(fnOrOptions as Operation<T>, options.signal);
  }
  throwIf(badOptions("retry", fnOrOptions));
  const { signal, ...options } = (fnOrOptions ?? {}) as RetryCallOptions<T>;
  throwIf(badSignal("retry", signal, "options.signal"));
  const policy = new RetryPolicy(options as RetryOptions);
  return (fn) => {
    throwIf(badFunction("retry", fn, "fn"));
    return (...args) => policy.execute(() => fn(...args), signal);
  };
}
