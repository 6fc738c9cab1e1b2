/**
 * Every error the library throws extends {@link ResilienceError} and carries a
 * stable `code` plus the numbers a caller needs to act on it.
 *
 * Fields set by every constructor are `declare`d: each is created by its
 * assignment, in the same order a class field would be (after `super()`),
 * without a field definition of its own in every bundle. The two set only
 * when given (`lastResult`, `limiterName`) stay class fields: they exist,
 * `undefined`, on every instance, as they always have.
 *
 * @module
 */
import { openMessage } from "./internal/open_message.ts";

/** Stable, machine-readable error codes. Never renamed once published. */
export type ResilienceErrorCode =
  | "ERR_CONFIG"
  | "ERR_CIRCUIT_OPEN"
  | "ERR_TIMEOUT"
  | "ERR_RETRY_EXHAUSTED"
  | "ERR_BULKHEAD_REJECTED"
  | "ERR_RATE_LIMIT_EXCEEDED"
  | "ERR_NOT_RETRYABLE"
  | "ERR_CHAOS_FAULT"
  | "ERR_INVALID_ARGUMENT"
  | "ERR_STORE"
  | "ERR_STORE_TIMEOUT"
  | "ERR_STORE_LIMIT"
  | "ERR_SHUTDOWN"
  | "ERR_SHUTDOWN_UNSUPPORTED"
  | "ERR_HEARTBEAT"
  | "ERR_WATCHDOG"
  | "ERR_WATCHDOG_TIMEOUT"
  | "ERR_IDEMPOTENCY_KEY"
  | "ERR_IDEMPOTENCY_CONFLICT"
  | "ERR_IDEMPOTENCY_MISMATCH"
  | "ERR_IDEMPOTENCY_STORED_FAILURE"
  | "ERR_HTTP_STATUS";

