import { type Clock, systemClock } from "../clock.ts";
import {
  IdempotencyConflictError,
  IdempotencyKeyError,
  IdempotencyMismatchError,
  IdempotencyStoredFailureError,
  InvalidArgumentError,
} from "../errors.ts";
import { badFunction, badOptions, isSignal, throwIf } from "../internal/arguments.ts";
import type { Json, Store } from "../store/store.ts";
import { clock as clockSchema, durationMs, func, lazy, oneOf, optional, satisfying, strictObject, validate } from "../validation.ts";
import { IdempotencyStore, idempotencyKeyProblem, type IdempotencyRecord } from "./idempotency_store.ts";

/** Options of {@link idempotent}. */
export interface IdempotentOptions<A extends unknown[]> {
  /** Where records live: an {@link IdempotencyStore}, or any atomic {@link Store} (wrapped in one with its defaults). */
  store: IdempotencyStore | Store;
  /** The idempotency key of a call: a function of its arguments (e.g. `(order) => order.id`), or one fixed key. */
  key: string | ((...args: A) => string);
  /** How long the result is replayed, in ms. Default: the store's `ttlMs`. */
  ttlMs?: number;
  /** How long a claim lasts if the call never finishes (a crash), in ms. Default: the store's `inProgressTtlMs`. */
  inProgressTtlMs?: number;
  /**
   * The payload's fingerprint: a call with the same key and another
   * fingerprint fails with `IdempotencyMismatchError`. Default: SHA-256 of
   * `JSON.stringify(args)` (through `crypto.subtle`); `false`: no check.
   */
  fingerprint?: false | ((...args: A) => string | Promise<string>);
  /**
   * A call whose key is held by a call still running: `"wait"` (default)
   * polls the store until the first result is there (then returns it), the
   * claim lapses (then runs itself), or `waitTimeoutMs` passes (then fails
   * with `IdempotencyConflictError`); `"throw"` fails at once.
   */
  onConflict?: "wait" | "throw";
  /** Longest wait with `onConflict: "wait"`, in ms. Default: the claim's `inProgressTtlMs`. */
  waitTimeoutMs?: number;
  /** First poll interval while waiting, in ms; doubles up to `maxPollIntervalMs`. Default `25`. */
  pollIntervalMs?: number;
  /** Longest poll interval, in ms. Default `1_000`. */
  maxPollIntervalMs?: number;
  /**
   * Store a failure instead of releasing the key (`true`, or a predicate of
   * the error): later calls then throw `IdempotencyStoredFailureError`.
   * Default `false`: the key is released, so the call can be retried.
   */
  storeFailures?: boolean | ((error: unknown) => boolean);
  /** The signal that aborts a call's wait, taken from its arguments. */
  signal?: (...args: A) => AbortSignal | undefined;
  /** Time source of the polling. Default `systemClock`. */
  clock?: Clock;
}

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    store: satisfying<IdempotencyStore | Store>((value) => typeof value === "object" && value !== null, "an IdempotencyStore or a Store"),
    key: satisfying<string | ((...args: never[]) => string)>(
      (value) => typeof value === "function" || (typeof value === "string" && idempotencyKeyProblem(value) === undefined),
      "a function returning the key, or a key (1 to 255 printable ASCII characters)",
    ),
    ttlMs: optional(durationMs(0, true)),
    inProgressTtlMs: optional(durationMs(0, true)),
    fingerprint: optional(
      satisfying<false | ((...args: never[]) => string)>((value) => value === false || typeof value === "function", "a function or false"),
    ),
    onConflict: oneOf(["wait", "throw"]),
    waitTimeoutMs: optional(durationMs(0)),
    pollIntervalMs: durationMs(0, true),
    maxPollIntervalMs: durationMs(0, true),
    storeFailures: satisfying<boolean | ((error: unknown) => boolean)>(
      (value) => typeof value === "boolean" || typeof value === "function",
      "a boolean or a function",
    ),
    signal: optional(func<(...args: never[]) => AbortSignal | undefined>()),
    clock: clockSchema(),
  })
);

/**
 * SHA-256 of the JSON of `value`, as lowercase hex, through `crypto.subtle`
 * (a web standard on every runtime bulwark supports): the default payload
 * fingerprint of {@link idempotent}.
 *
 * @example
 * ```ts
 * import { sha256Fingerprint } from "bulwark";
 * const a = await sha256Fingerprint([{ amount: 10 }]);
 * if (a !== await sha256Fingerprint([{ amount: 10 }]) || a === await sha256Fingerprint([{ amount: 11 }])) {
 *   throw new Error("equal payloads, equal fingerprints");
 * }
 * ```
 */
export async function sha256Fingerprint(value: unknown): Promise<string> {
  const json = JSON.stringify(value) ?? "undefined";
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(json));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function replay<R>(record: IdempotencyRecord): R {
  if (record.failure !== undefined) throw new IdempotencyStoredFailureError(record.key, record.failure);
  return record.result as R;
}

