/**
 * The circuit breaker: stops calling a dependency that keeps failing, lets a
 * few probes through after a pause, and closes again once they succeed.
 *
 * ```
 *  closed ──(strategy trips)──▶ open ──(resetTimeoutMs)──▶ half-open
 *    ▲                           ▲                            │
 *    │                           └(probe fails, slow or hangs)┤
 *    └────────────(successThreshold probes succeed)───────────┘
 * ```
 *
 * Plus two manual states: `"forced-open"` (rejects everything until
 * {@link CircuitBreaker.reset}) and `"disabled"` (lets everything through and
 * records nothing).
 *
 * @module
 */
import type { BreakerStrategy } from "./strategy.ts";
import { ConsecutiveRule } from "./consecutive.ts";
import { CountWindowRule } from "./count_window.ts";
import { TimeWindowRule } from "./time_window.ts";
import type { BackoffFunction, BackoffKind } from "../backoff.ts";
import { type Clock, systemClock } from "../clock.ts";
import { CircuitOpenError, ConfigError, type ConfigIssue, TimeoutError } from "../errors.ts";
import { Emitter, type Listener, type Unsubscribe } from "../events.ts";
import { badCall, badFunction, badOptions, throwIf } from "../internal/arguments.ts";
import { configuredSection } from "../internal/configured.ts";
import { grownDelay, type Growth } from "../internal/growth.ts";
import { BREAKER_DEFAULTS } from "../internal/built_in_defaults.ts";
import { sharedDefaults } from "../internal/defaults.ts";
import { invoke, runInContext } from "../internal/context.ts";
import { openMessage } from "../internal/open_message.ts";
import { asCircuitOpenError } from "../internal/refusal.ts";
import { fuse, type FusedCall, SLOW, type Stage } from "../internal/fused.ts";
import { contextFor, type ExecutionContext, type Operation } from "../policy.ts";
import type { Store } from "../store/store.ts";
import type { BreakerLink, CircuitStoreErrorEvent, SharedCircuitRecord } from "./shared.ts";
import { type CircuitSharing, shareCircuit, type SharedHalf } from "./sharing.ts";
import {
  clock,
  durationMs,
  errorClasses,
  fraction,
  func,
  integer,
  lazy,
  name,
  object,
  oneOf,
  optional,
  positiveNumber,
  safeParseOver,
  satisfying,
  strictObject,
  toConfigIssues,
} from "../validation.ts";

/**
 * - `"closed"`: calls pass; outcomes are counted.
 * - `"open"`: calls are rejected until `resetTimeoutMs` has passed.
 * - `"half-open"`: up to `halfOpenMaxCalls` probes at a time are let through.
 * - `"forced-open"`: every call is rejected until `reset()`.
 * - `"disabled"`: every call passes and nothing is counted, until `reset()`.
 */
export type CircuitState = "closed" | "open" | "half-open" | "forced-open" | "disabled";

/** A class of errors, as listed in `excludedErrors`. */
export type ErrorClass = abstract new (...args: never[]) => unknown;

/**
 * A breaker's state as plain JSON, from {@link CircuitBreaker.toJSON}, to
 * save in a store and hand back as `initialState`, possibly in another
 * process. Times are wall-clock epoch ms: monotonic clocks mean nothing
 * across processes.
 */
export interface CircuitBreakerSnapshot {
  /** Format version. */
  readonly version: 1;
  /** The breaker's name. */
  readonly name: string;
  /** The state when the snapshot was taken. */
  readonly state: CircuitState;
  /** Wall-clock epoch ms when the circuit last opened; `null` when closed or disabled. */
  readonly openedAt: number | null;
  /** Failures counted toward opening (restored only by the consecutive rule: windows are per process). */
  readonly failureCount: number;
  /** Probe successes so far, when half-open. */
  readonly probeSuccesses: number;
}

/** Options of {@link CircuitBreaker}. `F` is what `fallback` returns. */
export interface CircuitBreakerOptions<F = never> {
  /** Name used in errors, events and registries. Default `"circuit-breaker"`. */
  name?: string;
  /**
   * Consecutive failures that open the circuit. Default from `configure()`,
   * built-in `5`. With a window, this rule applies only when given here.
   */
  maxFailures?: number;
  /** How long the circuit stays open before probes are let through. Default `60_000`. */
  resetTimeoutMs?: number;
  /**
   * A growing open period (cockatiel's backoff on `halfOpenAfter`,
   * resilience4j's interval function): the n-th opening in a row (probes
   * failing each time) stays open for the backoff's n-th delay, starting
   * from `resetTimeoutMs`, so a dependency that fails every probe is probed
   * less and less often. Back to `resetTimeoutMs` when the circuit closes
   * (or `reset()`). Default: none, every open period is `resetTimeoutMs`.
   */
  resetBackoff?: CircuitResetBackoff;
  /** Probes allowed in flight at once while half-open. Default `1`. */
  halfOpenMaxCalls?: number;
  /**
   * How long probes may stay in flight without a verdict while half-open
   * (resilience4j's `maxWaitDurationInHalfOpenState`): past it, a probe
   * that never settles no longer holds its slot, the circuit reopens
   * (event `probeTimeout`, then `open`) and probes again after
   * `resetTimeoutMs`; the late outcome is counted in `stats` only.
   * Default `60_000` (from `configure()`), so that a hung probe cannot
   * wedge a breaker nobody configured; `Number.MAX_SAFE_INTEGER` waits
   * for ever.
   */
  halfOpenMaxWaitMs?: number;
  /** Successful probes needed to close the circuit. Default `1`. */
  successThreshold?: number;
  /** Errors of these classes never count: neither failure nor success. */
  excludedErrors?: readonly ErrorClass[];
  /**
   * Whether a thrown error counts as a failure (after `excludedErrors`).
   * Default: every error except the caller's own cancellation (the call
   * rejects with the reason of the caller's signal after that signal
   * aborted), which counts neither way, as in Polly. Given, it decides for
   * every error, cancellations included: `() => true` counts them.
   */
  isFailure?: (error: unknown) => boolean;
  /**
   * Whether a returned value counts as a failure, e.g.
   * `(r) => r instanceof Response && r.status >= 500`. The value is still
   * returned to the caller.
   */
  isResultFailure?: (result: unknown) => boolean;
  /** Rate-based tripping over the last `windowSize` calls. */
  windowSize?: number;
  /** Rate-based tripping over the calls of the last `windowMs` ms. */
  windowMs?: number;
  /** Buckets of the time window (precision `windowMs / windowBuckets`). Default `10`. */
  windowBuckets?: number;
  /** With a window: the failure rate, in `(0, 1]`, that opens the circuit. Default `0.5`. */
  failureRateThreshold?: number;
  /** With a window: calls needed in it before a rate can open the circuit. Default `10`. */
  minimumThroughput?: number;
  /**
   * With a window: a call lasting longer than this is slow. Default `60_000`.
   * Calls are timed (two clock reads each) only when this or
   * `slowCallRateThreshold` is given, here or in `configure()`.
   */
  slowCallDurationMs?: number;
  /** With a window: the slow-call rate, in `(0, 1]`, that opens the circuit. Default `1`. */
  slowCallRateThreshold?: number;
  /** A custom rule for opening (replaces `maxFailures` and the window options). */
  strategy?: BreakerStrategy;
  /**
   * Called instead of throwing when a call is rejected (circuit open, forced
   * open, or all half-open probe slots busy); its result is returned to the
   * caller. Failures of the call itself are rethrown, never passed here:
   * that is the job of a fallback policy around the breaker.
   */
  fallback?: (error: CircuitOpenError) => F;
  /** Time source. Default {@link systemClock}. */
  clock?: Clock;
  /** State to start from, from {@link CircuitBreaker.toJSON} (possibly of another process). */
  initialState?: CircuitBreakerSnapshot;
  /**
   * Shares the circuit's state with every breaker of the same `name` on
   * this store (other isolates, processes, regions): see
   * docs/distributed.md. Requires `name`. A store without atomic
   * operations (Workers KV) needs `bestEffort: true` (two instances may
   * then both probe in half-open). Every `StoreAdapter` can (each store
   * bulwark ships); a Store of your own extends `StoreAdapter`, which
   * brings the sharing code (a breaker without a store does not bundle it).
   * The options below but `waitUntil` take their defaults from
   * `configure({ circuitBreaker })` when set there; there is no default store.
   */
  store?: Store;
  /** With `store`: how often the shared state is read, at most, per instance (by a call, in the background). Default `1_000`. */
  refreshMs?: number;
  /** With `store`: the longest any call waits on the store (a fresh instance's first read, the read of one back from idle, the probe lease). Default `1_000`. */
  storeTimeoutMs?: number;
  /**
   * With `store`: given each store write and read the breaker starts in the
   * background, so a Worker finishes it after answering: `waitUntil` from
   * `"cloudflare:workers"`, or `ctx.waitUntil.bind(ctx)`.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * With `store`: distinct instances that must trip within
   * `quorumWindowMs` before the shared circuit opens (each still opens its
   * own at once). Default `1`: the first trip opens it for all.
   */
  quorum?: number;
  /** With `quorum`: how long a trip counts toward it. Default `60_000`. */
  quorumWindowMs?: number;
  /** With `store`: accept a store without atomic operations (Workers KV): the single fleet-wide probe becomes best effort. */
  bestEffort?: boolean;
}