/**
 * Base class of every error thrown by bulwark.
 *
 * @example
 * ```ts
 * import { CircuitOpenError, ResilienceError } from "bulwark";
 * const error = new CircuitOpenError("api", 1_000);
 * if (!(error instanceof ResilienceError) || error.code !== "ERR_CIRCUIT_OPEN") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export class ResilienceError extends Error {
  /** Stable machine-readable code. */
  declare readonly code: ResilienceErrorCode;

  constructor(code: ResilienceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One invalid option, as reported by {@link ConfigError}. */
export interface ConfigIssue {
  /** Dotted path of the option, e.g. `"maxFailures"` or `"retry.baseDelayMs"`. */
  readonly field: string;
  /** The value given (`undefined` for a missing required field). */
  readonly value: unknown;
  /** What is allowed, in words: `"an integer >= 1"`. */
  readonly allowed: string;
}

/** A value as shown in error messages: short, and never throwing. */
export function show(value: unknown): string {
  if (typeof value === "function") return `[function ${value.name || "anonymous"}]`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (value === undefined) return "undefined";
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Thrown when options are invalid. Lists every bad field at once, with the
 * value given and what is allowed, so one fix round is enough.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, ConfigError } from "bulwark";
 * try {
 *   new CircuitBreaker({ maxFailures: 0 });
 * } catch (error) {
 *   if (!(error instanceof ConfigError)) throw error;
 *   if (error.issues[0]?.field !== "maxFailures") throw error;
 * }
 * ```
 */
export class ConfigError extends ResilienceError {
  /** Every invalid field. */
  declare readonly issues: readonly ConfigIssue[];
  /** What was being configured, e.g. `"CircuitBreaker"`. */
  declare readonly target: string;

  constructor(target: string, issues: readonly ConfigIssue[]) {
    const lines = issues.map((issue) =>
      `  - '${issue.field}' must be ${issue.allowed}: current value is ${show(issue.value)}`
    );
    super("ERR_CONFIG", `Invalid ${target} options:\n${lines.join("\n")}`);
    this.issues = issues;
    this.target = target;
  }
}

/**
 * Thrown when a call is refused because a circuit is open (or forced open,
 * or its half-open probe slots are all taken).
 */
export class CircuitOpenError extends ResilienceError {
  /** Name of the breaker that refused the call. */
  declare readonly breakerName: string;
  /** Whole milliseconds (rounded up) until the breaker lets a probe through (0 if unknown or now). */
  declare readonly remainingMs: number;

  /**
   * `options.cause`: the error that opened the circuit
   * (`CircuitBreaker.openError`), when one did.
   */
  constructor(breakerName: string, remainingMs: number, message?: string, options?: { cause?: unknown }) {
    const wholeMs = Math.ceil(remainingMs);
    super(
      "ERR_CIRCUIT_OPEN",
      message ?? openMessage(breakerName, wholeMs),
      options?.cause === undefined ? undefined : options,
    );
    this.breakerName = breakerName;
    this.remainingMs = wholeMs;
  }

  /** Alias of {@link CircuitOpenError.remainingMs}, read by retry to wait long enough. */
  get retryAfterMs(): number {
    return this.remainingMs;
  }
}

/**
 * Thrown when an operation exceeds its deadline. `name` is `"TimeoutError"`,
 * like the DOM's, so generic timeout checks recognise it.
 */
export class TimeoutError extends ResilienceError {
  /** The deadline that was exceeded, in ms. */
  declare readonly timeoutMs: number;

  constructor(timeoutMs: number, message?: string) {
    super("ERR_TIMEOUT", message ?? `Operation timed out after ${timeoutMs} ms`);
    this.name = "TimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** Thrown when retry gives up; the last error is the `cause`. */
export class RetryExhaustedError extends ResilienceError {
  /** How many attempts were made. */
  declare readonly attempts: number;
  /** The last failing result, when the last attempt failed by result rather than by throwing. */
  readonly lastResult?: unknown;

  constructor(attempts: number, cause: unknown, options: { message?: string; lastResult?: unknown } = {}) {
    super(
      "ERR_RETRY_EXHAUSTED",
      options.message ?? `Gave up after ${attempts} attempt${attempts === 1 ? "" : "s"}`,
      { cause },
    );
    this.attempts = attempts;
    if ("lastResult" in options) this.lastResult = options.lastResult;
  }
}

/** Thrown when a bulkhead has no free slot and no queue room (or the queue wait timed out). */
export class BulkheadRejectedError extends ResilienceError {
  /** Concurrent executions allowed. */
  declare readonly maxConcurrent: number;
  /** Queue capacity. */
  declare readonly maxQueue: number;

  constructor(maxConcurrent: number, maxQueue: number, message?: string) {
    super(
      "ERR_BULKHEAD_REJECTED",
      message ?? `Bulkhead full: ${maxConcurrent} running and ${maxQueue} queued`,
    );
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }
}

/** Thrown when a rate limit is exhausted and the caller will not (or cannot) wait. */
export class RateLimitExceededError extends ResilienceError {
  /** Milliseconds until the request could succeed. */
  declare readonly retryAfterMs: number;
  /** Name of the limiter, if it has one. */
  readonly limiterName?: string;

  constructor(retryAfterMs: number, limiterName?: string, message?: string) {
    super(
      "ERR_RATE_LIMIT_EXCEEDED",
      message ??
        `Rate limit${limiterName ? ` '${limiterName}'` : ""} exceeded; retry in ${Math.ceil(retryAfterMs)} ms`,
    );
    this.retryAfterMs = retryAfterMs;
    if (limiterName !== undefined) this.limiterName = limiterName;
  }
}

/**
 * Thrown by an operation to tell retry to stop at once: retry rethrows it
 * without further attempts. The original error is the `cause`.
 */
export class NotRetryableError extends ResilienceError {
  constructor(cause: unknown, message?: string) {
    super(
      "ERR_NOT_RETRYABLE",
      message ?? `Not retryable${cause instanceof Error ? `: ${cause.message}` : ""}`,
      { cause },
    );
  }
}

/** The default fault injected by a chaos policy. */
export class ChaosFaultError extends ResilienceError {
  constructor(message?: string) {
    super("ERR_CHAOS_FAULT", message ?? "Fault injected by chaos policy");
  }
}

/**
 * Thrown (or, by a call that returns a promise, rejected with) when a
 * positional argument has the wrong type: an operation that is not a
 * function, a `signal` that is not an `AbortSignal`, a number where an
 * options object belongs. The call touches no state before it fails, so a
 * misuse is never mistaken for the operation's own failure: no retry, no
 * fallback, no breaker failure is counted.
 *
 * Calls that return a promise reject with it; calls that return
 * synchronously (constructors, `wrap`, `executeSync`, decorators) throw it.
 *
 * @example
 * ```ts
 * import { InvalidArgumentError, ResilienceError, RetryPolicy } from "bulwark";
 * const policy = new RetryPolicy({ maxAttempts: 3 });
 * // A name where the operation belongs: refused at once, never retried.
 * const error = await policy.execute("getStock" as never).catch((e: unknown) => e);
 * if (!(error instanceof InvalidArgumentError) || !(error instanceof ResilienceError)) throw error;
 * if (error.code !== "ERR_INVALID_ARGUMENT" || error.argument !== "fn") throw error;
 * if (!error.message.includes(`'fn' must be a function: current value is "getStock"`)) throw error;
 * ```
 */
export class InvalidArgumentError extends ResilienceError {
  /** The call that refused it, e.g. `"RetryPolicy.execute"`. */
  declare readonly target: string;
  /** The argument's name, e.g. `"fn"` or `"options.signal"`. */
  declare readonly argument: string;
  /** The value given. */
  declare readonly value: unknown;
  /** What is allowed, in words: `"a function"`. */
  declare readonly allowed: string;

  constructor(target: string, argument: string, value: unknown, allowed: string) {
    super("ERR_INVALID_ARGUMENT", `${target}: '${argument}' must be ${allowed}: current value is ${show(value)}`);
    this.target = target;
    this.argument = argument;
    this.value = value;
    this.allowed = allowed;
  }
}

/** The store operations, as named in {@link StoreError}. */
export type StoreOperation = "get" | "set" | "delete" | "insertIfAbsent" | "compareAndSet" | "update";

/**
 * A store operation failed. `code` says how:
 *
 * - `"ERR_STORE"`: the engine failed (its error is the `cause`), or answered
 *   something the adapter cannot read;
 * - `"ERR_STORE_TIMEOUT"`: no answer within the adapter's `timeoutMs`
 *   (`timeoutMs` carries it);
 * - `"ERR_STORE_LIMIT"`: a key or value over the engine's limit, refused
 *   before any I/O (`limit` and `actual` carry the numbers, in bytes).
 *
 * An operation aborted through its `signal` rejects with the signal's
 * reason instead, like every other abortable call in bulwark.
 *
 * @example
 * ```ts
 * import { ResilienceError, StoreError } from "bulwark";
 * const error = new StoreError("ERR_STORE_LIMIT", "workers-kv", "set", "k", "key is 600 bytes; Workers KV allows at most 512", {
 *   limit: 512,
 *   actual: 600,
 * });
 * if (!(error instanceof ResilienceError) || error.limit !== 512) throw error;
 * ```
 */
export class StoreError extends ResilienceError {
  /** The store's name, e.g. `"redis"`. */
  declare readonly store: string;
  /** The operation that failed. */
  declare readonly operation: StoreOperation;
  /** The key (without prefix), if the operation had one. */
  declare readonly key: string | undefined;
  /** For `ERR_STORE_TIMEOUT`: the bound that passed, in ms. */
  declare readonly timeoutMs: number | undefined;
  /** For `ERR_STORE_LIMIT`: the engine's limit, in bytes. */
  declare readonly limit: number | undefined;
  /** For `ERR_STORE_LIMIT`: the size given, in bytes. */
  declare readonly actual: number | undefined;

  constructor(
    code: "ERR_STORE" | "ERR_STORE_TIMEOUT" | "ERR_STORE_LIMIT",
    store: string,
    operation: StoreOperation,
    key: string | undefined,
    detail: string,
    options: { cause?: unknown; timeoutMs?: number; limit?: number; actual?: number } = {},
  ) {
    super(code, `Store '${store}' ${operation}${key === undefined ? "" : ` of '${key}'`} failed: ${detail}`, {
      cause: options.cause,
    });
    this.store = store;
    this.operation = operation;
    this.key = key;
    this.timeoutMs = options.timeoutMs;
    this.limit = options.limit;
    this.actual = options.actual;
  }
}

/**
 * A graceful shutdown was misused: a callback registered twice under one
 * name, a registration after shutdown began, handlers installed twice, or
 * signal handlers asked of a shutdown that has no signal source.
 *
 * @example
 * ```ts
 * import { GracefulShutdown, ShutdownError } from "bulwark";
 * const shutdown = new GracefulShutdown({ signalSource: { name: "none", on: () => () => {} } });
 * shutdown.register("db", () => {});
 * try {
 *   shutdown.register("db", () => {});
 *   throw new Error("should refuse a duplicate name");
 * } catch (error) {
 *   if (!(error instanceof ShutdownError) || error.code !== "ERR_SHUTDOWN") throw error;
 * }
 * ```
 */
export class ShutdownError extends ResilienceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_SHUTDOWN", message, options);
  }
}

/**
 * The runtime has no termination signals for a {@link GracefulShutdown} to
 * listen to: Cloudflare Workers. There, finish work with `ctx.waitUntil(promise)`
 * (the isolate stays alive until it settles) and schedule clean-up with a
 * Durable Object alarm (`state.storage.setAlarm(...)`).
 *
 * @example
 * ```ts
 * import { ResilienceError, ShutdownUnsupportedError } from "bulwark";
 * const error = new ShutdownUnsupportedError("Cloudflare Workers");
 * if (!(error instanceof ResilienceError) || !error.message.includes("ctx.waitUntil")) throw error;
 * ```
 */
export class ShutdownUnsupportedError extends ResilienceError {
  /** The runtime, e.g. `"Cloudflare Workers"`. */
  declare readonly runtime: string;

  constructor(runtime: string) {
    super(
      "ERR_SHUTDOWN_UNSUPPORTED",
      `GracefulShutdown: ${runtime} has no termination signals. Use ctx.waitUntil(promise) to finish work after a ` +
        "response, and Durable Object alarms (state.storage.setAlarm) for clean-up that must run later; " +
        "or pass an explicit signalSource.",
    );
    this.runtime = runtime;
  }
}

/**
 * A heartbeat could not do its work: its store could not be written (at
 * `start()` or by `beat()`; the error of the store is the `cause`), or it was
 * started twice, or after `shutdown()`.
 *
 * @example
 * ```ts
 * import { HeartbeatError, ResilienceError } from "bulwark";
 * const error = new HeartbeatError("state file /nope/app.heartbeat is not writable");
 * if (!(error instanceof ResilienceError) || error.code !== "ERR_HEARTBEAT") throw error;
 * ```
 */
export class HeartbeatError extends ResilienceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_HEARTBEAT", message, options);
  }
}

/**
 * A watchdog was misused (started twice, or after `shutdown()`). Base class
 * of {@link WatchdogTimeoutError}.
 *
 * @example
 * ```ts
 * import { ResilienceError, WatchdogError } from "bulwark";
 * const error = new WatchdogError("Watchdog 'worker' is already running");
 * if (!(error instanceof ResilienceError) || error.code !== "ERR_WATCHDOG") throw error;
 * ```
 */
export class WatchdogError extends ResilienceError {
  constructor(message: string, options?: { cause?: unknown; code?: "ERR_WATCHDOG" | "ERR_WATCHDOG_TIMEOUT" }) {
    super(options?.code ?? "ERR_WATCHDOG", message, options);
  }
}

/**
 * A watched block stalled: no ping for longer than the watchdog's
 * `timeoutMs`. Thrown when a {@link watchdogContext} created with
 * `raiseOnTimeout` is disposed after a stall.
 *
 * @example
 * ```ts
 * import { WatchdogError, WatchdogTimeoutError } from "bulwark";
 * const error = new WatchdogTimeoutError("worker", 31_000);
 * if (!(error instanceof WatchdogError) || error.inactiveMs !== 31_000) throw error;
 * if (error.code !== "ERR_WATCHDOG_TIMEOUT") throw error;
 * ```
 */
export class WatchdogTimeoutError extends WatchdogError {
  /** The watchdog's name. */
  declare readonly watchdogName: string;
  /** Ms without a ping when the stall was detected. */
  declare readonly inactiveMs: number;

  constructor(watchdogName: string, inactiveMs: number, message?: string) {
    super(message ?? `Watchdog '${watchdogName}' timed out: no activity for ${Math.round(inactiveMs)} ms`, {
      code: "ERR_WATCHDOG_TIMEOUT",
    });
    this.watchdogName = watchdogName;
    this.inactiveMs = inactiveMs;
  }
}

/**
 * An idempotency key was refused: empty, longer than 255 characters, or
 * holding a character outside printable ASCII (0x20 to 0x7E). Nothing was
 * stored or claimed.
 *
 * @example
 * ```ts
 * import { IdempotencyKeyError, MemoryIdempotencyStore } from "bulwark";
 * const store = new MemoryIdempotencyStore();
 * const error = await store.get("café").catch((e: unknown) => e);
 * if (!(error instanceof IdempotencyKeyError) || error.code !== "ERR_IDEMPOTENCY_KEY") throw error;
 * ```
 */
export class IdempotencyKeyError extends ResilienceError {
  /** The key given. */
  declare readonly key: unknown;
  /** What is wrong with it, in words. */
  declare readonly reason: string;

  constructor(key: unknown, reason: string) {
    super(
      "ERR_IDEMPOTENCY_KEY",
      `Invalid idempotency key ${show(key)}: ${reason} (allowed: 1 to 255 printable ASCII characters)`,
    );
    this.key = key;
    this.reason = reason;
  }
}

/**
 * The key is claimed by a call still in progress (and `onConflict` is
 * `"throw"`, or waiting for its result ran out of `waitTimeoutMs`). The
 * caller may retry later: the first call's result will then be replayed.
 *
 * @example
 * ```ts
 * import { IdempotencyConflictError, ResilienceError } from "bulwark";
 * const error = new IdempotencyConflictError("order-1", 0);
 * if (!(error instanceof ResilienceError) || error.code !== "ERR_IDEMPOTENCY_CONFLICT") throw error;
 * ```
 */
export class IdempotencyConflictError extends ResilienceError {
  /** The idempotency key (without the store's prefix). */
  declare readonly key: string;
  /** How long this caller waited for the first call's result, in ms (0 with `onConflict: "throw"`). */
  declare readonly waitedMs: number;

  constructor(key: string, waitedMs: number) {
    super(
      "ERR_IDEMPOTENCY_CONFLICT",
      waitedMs > 0
        ? `Idempotency key '${key}' is still in progress after waiting ${Math.round(waitedMs)} ms`
        : `Idempotency key '${key}' is already in progress`,
    );
    this.key = key;
    this.waitedMs = waitedMs;
  }
}

/**
 * The key was used before with a different payload (its fingerprint
 * differs): a client bug, never replayed, never run.
 *
 * @example
 * ```ts
 * import { IdempotencyMismatchError } from "bulwark";
 * const error = new IdempotencyMismatchError("order-1");
 * if (error.code !== "ERR_IDEMPOTENCY_MISMATCH" || error.key !== "order-1") throw error;
 * ```
 */
export class IdempotencyMismatchError extends ResilienceError {
  /** The idempotency key (without the store's prefix). */
  declare readonly key: string;

  constructor(key: string) {
    super("ERR_IDEMPOTENCY_MISMATCH", `Idempotency key '${key}' was already used with a different payload`);
    this.key = key;
  }
}

/**
 * The replay of a call whose failure was stored (`storeFailures`): the
 * first call threw, and every later call with its key throws this, carrying
 * the first error's `name` and `message` (the error object itself could
 * not be stored).
 *
 * @example
 * ```ts
 * import { IdempotencyStoredFailureError } from "bulwark";
 * const error = new IdempotencyStoredFailureError("order-1", { name: "TypeError", message: "card declined" });
 * if (error.code !== "ERR_IDEMPOTENCY_STORED_FAILURE" || error.failure.message !== "card declined") throw error;
 * ```
 */
export class IdempotencyStoredFailureError extends ResilienceError {
  /** The idempotency key (without the store's prefix). */
  declare readonly key: string;
  /** The first call's error, as stored. */
  declare readonly failure: { readonly name: string; readonly message: string };

  constructor(key: string, failure: { readonly name: string; readonly message: string }) {
    super("ERR_IDEMPOTENCY_STORED_FAILURE", `Idempotency key '${key}' replays a stored failure: ${failure.name}: ${failure.message}`);
    this.key = key;
    this.failure = failure;
  }
}

/**
 * An HTTP answer judged a failure (by default a 5xx): what the Hono
 * `circuitBreaker` middleware hands its breaker for such an answer, so that
 * it is counted (and filtered by the breaker's own `isFailure` /
 * `excludedErrors`) like a thrown error, and becomes the breaker's
 * `openError`. When the handler threw, its error is the `cause`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, HttpStatusError } from "bulwark";
 * const breaker = new CircuitBreaker({ maxFailures: 1 });
 * breaker.recordFailure(new HttpStatusError(502));
 * if ((breaker.openError as HttpStatusError).status !== 502 || breaker.state !== "open") throw new Error("unexpected");
 * ```
 */
export class HttpStatusError extends ResilienceError {
  /** The answer's status code. */
  declare readonly status: number;

  constructor(status: number, options?: { cause?: unknown; message?: string }) {
    super(
      "ERR_HTTP_STATUS",
      options?.message ?? `The answer's status ${status} is a failure`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.status = status;
  }
}