/**
 * Wraps `fn` so that it runs at most once per idempotency key: the first
 * call claims the key atomically in the store and runs; its result (a JSON
 * value) is stored and returned to every later call with that key until
 * `ttlMs` passes. A concurrent duplicate waits for that result
 * (`onConflict: "wait"`, each caller polling the store with its own timers,
 * so it works across processes and on Workers) or fails with
 * {@link IdempotencyConflictError} (`"throw"`). The same key with another
 * payload fails with {@link IdempotencyMismatchError}. When `fn` throws,
 * the key is released (the caller may retry), unless `storeFailures`.
 *
 * A call whose arguments are invalid (a bad key) rejects with
 * {@link IdempotencyKeyError} and touches no state.
 *
 * @example
 * ```ts
 * import { idempotent, MemoryIdempotencyStore } from "bulwark";
 *
 * let charged = 0;
 * const charge = idempotent(
 *   async (request: { id: string; amount: number }) => {
 *     charged += request.amount;
 *     return { receipt: `r-${request.id}` };
 *   },
 *   { store: new MemoryIdempotencyStore(), key: (request) => request.id },
 * );
 * const [a, b] = await Promise.all([charge({ id: "p1", amount: 5 }), charge({ id: "p1", amount: 5 })]);
 * if (charged !== 5 || a.receipt !== "r-p1" || b.receipt !== "r-p1") throw new Error("charged once");
 * ```
 */
export function idempotent<A extends unknown[], R>(
  fn: (...args: A) => R | Promise<R>,
  options: IdempotentOptions<A>,
): (...args: A) => Promise<Awaited<R>> {
  const target = "idempotent";
  throwIf(badFunction(target, fn) ?? badOptions(target, options));
  if (options === undefined) throw new InvalidArgumentError(target, "options", options, "an options object with store and key");
  const resolved = validate(target, optionsSchema(), {
    onConflict: "wait",
    pollIntervalMs: 25,
    maxPollIntervalMs: 1_000,
    storeFailures: false,
    clock: systemClock,
    ...options,
  });
  const records = resolved.store instanceof IdempotencyStore
    ? resolved.store
    : new IdempotencyStore({ store: resolved.store as Store });
  const inProgressTtlMs = resolved.inProgressTtlMs ?? records.inProgressTtlMs;
  const waitTimeoutMs = resolved.waitTimeoutMs ?? inProgressTtlMs;
  const keyOf = resolved.key;
  const fingerprintOf = resolved.fingerprint === false
    ? undefined
    : (resolved.fingerprint as ((...args: A) => string | Promise<string>) | undefined) ??
      ((...args: A) => sha256Fingerprint(args));
  const signalOf = resolved.signal as ((...args: A) => AbortSignal | undefined) | undefined;
  const storeFailures = resolved.storeFailures;
  const clock = resolved.clock;

  return async (...args: A): Promise<Awaited<R>> => {
    const key = typeof keyOf === "string" ? keyOf : (keyOf as unknown as (...args: A) => unknown)(...args);
    const problem = idempotencyKeyProblem(key);
    if (problem !== undefined) throw new IdempotencyKeyError(key, problem);
    const signal = signalOf?.(...args);
    if (signal !== undefined && !isSignal(signal)) {
      throw new InvalidArgumentError(target, "options.signal()", signal, "a function returning an AbortSignal or undefined");
    }
    const fingerprint = fingerprintOf === undefined ? undefined : await fingerprintOf(...args);
    const startedAt = clock.now();
    let delay = resolved.pollIntervalMs;
    for (;;) {
      signal?.throwIfAborted();
      const claim = await records.acquire(key as string, {
        ...(fingerprint === undefined ? {} : { fingerprint }),
        inProgressTtlMs,
        ...(signal === undefined ? {} : { signal }),
      });
      switch (claim.outcome) {
        case "completed":
          return replay<Awaited<R>>(claim.record);
        case "fingerprint-mismatch":
          throw new IdempotencyMismatchError(key as string);
        case "in-progress": {
          const waited = clock.now() - startedAt;
          if (resolved.onConflict === "throw") throw new IdempotencyConflictError(key as string, 0);
          if (waited >= waitTimeoutMs) throw new IdempotencyConflictError(key as string, waited);
          // Each caller polls with its own timer: nothing wakes a waiter from
          // another request's code (Workers forbid it), and it works across processes.
          await clock.sleep(Math.min(delay, waitTimeoutMs - waited), signal);
          delay = Math.min(delay * 2, resolved.maxPollIntervalMs);
          continue;
        }
        case "acquired": {
          let result: Awaited<R>;
          try {
            result = await fn(...args);
          } catch (error) {
            const store = typeof storeFailures === "function" ? storeFailures(error) : storeFailures;
            if (store) {
              const failure = {
                name: error instanceof Error ? error.name : "Error",
                message: error instanceof Error ? error.message : String(error),
              };
              // As for a release below: a store that fails here leaves the
              // claim to lapse, and the caller still sees fn's own error.
              await records.complete(key as string, claim.token, undefined, {
                failure,
                ...(resolved.ttlMs === undefined ? {} : { ttlMs: resolved.ttlMs }),
              }).catch(() => false);
            } else {
              // A release that fails leaves the claim to lapse after
              // inProgressTtlMs; the caller must still see fn's own error.
              await records.release(key as string, claim.token).catch(() => false);
            }
            throw error;
          }
          await records.complete(key as string, claim.token, result as Json | undefined, {
            ...(resolved.ttlMs === undefined ? {} : { ttlMs: resolved.ttlMs }),
          });
          return result;
        }
      }
    }
  };
}