/**
 * The growth of the open period ({@link CircuitBreakerOptions.resetBackoff}),
 * computed as the retry's `backoffDelay` computes it, with `resetTimeoutMs`
 * as its base delay and no jitter.
 */
export interface CircuitResetBackoff {
  /** Shape of the growth, or the open period in ms for the n-th opening in a row. Default `"exponential"`. */
  readonly backoff?: BackoffKind | BackoffFunction;
  /** Growth factor of `"exponential"`. Default `2`. */
  readonly multiplier?: number;
  /** The longest open period. Default `10 × resetTimeoutMs`. */
  readonly maxDelayMs?: number;
}

/** The options a breaker runs with: given options over `configure()` over built-in defaults. */
export type ResolvedCircuitBreakerOptions<F = never> = Readonly<
  & Omit<CircuitBreakerOptions<F>, "initialState">
  & Required<
    Pick<
      CircuitBreakerOptions<F>,
      | "name"
      | "maxFailures"
      | "resetTimeoutMs"
      | "halfOpenMaxCalls"
      | "halfOpenMaxWaitMs"
      | "successThreshold"
      | "failureRateThreshold"
      | "minimumThroughput"
      | "slowCallDurationMs"
      | "slowCallRateThreshold"
      | "refreshMs"
      | "storeTimeoutMs"
      | "quorum"
      | "quorumWindowMs"
      | "bestEffort"
      | "excludedErrors"
      | "clock"
    >
  >
>;

/** Counters since the breaker was created. */
export interface CircuitBreakerStats {
  /** Every call and recording: the sum of the four below. */
  readonly totalCalls: number;
  /** Calls that succeeded. */
  readonly successfulCalls: number;
  /** Calls that failed (a counted error, or a result judged a failure). */
  readonly failedCalls: number;
  /** Calls whose error was excluded (`excludedErrors`, `isFailure`): not counted either way. */
  readonly ignoredCalls: number;
  /** Calls rejected without running. */
  readonly rejectedCalls: number;
  /** Calls slower than `slowCallDurationMs` (measured only when slow-call options are given). */
  readonly slowCalls: number;
  /** State transitions. */
  readonly stateChanges: number;
}

/** Payload of the `stateChange`, `open`, `halfOpen` and `close` events. */
export interface CircuitStateChange {
  /** The breaker's name. */
  readonly name: string;
  /** State before the transition. */
  readonly from: CircuitState;
  /** State after the transition. */
  readonly to: CircuitState;
  /** Wall-clock epoch ms of the transition. */
  readonly at: number;
  /** The breaker's state after the transition: what a store persists. */
  readonly snapshot: CircuitBreakerSnapshot;
  /**
   * On a transition to `"open"`: the error (or the result judged a
   * failure) that opened the circuit; `undefined` when slow calls or a
   * hung probe opened it. See {@link CircuitBreaker.openError}.
   */
  readonly error?: unknown;
}

/** Payload of the `success` event. */
export interface CircuitSuccessEvent {
  /** The breaker's name. */
  readonly name: string;
  /** The call took longer than `slowCallDurationMs`. */
  readonly slow: boolean;
  /**
   * How long the call took, in ms on the breaker's clock (`0` for
   * `recordSuccess()`). Calls are timed only while a `success` or `failure`
   * listener (or a slow-call rule) is there: a call started before the
   * first such listener reports `0`.
   */
  readonly durationMs: number;
}

/** Payload of the `failure` event. */
export interface CircuitFailureEvent {
  /** The breaker's name. */
  readonly name: string;
  /** The call took longer than `slowCallDurationMs`. */
  readonly slow: boolean;
  /** How long the call took, in ms (as in {@link CircuitSuccessEvent.durationMs}). */
  readonly durationMs: number;
  /** The error thrown, or the result `isResultFailure` judged a failure. */
  readonly error: unknown;
}

/** Payload of the `probeTimeout` event. */
export interface CircuitProbeTimeoutEvent {
  /** The breaker's name. */
  readonly name: string;
  /** Probes still in flight, whose slots are released. */
  readonly probesInFlight: number;
  /** Ms since the oldest of them started: at least `halfOpenMaxWaitMs`. */
  readonly waitedMs: number;
}

/** Payload of the `reject` event. */
export interface CircuitRejectEvent {
  /** The breaker's name. */
  readonly name: string;
  /** The error the caller receives (or `fallback` is given). */
  readonly error: CircuitOpenError;
}

/** Events of {@link CircuitBreaker}, by name. */
export interface CircuitBreakerEvents {
  /** Every transition, including to `"forced-open"` and `"disabled"`. */
  stateChange: CircuitStateChange;
  /** The circuit started rejecting calls (to `"open"` or `"forced-open"`). */
  open: CircuitStateChange;
  /** The circuit lets probes through (fired when the breaker is next read or called). */
  halfOpen: CircuitStateChange;
  /** The circuit closed. */
  close: CircuitStateChange;
  /** A call (or `recordSuccess()`) succeeded. */
  success: CircuitSuccessEvent;
  /** A call (or `recordFailure()`) failed. */
  failure: CircuitFailureEvent;
  /** A call was rejected without running. */
  reject: CircuitRejectEvent;
  /** Half-open probes went `halfOpenMaxWaitMs` without a verdict: the circuit reopens (an `open` event follows). */
  probeTimeout: CircuitProbeTimeoutEvent;
  /** With `store`: a store operation failed or passed `storeTimeoutMs`; the breaker goes on with its local state. */
  storeError: CircuitStoreErrorEvent;
}

/** A function guarded by a breaker: same parameters, async result, the breaker attached. */
export type GuardedFunction<A extends unknown[], R, F = never> =
  & ((...args: A) => Promise<Awaited<R> | Awaited<F>>)
  & { readonly breaker: CircuitBreaker<F> };

const STATES = ["closed", "open", "half-open", "forced-open", "disabled"] as const;

/** Built on the first construction, not at import. */
const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    name: optional(name()),
    maxFailures: integer(1),
    resetTimeoutMs: durationMs(0),
    resetBackoff: optional(strictObject({
      backoff: optional(satisfying<BackoffKind | BackoffFunction>(
        (value) => typeof value === "function" || value === "constant" || value === "linear" || value === "exponential",
        "'constant', 'linear', 'exponential' or a function (n) => ms",
      )),
      multiplier: optional(positiveNumber(1, true)),
      maxDelayMs: optional(durationMs(0)),
    }, "an object { backoff?, multiplier?, maxDelayMs? }")),
    halfOpenMaxCalls: integer(1),
    halfOpenMaxWaitMs: durationMs(0, true),
    successThreshold: integer(1),
    excludedErrors: optional(errorClasses()),
    isFailure: optional(func<(error: unknown) => boolean>()),
    isResultFailure: optional(func<(result: unknown) => boolean>()),
    windowSize: optional(integer(1, 1_000_000)),
    windowMs: optional(durationMs(0, true)),
    windowBuckets: optional(integer(1, 1_000)),
    failureRateThreshold: fraction(),
    minimumThroughput: integer(1),
    slowCallDurationMs: durationMs(0, true),
    slowCallRateThreshold: fraction(),
    strategy: optional(satisfying<BreakerStrategy>(
      (value) =>
        typeof value === "object" && value !== null &&
        typeof (value as BreakerStrategy).record === "function" &&
        typeof (value as BreakerStrategy).reset === "function" &&
        typeof (value as BreakerStrategy).failureCount === "function",
      "a BreakerStrategy (an object with record, reset and failureCount)",
    )),
    fallback: optional(func<(error: CircuitOpenError) => unknown>()),
    clock: optional(clock()),
    initialState: optional(object({
      version: satisfying<1>((value) => value === 1, "1"),
      name: satisfying<string>((value) => typeof value === "string", "a string"),
      state: oneOf(STATES),
      openedAt: satisfying<number | null>((value) => value === null || Number.isFinite(value), "epoch ms or null"),
      failureCount: integer(0),
      probeSuccesses: integer(0),
    }, "a snapshot from CircuitBreaker.toJSON()")),
    store: optional(satisfying<Store>(
      (value) =>
        typeof value === "object" && value !== null && typeof (value as Store).get === "function" &&
        typeof (value as Store).compareAndSet === "function" && typeof (value as Store).capabilities === "object",
      "a Store (MemoryStore, KvStore, DurableObjectStore, RedisStore, ...)",
    )),
    refreshMs: optional(durationMs(0, true)),
    storeTimeoutMs: optional(durationMs(0, true)),
    waitUntil: optional(func<(promise: Promise<unknown>) => void>()),
    quorum: optional(integer(1, 1_000)),
    quorumWindowMs: optional(durationMs(0, true)),
    bestEffort: optional(satisfying<boolean>((value) => typeof value === "boolean", "a boolean")),
  })
);

const WINDOW_ONLY = ["failureRateThreshold", "minimumThroughput", "slowCallDurationMs", "slowCallRateThreshold"] as const;
const SHARED_ONLY = ["refreshMs", "storeTimeoutMs", "waitUntil", "quorum", "quorumWindowMs", "bestEffort"] as const;
const NOT_WITH_STRATEGY = [
  "maxFailures",
  "windowSize",
  "windowMs",
  "windowBuckets",
  "failureRateThreshold",
  "minimumThroughput",
  "slowCallRateThreshold",
] as const;

/** The options that {@link crossFieldIssues} is about (`name` and `maxFailures` matter only beside one of these). */
const RULED: ReadonlySet<string> = /* @__PURE__ */ new Set([
  "strategy",
  "windowSize",
  "windowMs",
  "windowBuckets",
  ...WINDOW_ONLY,
  "store",
  ...SHARED_ONLY,
  "initialState",
]);

const NO_ISSUES: readonly ConfigIssue[] = /* @__PURE__ */ Object.freeze([]);

/** Rules between options, checked on what the caller gave (not on defaults). */
function crossFieldIssues(given: Record<string, unknown>, keys: readonly string[]): readonly ConfigIssue[] {
  // Most breakers set a few options no rule is about: answered without
  // running the rules (a search per rule cost a sixth of construction).
  if (!keys.some((key) => RULED.has(key))) return NO_ISSUES;
  const issues: ConfigIssue[] = [];
  // `keys`: the options given (not `undefined`). A search of those few,
  // rather than a read of `given` for each option the rules name: reading
  // an option the caller did not give (most of them) cost more than the
  // rest of construction.
  const has = (key: string): boolean => keys.includes(key);
  /** Flags each of `fields` given, when `when` holds. */
  const flag = (fields: readonly string[], allowed: string, when = true): void => {
    if (when) for (const field of fields) if (has(field)) issues.push({ field, value: given[field], allowed });
  };
  if (has("strategy")) flag(NOT_WITH_STRATEGY, "left out when 'strategy' is set (the strategy decides when to open)");
  else {
    flag(
      ["windowMs"],
      "left out when 'windowSize' is set (a window counts calls or spans time, not both)",
      has("windowSize"),
    );
    flag(["windowBuckets"], "set only together with 'windowMs'", !has("windowMs"));
    flag(WINDOW_ONLY, "set only with 'windowSize' or 'windowMs' (a rate needs a window)", !has("windowSize") && !has("windowMs"));
  }
  if (!has("store")) flag(SHARED_ONLY, "set only with 'store' (it tunes the shared state)");
  else if (!has("name")) issues.push({ field: "name", value: undefined, allowed: "given when 'store' is set (breakers share state by name)" });
  // A quorum set by `configure()` counts: the window given here applies to it.
  flag(
    ["quorumWindowMs"],
    "set only together with 'quorum'",
    !has("quorum") && configuredSection("circuitBreaker")?.quorum === undefined,
  );
  const initial = has("initialState") ? given["initialState"] as CircuitBreakerSnapshot : undefined;
  if ((initial?.state === "open" || initial?.state === "forced-open") && typeof initial.openedAt !== "number") {
    issues.push({
      field: "initialState.openedAt",
      value: initial.openedAt,
      allowed: `epoch ms when the state is '${initial.state}'`,
    });
  }
  return issues;
}

const NOT_SHARING = "a Store that can share a breaker's state: a StoreAdapter (MemoryStore, RedisStore, KvStore, " +
  "DurableObjectStore, ...); a store of your own extends StoreAdapter (docs/stores.md)";

const NO_ERRORS: readonly ErrorClass[] = /* @__PURE__ */ Object.freeze([]);

function resolve<F>(options: CircuitBreakerOptions<F>): ResolvedCircuitBreakerOptions<F> {
  throwIf(badOptions("CircuitBreaker", options));
  // Keys given as `undefined` fall back to the defaults rather than erase them.
  const given = options as Record<string, unknown>;
  const defaults = sharedDefaults("circuitBreaker", BREAKER_DEFAULTS);
  const input: Record<string, unknown> = { ...defaults };
  // Construction costs what it reads: the defaults are checked once (while
  // `configure()` leaves them), and the options given on each call.
  const keys = Object.keys(given);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (given[key] === undefined) {
      keys.splice(i--, 1);
      continue;
    }
    input[key] = given[key];
  }
  const schema = optionsSchema();
  const result = safeParseOver(schema, defaults, input, keys);
  const issues = result.success ? [] : toConfigIssues(schema, input, result.error.issues);
  const rules = crossFieldIssues(given, keys);
  if (rules.length > 0) {
    const reported = new Set(issues.map((issue) => issue.field));
    for (const issue of rules) if (!reported.has(issue.field)) issues.push(issue);
  }
  if (issues.length > 0) throw new ConfigError("CircuitBreaker", issues);
  // `result.data` is `input` or zod's copy of it: ours, so completed and
  // frozen in place (a spread into a new object costs a copy of its own).
  const parsed: Record<string, unknown> & { initialState?: unknown } & Omit<NonNullable<typeof result.data>, "initialState"> = result.data!;
  if (parsed.initialState !== undefined) delete parsed.initialState;
  parsed.name ??= "circuit-breaker";
  parsed.excludedErrors = parsed.excludedErrors === undefined ? NO_ERRORS : Object.freeze([...parsed.excludedErrors]);
  parsed.clock ??= systemClock;
  return Object.freeze(parsed) as unknown as ResolvedCircuitBreakerOptions<F>;
}

/**
 * The built-in strategy the options ask for, as the strategy's rule
 * without its checks: the breaker's rules for these fields are the
 * strategies' own, and were checked here.
 */
function strategyFor(
  options: ResolvedCircuitBreakerOptions<unknown>,
  given: CircuitBreakerOptions<unknown>,
  initial: CircuitBreakerSnapshot | undefined,
): BreakerStrategy {
  if (options.windowSize === undefined && options.windowMs === undefined) {
    return new ConsecutiveRule({
      maxFailures: options.maxFailures,
      failures: initial?.state === "closed" ? initial.failureCount : 0,
    });
  }
  const rules = {
    failureRateThreshold: options.failureRateThreshold,
    minimumThroughput: options.minimumThroughput,
    slowCallRateThreshold: options.slowCallRateThreshold,
    // With a window, the consecutive rule is opt-in: at high traffic a modest
    // error rate produces runs of failures that should not open the circuit.
    ...(given.maxFailures === undefined ? {} : { maxFailures: options.maxFailures }),
  };
  if (options.windowSize !== undefined) return new CountWindowRule({ windowSize: options.windowSize, ...rules });
  return new TimeWindowRule({
    windowMs: options.windowMs!,
    ...(options.windowBuckets === undefined ? {} : { windowBuckets: options.windowBuckets }),
    ...rules,
  });
}

interface ClosedHandlers {
  /** The closed period they count in. */
  readonly epoch: number;
  /** True when a success only counts (`onResult` is `#closedSuccess(epoch)`): a fused exit calls that directly. */
  readonly countOnly: boolean;
  readonly onResult: <T>(value: T) => T;
  readonly onError: (error: unknown) => void;
  readonly onErrorRethrow: (error: unknown) => never;
  /** As `onErrorRethrow`, for a call made with a caller's context (its signal may have aborted). */
  readonly onErrorRethrowIn: (error: unknown, caller: ExecutionContext) => never;
}

/** As {@link CircuitBreaker}'s `#onErrorIn`, rethrowing: outside `#execute` for the same reason. */
function rethrowIn(handlers: ClosedHandlers, caller: ExecutionContext): (error: unknown) => never {
  return (error) => handlers.onErrorRethrowIn(error, caller);
}

/** A fused call's state when the caller gave a signal: the handlers and the caller's context. */
class CallerState {
  declare readonly handlers: ClosedHandlers;
  declare readonly caller: ExecutionContext;
  constructor(handlers: ClosedHandlers, caller: ExecutionContext) {
    this.handlers = handlers;
    this.caller = caller;
  }
}

/**
 * True when `error` is the caller's own cancellation: the caller's signal
 * has aborted and the call rejected with its reason. A bulwark
 * `TimeoutError` stays a failure: a deadline that passed (an enclosing
 * timeout's signal) is the dependency being slow, not the caller leaving.
 */
function isCancellation(error: unknown, caller: ExecutionContext | undefined): boolean {
  if (caller === undefined) return false;
  const signal = caller.signal;
  return signal.aborted && error === signal.reason && !(error instanceof TimeoutError);
}

/** The events of a transition to each state, delivered in this order. */
const EVENTS_OF: Readonly<Record<CircuitState, readonly (keyof CircuitBreakerEvents)[]>> = {
  "closed": ["stateChange", "close"],
  "open": ["stateChange", "open"],
  "half-open": ["stateChange", "halfOpen"],
  "forced-open": ["stateChange", "open"],
  "disabled": ["stateChange"],
};

const ADMITTED = 0;
const PROBE = 1;
const REJECTED = -1;
/** The start of a call that was not timed. */
const NOT_TIMED = -1;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * A circuit breaker. Without a `fallback` it is a `Policy` (see `policy.ts`).
 *
 * Open-to-half-open needs no timer: the breaker notices that
 * `resetTimeoutMs` has passed when it is next called or read (`state`,
 * `remainingMs`, `toJSON()`), and fires `halfOpen` then.
 *
 * Opening rules:
 * - default: `maxFailures` failures in a row;
 * - with `windowSize` (last N calls) or `windowMs` (last T ms): the failure
 *   rate reaches `failureRateThreshold`, or the rate of calls slower than
 *   `slowCallDurationMs` reaches `slowCallRateThreshold` (when either slow
 *   option is given), once the window holds `minimumThroughput` calls; plus
 *   `maxFailures` in a row if given here;
 * - with `strategy`: whatever it decides.
 *
 * While half-open, any failure reopens the circuit at once, and so does a
 * slow probe when the breaker trips on slow calls; `successThreshold`
 * successes close it; calls beyond `halfOpenMaxCalls` in flight are
 * rejected. Probes in flight for `halfOpenMaxWaitMs` without a verdict
 * reopen it (noticed, like the reset timeout, when the breaker is next
 * called or read). A call that ends after the state it started in
 * has been left (say, a slow call admitted while closed that finishes after
 * the circuit opened) is counted in `stats` but changes no state.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, CircuitOpenError } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 *
 * const clock = new ManualClock();
 * const breaker = new CircuitBreaker({ maxFailures: 2, resetTimeoutMs: 1_000, clock });
 * const boom = () => Promise.reject(new Error("down"));
 * await breaker.execute(boom).catch(() => {});
 * await breaker.execute(boom).catch(() => {});
 * if (breaker.state !== "open") throw new Error("should be open");
 * const rejected = await breaker.execute(() => "skipped").catch((e) => e);
 * if (!(rejected instanceof CircuitOpenError)) throw new Error("should reject");
 * await clock.advance(1_000);
 * if (await breaker.execute(() => "probe") !== "probe") throw new Error("probe failed");
 * if (breaker.toJSON().state !== "closed") throw new Error("should be closed");
 * ```
 *
 * @example Shared by every instance through a store (docs/distributed.md)
 * ```ts
 * import { CircuitBreaker, CircuitOpenError, MemoryStore } from "bulwark";
 *
 * // Two instances of one breaker (in production: two isolates or processes on Redis, a Durable Object, KV...).
 * const store = new MemoryStore();
 * const here = new CircuitBreaker({ name: "payments", store, maxFailures: 1, refreshMs: 1_000 });
 * const there = new CircuitBreaker({ name: "payments", store, maxFailures: 1, refreshMs: 1_000 });
 * await here.execute(() => Promise.reject(new Error("down"))).catch(() => {});
 * await new Promise((resolve) => setTimeout(resolve, 10)); // the transition's write, in the background
 * let called = false;
 * const refused = await there.execute(() => { called = true; }).catch((error) => error);
 * if (!(refused instanceof CircuitOpenError) || called) throw new Error("the other instance should refuse");
 * ```
 */
export class CircuitBreaker<F = never> {
  // Declared, not class fields: each is created by its assignment, first
  // in the constructor and in this order, without a field definition in
  // every bundle.
  /** The breaker's name. */
  declare readonly name: string;
  /** The options it runs with, defaults resolved. */
  declare readonly options: ResolvedCircuitBreakerOptions<F>;

  readonly #clock: Clock;
  readonly #strategy: BreakerStrategy;
  readonly #events = new Emitter<CircuitBreakerEvents>();
  readonly #resetTimeoutMs: number;
  readonly #halfOpenMaxCalls: number;
  readonly #halfOpenMaxWaitMs: number;
  readonly #successThreshold: number;
  readonly #slowCallDurationMs: number;
  /** Slow-call tracking is on: each call reads the clock when it starts and ends. */
  readonly #timesCalls: boolean;
  /** The strategy needs the time a call ends (time window, custom strategy, slow calls). */
  readonly #strategyNeedsNow: boolean;
  /** Calls read the clock when they start: slow calls, or a `success`/`failure` listener wants `durationMs`. */
  #timed: boolean;
  /** Calls read the clock when they end. */
  #needsNow: boolean;
  /** `success` and `failure` listeners: calls are timed only while there are some. */
  #outcomeListeners = 0;
  readonly #resetBackoff: Growth | undefined;
  /** How long the current open period lasts. */
  #openPeriodMs: number;
  /** Openings since the circuit was last closed (for `resetBackoff`). */
  #openings = 0;
  /** The error that last opened the circuit (undefined when closed, or not opened by an error). */
  #openError: unknown = undefined;
  /**
   * The last open-state refusal's message and its whole ms, and the `{ cause }`
   * option of its `new Error`: an open circuit refuses many calls per ms, and
   * building these per refusal cost as much as the rest (docs/benchmarks.md).
   */
  #refusalText = "";
  #refusalTextMs = -1;
  #refusalOption: { cause: unknown } | undefined = undefined;
  readonly #excludedErrors: readonly ErrorClass[];
  readonly #isFailure: ((error: unknown) => boolean) | undefined;
  readonly #isResultFailure: ((result: unknown) => boolean) | undefined;
  readonly #fallback: ((error: CircuitOpenError) => F) | undefined;
  /** No user predicate runs when settling, so settling cannot throw: callers may get the call's own promise. */
  readonly #observeOnly: boolean;

  #state: CircuitState = "closed";
  /** Bumped on every transition: a call admitted in an earlier epoch changes no state. */
  #epoch = 0;
  /** Monotonic ms when the circuit last opened. */
  #openedAt = 0;
  #openedAtWall: number | null = null;
  #probesInFlight = 0;
  /** Monotonic ms when a probe slot was taken with none in flight. */
  #probesSince = 0;
  #probeSuccesses = 0;
  /** Outcome handlers of the hot path, bound to the current closed epoch: built per transition, not per call. */
  #closedHandlers!: ClosedHandlers;

  #successfulCalls = 0;
  #failedCalls = 0;
  #ignoredCalls = 0;
  #rejectedCalls = 0;
  #slowCalls = 0;
  #stateChanges = 0;
  /** With `store`: the shared half (see shared.ts); `undefined` for a local breaker. */
  readonly #shared: SharedHalf | undefined;

  constructor(options: CircuitBreakerOptions<F> = {}) {
    const resolved = resolve(options);
    this.name = resolved.name;
    this.options = resolved;
    this.#clock = resolved.clock;
    this.#resetTimeoutMs = resolved.resetTimeoutMs;
    this.#halfOpenMaxCalls = resolved.halfOpenMaxCalls;
    this.#halfOpenMaxWaitMs = resolved.halfOpenMaxWaitMs;
    this.#successThreshold = resolved.successThreshold;
    this.#slowCallDurationMs = resolved.slowCallDurationMs;
    const rated = resolved.windowSize !== undefined || resolved.windowMs !== undefined ||
      resolved.strategy !== undefined;
    // Two clock reads per call are paid only by those who asked for slow calls.
    const configured = configuredSection("circuitBreaker");
    const slowAsked = options.slowCallDurationMs !== undefined || options.slowCallRateThreshold !== undefined ||
      configured?.slowCallDurationMs !== undefined || configured?.slowCallRateThreshold !== undefined;
    this.#timesCalls = rated && slowAsked;
    this.#timed = this.#timesCalls;
    this.#strategyNeedsNow = this.#timesCalls || resolved.windowMs !== undefined || resolved.strategy !== undefined;
    this.#needsNow = this.#strategyNeedsNow;
    this.#openPeriodMs = resolved.resetTimeoutMs;
    const growth = resolved.resetBackoff;
    this.#resetBackoff = growth === undefined ? undefined : {
      backoff: growth.backoff ?? "exponential",
      baseDelayMs: resolved.resetTimeoutMs,
      maxDelayMs: growth.maxDelayMs ?? 10 * resolved.resetTimeoutMs,
      multiplier: growth.multiplier ?? 2,
    };
    this.#excludedErrors = resolved.excludedErrors;
    this.#isFailure = resolved.isFailure;
    this.#isResultFailure = resolved.isResultFailure;
    this.#fallback = resolved.fallback;
    this.#observeOnly = resolved.isFailure === undefined && resolved.isResultFailure === undefined &&
      resolved.strategy === undefined;
    this.#strategy = resolved.strategy ?? strategyFor(resolved, options, options.initialState);
    if (options.initialState !== undefined) this.#hydrate(options.initialState);
    this.#bindClosedHandlers();
    const store = resolved.store as (Store & Partial<CircuitSharing>) | undefined;
    if (store !== undefined) {
      // The sharing code comes with the store (sharing.ts): a breaker without one bundles none of it.
      if (typeof store[shareCircuit] !== "function") {
        throw new ConfigError("CircuitBreaker", [{ field: "store", value: store.name, allowed: NOT_SHARING }]);
      }
      this.#shared = store[shareCircuit](this.#link());
    }
  }

  /**
   * Trips quickly, for critical dependencies: opens after 3 failures in a row
   * or a 30 % failure rate over the last 60 s (at least 10 calls), probes
   * after 30 s, closes on 1 probe success. `options` override any of these.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = CircuitBreaker.sensitive({ name: "auth" });
   * if (breaker.options.maxFailures !== 3) throw new Error("preset not applied");
   * ```
   */
  static sensitive<F = never>(options: CircuitBreakerOptions<F> = {}): CircuitBreaker<F> {
    throwIf(badOptions("CircuitBreaker.sensitive", options));
    return new CircuitBreaker(preset({
      maxFailures: 3,
      failureRateThreshold: 0.3,
      minimumThroughput: 10,
      windowMs: 60_000,
      resetTimeoutMs: 30_000,
      successThreshold: 1,
    }, options));
  }

  /**
   * Trips slowly, for non-critical or high-volume dependencies: opens after
   * 10 failures in a row or a 70 % failure rate over the last 60 s (at least
   * 20 calls), probes after 120 s, closes after 5 probe successes. `options`
   * override any of these.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = CircuitBreaker.tolerant({ name: "analytics" });
   * if (breaker.options.successThreshold !== 5) throw new Error("preset not applied");
   * ```
   */
  static tolerant<F = never>(options: CircuitBreakerOptions<F> = {}): CircuitBreaker<F> {
    throwIf(badOptions("CircuitBreaker.tolerant", options));
    return new CircuitBreaker(preset({
      maxFailures: 10,
      failureRateThreshold: 0.7,
      minimumThroughput: 20,
      windowMs: 60_000,
      resetTimeoutMs: 120_000,
      successThreshold: 5,
    }, options));
  }

  /** The current state; turns `"open"` into `"half-open"` once `resetTimeoutMs` has passed. */
  get state(): CircuitState {
    this.#refresh();
    return this.#state;
  }

  /** Counters since creation (a copy). */
  get stats(): CircuitBreakerStats {
    return {
      totalCalls: this.#successfulCalls + this.#failedCalls + this.#ignoredCalls + this.#rejectedCalls,
      successfulCalls: this.#successfulCalls,
      failedCalls: this.#failedCalls,
      ignoredCalls: this.#ignoredCalls,
      rejectedCalls: this.#rejectedCalls,
      slowCalls: this.#slowCalls,
      stateChanges: this.#stateChanges,
    };
  }

  /** Failures counted toward opening: in a row, or in the window. */
  get failureCount(): number {
    return this.#strategy.failureCount(this.#clock.now());
  }

  /** Ms until a probe is allowed: `0` unless open, `Infinity` when forced open. */
  get remainingMs(): number {
    this.#refresh();
    if (this.#state === "forced-open") return Infinity;
    if (this.#state !== "open") return 0;
    return Math.max(0, this.#openedAt + this.#openPeriodMs - this.#clock.now());
  }

  /**
   * The error (or the result judged a failure) that last opened the
   * circuit, as Polly keeps it; also the `cause` of the
   * {@link CircuitOpenError}s it rejects with. `undefined` while closed,
   * and when the circuit was opened by slow calls, a hung probe,
   * `forceOpen()` or `initialState`.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker({ maxFailures: 1 });
   * breaker.recordFailure(new Error("db down"));
   * if ((breaker.openError as Error).message !== "db down") throw new Error("unexpected");
   * ```
   */
  get openError(): unknown {
    this.#refresh();
    return this.#state === "closed" || this.#state === "disabled" ? undefined : this.#openError;
  }

  /**
   * Runs `fn` through the breaker. Rejects with {@link CircuitOpenError}
   * (or resolves to `fallback`'s result) when the circuit refuses the call.
   * `fn` may be sync or async; it receives the caller's `signal`.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker();
   * const answer = await breaker.execute(async ({ signal }) => signal.aborted ? 0 : 42);
   * if (answer !== 42) throw new Error("unexpected");
   * ```
   */
  execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T | Awaited<F>> {
    // The two calls an unshared breaker sees at its highest rates, first and
    // in full; everything else in #checked. Kept small: an open circuit's
    // refusal captures a stack trace, and V8 pays for every frame it walks
    // by that frame's size, so a refusal built in a smaller `execute` costs
    // 0.1-0.3 µs less (docs/benchmarks.md, Circuit breaker).
    if (signal === undefined && typeof fn === "function") {
      // A plainly closed circuit, outcomes watched on the side (see
      // #execute). A shared circuit takes it once its state is loaded:
      // `passes()` starts a read when one is due, as #execute's gate does
      // for a closed circuit.
      if (
        this.#state === "closed" && !this.#timed && this.#observeOnly &&
        (this.#shared === undefined || this.#shared.passes())
      ) {
        let promise: Promise<T>;
        try {
          promise = Promise.resolve(fn(contextFor(undefined)));
        } catch (error) {
          return this.#failedSync(error, ADMITTED, this.#epoch, NOT_TIMED, undefined);
        }
        const handlers = this.#closedHandlers;
        promise.then(handlers.onResult, handlers.onError);
        return promise;
      }
      if (this.#state === "open" && this.#fallback === undefined && this.#shared === undefined) {
        // No try around the clock read here, unlike #checked: a clock whose
        // now() throws makes this one path throw rather than reject. A try
        // measured 30-45 ns more per refusal on Bun, where the open circuit
        // is within tens of ns of opossum's (docs/benchmarks.md).
        const remainingMs = this.#refusal();
        if (remainingMs >= 0) {
          // Built in this frame, not in a helper: each frame a stack trace
          // walks costs V8 about as much as the error itself (see
          // internal/refusal.ts). No throw either: the caller gets a
          // rejected promise, and throwing costs more than building it.
          const error = new Error(this.#refusalMessage(remainingMs), this.#refusalCause());
          return Promise.reject(this.#refused(error, remainingMs));
        }
      }
    }
    return this.#checked(fn, signal);
  }

  /** The rest of {@link CircuitBreaker.execute}: the argument checks, a refusal in any other case, the call. */
  #checked<T>(fn: Operation<T>, signal: AbortSignal | undefined): Promise<T | Awaited<F>> {
    // A misuse is the caller's error, not the dependency's: never counted.
    const misuse = badCall("CircuitBreaker.execute", fn, signal);
    if (misuse !== undefined) return Promise.reject(misuse);
    // A call cancelled before it starts is refused, as every policy does: not run, not counted.
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    if ((this.#state === "open" || this.#state === "forced-open") && this.#fallback === undefined) {
      // An open shared circuit still reads the store when due: it may have closed elsewhere.
      if (this.#shared !== undefined) this.#shared.touch();
      let remainingMs: number;
      try {
        remainingMs = this.#refusal();
      } catch (error) {
        // A clock that cannot tell the time fails the call: a rejection, not a throw.
        return Promise.reject(error);
      }
      if (remainingMs >= 0) {
        const error = new Error(this.#refusalMessage(remainingMs), this.#refusalCause());
        return Promise.reject(this.#refused(error, remainingMs));
      }
    }
    if (signal === undefined) return this.#execute(fn, contextFor(undefined), undefined);
    const context = contextFor(signal);
    return this.#execute(fn, context, context);
  }

  /**
   * @internal In a pipeline: runs `fn` with its parent's context as is,
   * without reading its signal (a timeout's signal is built on first read).
   */
  [runInContext]<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T | Awaited<F>> {
    return this.#execute(fn, parent ?? contextFor(undefined), parent);
  }

  /** `caller` is the caller's context when there is a signal: its abort is a cancellation, not a failure. */
  #execute<T>(fn: Operation<T>, context: ExecutionContext, caller: ExecutionContext | undefined): Promise<T | Awaited<F>> {
    if (this.#shared !== undefined) {
      // A shared breaker's first call, a due refresh or the fleet's probe lease (shared.ts).
      const gated = this.#shared.gate(this.#state, fn, caller);
      if (gated !== undefined) return gated;
    }
    // The hot path (closed, calls not timed) skips admission and uses prebuilt handlers.
    const fast = this.#state === "closed" && !this.#timed;
    // Disabled: runs the call and records nothing (no stats, no events).
    if (!fast && this.#state === "disabled") return invoke(fn, context);
    let admission = ADMITTED;
    let start = NOT_TIMED;
    if (!fast) {
      try {
        // The clock before the admission: one that throws fails the call
        // (a rejection, not a throw) before a probe slot is taken.
        if (this.#timed) start = this.#clock.now();
        admission = this.#admit();
        if (admission === REJECTED) {
          const remainingMs = this.#refusal();
          return this.#answer(this.#refused(new Error(this.#refusalMessage(remainingMs), this.#refusalCause()), remainingMs));
        }
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const epoch = this.#epoch;
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(fn(context));
    } catch (error) {
      return this.#failedSync(error, admission, epoch, start, caller);
    }
    if (!fast) return this.#observe(promise, admission, epoch, start, caller);
    const handlers = this.#closedHandlers;
    if (this.#observeOnly) {
      // Watch the outcome on the side and hand back the call's own promise:
      // our reaction runs first, and the caller waits no extra turn.
      // (A closure only for a call with a signal: its abort is not a failure.)
      promise.then(handlers.onResult, caller === undefined ? handlers.onError : this.#onErrorIn(epoch, caller));
      return promise;
    }
    // A user predicate may throw: its error must reach the caller.
    return promise.then(
      handlers.onResult,
      caller === undefined ? handlers.onErrorRethrow : rethrowIn(handlers, caller),
    );
  }

  /**
   * The closed path's error handler for a call made with a signal. Built
   * here, not in `#execute`: a closure there would make every call allocate
   * its context, signal or not.
   */
  #onErrorIn(epoch: number, caller: ExecutionContext): (error: unknown) => void {
    return (error) => {
      this.#onError(error, ADMITTED, epoch, NOT_TIMED, caller);
    };
  }

  /**
   * Runs a synchronous `fn` through the breaker; throws
   * {@link CircuitOpenError} synchronously (or returns `fallback`'s result)
   * when the circuit refuses the call. A returned promise is followed, and
   * its outcome counted when it settles.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker();
   * if (breaker.executeSync(() => 2 * 21) !== 42) throw new Error("unexpected");
   * ```
   */
  executeSync<T>(fn: () => T): T | F {
    throwIf(badFunction("CircuitBreaker.executeSync", fn));
    // Synchronous: the shared state as last read (a read is started when due, never awaited).
    this.#shared?.touch();
    if (this.#state === "disabled") return fn();
    // The clock before the admission: one that throws takes no probe slot.
    const start = this.#timed ? this.#clock.now() : NOT_TIMED;
    const admission = this.#admit();
    if (admission === REJECTED) return this.#reject();
    const epoch = this.#epoch;
    let result: T;
    let thenable: boolean;
    try {
      result = fn();
      // A `then` getter that throws is the operation failing.
      thenable = isThenable(result);
    } catch (error) {
      this.#onError(error, admission, epoch, start, undefined);
      throw error;
    }
    if (thenable) return this.#observe(Promise.resolve(result), admission, epoch, start, undefined) as T;
    this.#onResult(result, admission, epoch, start);
    return result;
  }

  /**
   * Calls `fn(...args)` through the breaker.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker();
   * if (await breaker.call((x: number) => x * 2, 5) !== 10) throw new Error("unexpected");
   * ```
   */
  call<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Promise<Awaited<R> | Awaited<F>> {
    const misuse = badFunction("CircuitBreaker.call", fn);
    if (misuse !== undefined) return Promise.reject(misuse);
    return this.execute(() => fn(...args)) as Promise<Awaited<R> | Awaited<F>>;
  }

  /**
   * Returns `fn` guarded by this breaker: same parameters and `this`, async result.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker();
   * const double = breaker.wrap(async (x: number) => x * 2);
   * if (await double(21) !== 42) throw new Error("unexpected");
   * ```
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Promise<Awaited<R> | Awaited<F>> {
    throwIf(badFunction("CircuitBreaker.wrap", fn));
    const breaker = this;
    return function (this: unknown, ...args: A): Promise<Awaited<R> | Awaited<F>> {
      return breaker.execute(() => fn.apply(this, args)) as Promise<Awaited<R> | Awaited<F>>;
    };
  }

  /**
   * Closes the circuit and forgets counted failures (stats are kept). Also
   * the way out of `"forced-open"` and `"disabled"`. With `store`, the
   * shared circuit too, also from an instance that has not read it yet
   * (docs/distributed.md).
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker();
   * breaker.forceOpen();
   * breaker.reset();
   * if (breaker.state !== "closed") throw new Error("should be closed");
   * ```
   */
  reset(): void {
    if (this.#state !== "closed") return this.#transition("closed");
    this.#strategy.reset();
    this.#shared?.onReset();
  }

  /**
   * Opens the circuit until {@link CircuitBreaker.reset}: every call is rejected.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker();
   * breaker.forceOpen();
   * if (breaker.remainingMs !== Infinity) throw new Error("should stay open");
   * ```
   */
  forceOpen(): void {
    this.#transition("forced-open");
  }

  /**
   * Lets every call through and counts nothing, until {@link CircuitBreaker.reset}.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker({ maxFailures: 1 });
   * breaker.disable();
   * breaker.recordFailure();
   * if (breaker.state !== "disabled") throw new Error("should ignore failures");
   * ```
   */
  disable(): void {
    this.#transition("disabled");
  }

  /**
   * Records a success observed outside the breaker, as if a call had just
   * succeeded (while half-open, it counts toward `successThreshold`).
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker({ maxFailures: 2 });
   * breaker.recordFailure();
   * breaker.recordSuccess();
   * if (breaker.failureCount !== 0) throw new Error("a success resets the count");
   * ```
   */
  recordSuccess(): void {
    this.#record(false, undefined);
  }

  /**
   * Records a failure observed outside the breaker, as if a call had just
   * failed with `error` (while half-open, it reopens the circuit).
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker({ maxFailures: 1 });
   * breaker.recordFailure(new Error("timeout"));
   * if (breaker.state !== "open") throw new Error("should be open");
   * ```
   */
  recordFailure(error?: unknown): void {
    this.#record(true, error);
  }

  /** An outcome observed outside the breaker: as a call's, untimed (`durationMs` 0, never slow). */
  #record(failed: boolean, error: unknown): void {
    this.#refresh();
    if (this.#state !== "disabled") this.#settle(failed, ADMITTED, this.#epoch, NOT_TIMED, error);
  }

  /**
   * Listens to an event; returns the function that stops listening.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const breaker = new CircuitBreaker({ maxFailures: 1 });
   * const seen: string[] = [];
   * breaker.on("stateChange", ({ from, to }) => seen.push(`${from}->${to}`));
   * breaker.recordFailure();
   * if (seen[0] !== "closed->open") throw new Error("unexpected");
   * ```
   */
  on<K extends keyof CircuitBreakerEvents>(event: K, listener: Listener<CircuitBreakerEvents[K]>): Unsubscribe {
    const off = this.#events.on(event, listener);
    if (event !== "success" && event !== "failure") return off;
    // Calls are timed (for `durationMs`) only while someone listens.
    this.#countOutcomeListeners(1);
    let on = true;
    return () => {
      if (on) {
        on = false;
        this.#countOutcomeListeners(-1);
      }
      off();
    };
  }

  #countOutcomeListeners(delta: number): void {
    this.#outcomeListeners += delta;
    this.#timed = this.#timesCalls || this.#outcomeListeners > 0;
    this.#needsNow = this.#strategyNeedsNow || this.#timed;
  }

  /**
   * The state as plain JSON, with wall-clock times, for `initialState`
   * (here or in another process). Sliding windows and stats are per process
   * and not included.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "bulwark";
   * const saved = JSON.stringify(new CircuitBreaker({ name: "api" }).toJSON());
   * const restored = new CircuitBreaker({ name: "api", initialState: JSON.parse(saved) });
   * if (restored.state !== "closed") throw new Error("unexpected");
   * ```
   */
  toJSON(): CircuitBreakerSnapshot {
    this.#refresh();
    return this.#snapshot();
  }

  /**
   * @internal In a fused pipeline: a plainly closed circuit (calls not
   * timed) admits synchronously and counts the outcome with the handlers of
   * its closed period, as `execute` does. Any other state runs layered.
   */
  [fuse](): Stage {
    return new CircuitBreaker.#Stage(this as unknown as CircuitBreaker<never>);
  }

  // A class, not an object of closures: its methods are one function for
  // every breaker, so a fused call site shared by several pipelines still
  // sees one target (V8 before Maglev inlines a closure shared by many
  // pipelines less well).
  static readonly #Stage = class implements Stage {
    readonly #breaker: CircuitBreaker<never>;
    constructor(breaker: CircuitBreaker<never>) {
      this.#breaker = breaker;
    }
    enter(call: FusedCall): unknown {
      const breaker = this.#breaker;
      if (breaker.#state !== "closed" || breaker.#timed || (breaker.#shared !== undefined && !breaker.#shared.passes())) return SLOW;
      // The caller's context is kept for the exit: a timeout inside replaces `call.context`.
      const caller = call.context;
      return caller === undefined ? breaker.#closedHandlers : new CallerState(breaker.#closedHandlers, caller);
    }
    onValue(state: unknown, value: unknown): unknown {
      const handlers = state instanceof CallerState ? state.handlers : state as ClosedHandlers;
      // A method of the breaker, not its per-period closure: one target for every breaker.
      if (!handlers.countOnly) return handlers.onResult(value);
      this.#breaker.#closedSuccess(handlers.epoch);
      return value;
    }
    onError(state: unknown, error: unknown): never {
      return state instanceof CallerState
        ? state.handlers.onErrorRethrowIn(error, state.caller)
        : (state as ClosedHandlers).onErrorRethrow(error);
    }
  };

  #bindClosedHandlers(): void {
    const epoch = this.#epoch;
    // Without a result predicate or a clock read, a success only counts:
    // the shortest path, for the most common breaker.
    const countOnly = this.#isResultFailure === undefined && !this.#needsNow;
    this.#closedHandlers = {
      epoch,
      countOnly,
      onResult: countOnly
        ? (value) => {
          this.#closedSuccess(epoch);
          return value;
        }
        : (value) => {
          this.#onResult(value, ADMITTED, epoch, NOT_TIMED);
          return value;
        },
      onError: (error) => {
        this.#onError(error, ADMITTED, epoch, NOT_TIMED, undefined);
      },
      onErrorRethrow: (error) => {
        this.#onError(error, ADMITTED, epoch, NOT_TIMED, undefined);
        throw error;
      },
      onErrorRethrowIn: (error, caller) => {
        this.#onError(error, ADMITTED, epoch, NOT_TIMED, caller);
        throw error;
      },
    };
  }

  /** Settles `admission` when `promise` settles; per-call handlers, for the paths off the hot one. */
  #observe<T>(
    promise: Promise<T>,
    admission: number,
    epoch: number,
    start: number,
    caller: ExecutionContext | undefined,
  ): Promise<T> {
    const onResult = (value: T): T => {
      this.#onResult(value, admission, epoch, start);
      return value;
    };
    if (this.#observeOnly) {
      promise.then(onResult, (error: unknown) => {
        this.#onError(error, admission, epoch, start, caller);
      });
      return promise;
    }
    return promise.then(onResult, (error: unknown) => {
      this.#onError(error, admission, epoch, start, caller);
      throw error;
    });
  }

  /** Settles a call whose function threw synchronously, as a rejected promise. */
  #failedSync(
    error: unknown,
    admission: number,
    epoch: number,
    start: number,
    caller: ExecutionContext | undefined,
  ): Promise<never> {
    try {
      this.#onError(error, admission, epoch, start, caller);
    } catch (predicateError) {
      return Promise.reject(predicateError);
    }
    return Promise.reject(error);
  }

  /** Decides whether a call may run: {@link ADMITTED}, {@link PROBE} (takes a slot) or {@link REJECTED}. */
  #admit(): number {
    this.#refresh();
    switch (this.#state) {
      case "closed":
      case "disabled":
        return ADMITTED;
      case "half-open":
        if (this.#probesInFlight >= this.#halfOpenMaxCalls) return REJECTED;
        // The clock read first: if it throws, no slot is taken.
        if (this.#probesInFlight === 0) this.#probesSince = this.#clock.now();
        this.#probesInFlight++;
        return PROBE;
      default:
        return REJECTED;
    }
  }

  /** A refused call's outcome: rejected with `error`, or `fallback`'s result. */
  #answer(error: CircuitOpenError): Promise<Awaited<F>> {
    if (this.#fallback === undefined) return Promise.reject(error);
    try {
      return Promise.resolve(this.#fallback(error) as Awaited<F>);
    } catch (fallbackError) {
      return Promise.reject(fallbackError);
    }
  }

  /** Refuses a synchronous call: throws the error, or returns `fallback`'s result. */
  #reject(): F {
    const remainingMs = this.#refusal();
    const error = this.#refused(new Error(this.#refusalMessage(remainingMs), this.#refusalCause()), remainingMs);
    if (this.#fallback === undefined) throw error;
    return this.#fallback(error);
  }

  /**
   * Whether a call made now is refused, without admitting it: the ms until
   * a probe is allowed if so (`Infinity` when forced open, `0` when
   * half-open with every probe slot taken), else `-1`. Reads the clock
   * once, for both the open → half-open check and the remaining time.
   * After {@link CircuitBreaker.#admit} refused a call: its `remainingMs`.
   */
  #refusal(): number {
    if (this.#state === "forced-open") return Infinity;
    if (this.#state === "open") {
      // The tests of #refresh and remainingMs, on one clock read.
      const now = this.#clock.now();
      if (now - this.#openedAt < this.#openPeriodMs) return Math.max(0, this.#openedAt + this.#openPeriodMs - now);
      this.#transition("half-open");
    }
    return this.#state === "half-open" && this.#probesInFlight >= this.#halfOpenMaxCalls ? 0 : -1;
  }

  /** The message of a refusal in the current state, as `CircuitOpenError`'s constructor words it. */
  #refusalMessage(remainingMs: number): string {
    if (this.#state === "forced-open") return `Circuit '${this.name}' is forced open`;
    if (this.#state === "half-open") {
      return `Circuit '${this.name}' is half-open and its ${this.#halfOpenMaxCalls} probe slot${
        this.#halfOpenMaxCalls === 1 ? " is" : "s are"
      } busy`;
    }
    const ceiled = Math.ceil(remainingMs);
    if (ceiled !== this.#refusalTextMs) {
      this.#refusalText = openMessage(this.name, ceiled);
      this.#refusalTextMs = ceiled;
    }
    return this.#refusalText;
  }

  /** The options of a refusal's `new Error`: the error that opened the circuit as its `cause`, as `CircuitOpenError`'s constructor takes it. */
  #refusalCause(): { cause: unknown } | undefined {
    if (this.#state !== "open" || this.#openError === undefined) return undefined;
    // Shared between refusals: `new Error` only reads `cause` from it.
    const option = this.#refusalOption;
    return option !== undefined && option.cause === this.#openError ? option : (this.#refusalOption = { cause: this.#openError });
  }

  /** Makes `error` (a fresh `new Error(message)`) the refusal, counts it and reports it. */
  #refused(error: Error, remainingMs: number): CircuitOpenError {
    const refusal = asCircuitOpenError(error, this.name, remainingMs);
    this.#rejectedCalls++;
    if (this.#events.has("reject")) this.#events.emit("reject", { name: this.name, error: refusal });
    return refusal;
  }

  #onResult(result: unknown, admission: number, epoch: number, start: number): void {
    if (this.#isResultFailure === undefined) return this.#settle(false, admission, epoch, start, undefined);
    let failed: boolean;
    try {
      failed = this.#isResultFailure(result);
    } catch (predicateError) {
      // A throwing predicate must not leak a probe slot.
      this.#settle(true, admission, epoch, start, predicateError);
      throw predicateError;
    }
    this.#settle(failed, admission, epoch, start, failed ? result : undefined);
  }

  #onError(
    error: unknown,
    admission: number,
    epoch: number,
    start: number,
    caller: ExecutionContext | undefined,
  ): void {
    let counts: boolean;
    try {
      counts = this.#counts(error, caller);
    } catch (predicateError) {
      this.#settle(true, admission, epoch, start, error);
      throw predicateError;
    }
    if (counts) return this.#settle(true, admission, epoch, start, error);
    this.#ignoredCalls++;
    if (admission === PROBE && epoch === this.#epoch) this.#probesInFlight--;
  }

  #counts(error: unknown, caller: ExecutionContext | undefined): boolean {
    for (const type of this.#excludedErrors) if (error instanceof type) return false;
    return this.#isFailure === undefined ? !isCancellation(error, caller) : this.#isFailure(error);
  }

  /** What {@link CircuitBreaker.#settle} does for a success admitted while closed, neither slow nor timed. */
  #closedSuccess(epoch: number): void {
    this.#successfulCalls++;
    if (this.#outcomeListeners > 0) this.#emitOutcome(false, false, 0, undefined);
    if (epoch === this.#epoch && this.#state === "closed" && this.#strategy.record(false, false, 0)) {
      this.#transition("open");
    }
  }

  /**
   * Counts an outcome and applies it to the state it was admitted in, if
   * that state still holds. `start`: the monotonic ms the call started, or
   * {@link NOT_TIMED}; `error`: what failed it, `undefined` for a success.
   */
  #settle(failed: boolean, admission: number, epoch: number, start: number, error: unknown): void {
    const now = this.#needsNow ? this.#clock.now() : 0;
    // Measured only when the breaker trips on slow calls; a call not timed is never slow.
    const slow = this.#timesCalls && start >= 0 && now - start > this.#slowCallDurationMs;
    if (slow) this.#slowCalls++;
    if (failed) this.#failedCalls++;
    else this.#successfulCalls++;
    // A field read, not a lookup of listeners, on the path of every call.
    if (this.#outcomeListeners > 0) this.#emitOutcome(failed, slow, start < 0 ? 0 : now - start, error);
    if (epoch !== this.#epoch) return;
    if (admission === PROBE) this.#probesInFlight--;
    // While half-open, a slow probe is judged as the strategy would judge
    // it, not a success.
    if (this.#state === "closed" ? this.#strategy.record(failed, slow, now) : this.#state === "half-open" && (failed || slow)) {
      this.#openError = error;
      this.#transition("open");
    } else if (this.#state === "half-open" && ++this.#probeSuccesses >= this.#successThreshold) {
      this.#transition("closed");
    }
  }

  #emitOutcome(failed: boolean, slow: boolean, durationMs: number, error: unknown): void {
    if (failed) {
      if (this.#events.has("failure")) this.#events.emit("failure", { name: this.name, slow, durationMs, error });
    } else if (this.#events.has("success")) {
      this.#events.emit("success", { name: this.name, slow, durationMs });
    }
  }

  /** The lazy open → half-open transition, and half-open → open when probes hang. */
  #refresh(): void {
    if (this.#state === "half-open" && this.#probesInFlight > 0) this.#expireProbes();
    if (this.#state === "open" && this.#clock.now() - this.#openedAt >= this.#openPeriodMs) {
      this.#transition("half-open");
    }
  }

  /** Reopens the circuit if its probes have gone `halfOpenMaxWaitMs` without a verdict. */
  #expireProbes(): void {
    const waitedMs = this.#clock.now() - this.#probesSince;
    if (waitedMs < this.#halfOpenMaxWaitMs) return;
    const probesInFlight = this.#probesInFlight;
    // Released first: a listener that reads the state does not see them again.
    this.#probesInFlight = 0;
    if (this.#events.has("probeTimeout")) {
      this.#events.emit("probeTimeout", { name: this.name, probesInFlight, waitedMs });
    }
    // A new epoch: the hung probes' outcomes, if they ever come, change
    // nothing. Opened when the bound passed, not when it was noticed: a
    // breaker left alone for an hour probes again on its next call.
    this.#openError = undefined;
    if (this.#state === "half-open") this.#transition("open", this.#probesSince + this.#halfOpenMaxWaitMs);
  }


  /**
   * `openedAt`: monotonic ms the circuit opened, when earlier than now;
   * `openingsFrom`: the open period adopted from the shared state.
   */
  #transition(to: CircuitState, openedAt?: number, openingsFrom?: { openings: number; openPeriodMs: number }): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#epoch++;
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    this.#stateChanges++;
    if (to === "open" || to === "forced-open") {
      if (to === "forced-open") this.#openError = undefined;
      else if (openingsFrom !== undefined) {
        this.#openings = openingsFrom.openings;
        this.#openPeriodMs = openingsFrom.openPeriodMs;
      } else {
        // The n-th opening in a row stays open for the n-th delay of the backoff.
        this.#openings++;
        if (this.#resetBackoff !== undefined) {
          this.#openPeriodMs = grownDelay(this.#resetBackoff, this.#openings);
        }
      }
      const now = this.#clock.now();
      this.#openedAt = openedAt ?? now;
      this.#openedAtWall = this.#clock.wallNow() - (now - this.#openedAt);
    } else if (to !== "half-open") {
      // Closed or disabled.
      this.#openedAtWall = null;
      this.#openings = 0;
      this.#openPeriodMs = this.#resetTimeoutMs;
      this.#openError = undefined;
      this.#refusalOption = undefined;
      if (to === "closed") {
        this.#strategy.reset();
        this.#bindClosedHandlers();
      }
    }
    this.#shared?.onTransition(from, to);

    const events = this.#events;
    const names = EVENTS_OF[to];
    if (!names.some((event) => events.has(event))) return;
    const change: CircuitStateChange = {
      name: this.name,
      from,
      to,
      at: this.#clock.wallNow(),
      snapshot: this.#snapshot(),
      ...(to === "open" ? { error: this.#openError } : {}),
    };
    // One delivery: a listener that changes the state again (reset() on
    // open) has its events delivered after both of these.
    events.emitEach(names, change);
  }

  /** What the shared half reaches of this breaker (built once, for a breaker with a `store`). */
  #link(): BreakerLink {
    return {
      breaker: this as CircuitBreaker<unknown>,
      probesInFlight: () => this.#probesInFlight,
      reserveProbe: () => {
        if (this.#probesInFlight++ === 0) this.#probesSince = this.#clock.now();
        return this.#epoch;
      },
      releaseProbe: (epoch) => {
        if (epoch === this.#epoch && this.#probesInFlight > 0) this.#probesInFlight--;
      },
      refuse: (message, remainingMs) => this.#answer(this.#refused(new Error(message), remainingMs)) as Promise<never>,
      local: () => ({
        state: this.#state,
        openedAt: this.#openedAtWall,
        openPeriodMs: this.#openPeriodMs,
        openings: this.#openings,
      }),
      adopt: (record) => this.#adopt(record),
      storeError: (event) => {
        if (this.#events.has("storeError")) this.#events.emit("storeError", event);
      },
    };
  }

  /** Takes the shared state as this breaker's own (a transition, with its events; not written back). */
  #adopt(record: SharedCircuitRecord): void {
    if (record.state === "open") {
      // Wall clocks agree across instances (up to skew); monotonic ones do not.
      const openedAt = this.#clock.now() - Math.max(0, this.#clock.wallNow() - (record.openedAt ?? this.#clock.wallNow()));
      if (this.#state === "open") {
        // Another opening of an open circuit: its times, no event.
        this.#epoch++;
        this.#openedAt = openedAt;
        this.#openPeriodMs = record.openPeriodMs;
        this.#openings = record.openings;
      } else this.#transition("open", openedAt, record);
      this.#openedAtWall = record.openedAt;
    } else this.#transition(record.state);
  }

  #snapshot(): CircuitBreakerSnapshot {
    return {
      version: 1,
      name: this.name,
      state: this.#state,
      openedAt: this.#openedAtWall,
      failureCount: this.#strategy.failureCount(this.#clock.now()),
      probeSuccesses: this.#probeSuccesses,
    };
  }

  #hydrate(snapshot: CircuitBreakerSnapshot): void {
    this.#state = snapshot.state;
    this.#openedAtWall = snapshot.state === "closed" || snapshot.state === "disabled" ? null : snapshot.openedAt;
    if (snapshot.state === "half-open") this.#probeSuccesses = snapshot.probeSuccesses;
    if (snapshot.state === "open" || snapshot.state === "forced-open") {
      // Monotonic clocks of two processes are unrelated; wall clocks agree
      // (up to skew). A snapshot "from the future" restarts the full timeout.
      const elapsed = Math.max(0, this.#clock.wallNow() - snapshot.openedAt!);
      this.#openedAt = this.#clock.now() - elapsed;
    }
  }
}

function preset<F>(base: CircuitBreakerOptions<never>, options: CircuitBreakerOptions<F>): CircuitBreakerOptions<F> {
  const merged: Record<string, unknown> = { ...base };
  // A window or strategy chosen by the caller replaces the preset's window.
  if (options.windowSize !== undefined || options.strategy !== undefined) delete merged["windowMs"];
  if (options.strategy !== undefined) {
    for (const key of NOT_WITH_STRATEGY) delete merged[key];
  }
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  return merged as CircuitBreakerOptions<F>;
}

function guard<A extends unknown[], R, F>(fn: (...args: A) => R, breaker: CircuitBreaker<F>): GuardedFunction<A, R, F> {
  const guarded = breaker.wrap(fn);
  Object.defineProperty(guarded, "breaker", { value: breaker, enumerable: true });
  return guarded as GuardedFunction<A, R, F>;
}

/**
 * Guards `fn` with a new breaker (the seeds' `@circuit_breaker` decorator).
 * The breaker is reachable as `.breaker`.
 *
 * @example
 * ```ts
 * import { circuitBreaker } from "bulwark";
 * const fetchUser = circuitBreaker(async (id: number) => ({ id }), { maxFailures: 3 });
 * if ((await fetchUser(7)).id !== 7) throw new Error("unexpected");
 * if (fetchUser.breaker.state !== "closed") throw new Error("unexpected");
 * ```
 */
export function circuitBreaker<A extends unknown[], R, F = never>(
  fn: (...args: A) => R,
  options?: CircuitBreakerOptions<F>,
): GuardedFunction<A, R, F>;
/**
 * Returns a decorator that guards each function it is given with its own
 * new breaker built from `options` (the seeds' `@circuit_breaker(...)`).
 *
 * @example
 * ```ts
 * import { circuitBreaker } from "bulwark";
 * const guarded = circuitBreaker({ maxFailures: 3, resetTimeoutMs: 30_000 });
 * const ping = guarded(async () => "pong");
 * if (await ping() !== "pong") throw new Error("unexpected");
 * ```
 */
export function circuitBreaker<F = never>(
  options?: CircuitBreakerOptions<F>,
): <A extends unknown[], R>(fn: (...args: A) => R) => GuardedFunction<A, R, F>;
export function circuitBreaker(
  fnOrOptions?: ((...args: unknown[]) => unknown) | CircuitBreakerOptions<unknown>,
  options?: CircuitBreakerOptions<unknown>,
): unknown {
  if (typeof fnOrOptions === "function" || options !== undefined) {
    throwIf(badFunction("circuitBreaker", fnOrOptions) ?? badOptions("circuitBreaker", options));
    return guard(fnOrOptions as (...args: unknown[]) => unknown, new CircuitBreaker(options));
  }
  throwIf(badOptions("circuitBreaker", fnOrOptions));
  return (fn: (...args: unknown[]) => unknown) => {
    throwIf(badFunction("circuitBreaker", fn));
    return guard(fn, new CircuitBreaker(fnOrOptions));
  };
}
