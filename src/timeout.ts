/**
 * Timeouts: run an operation under a deadline, handing it an `AbortSignal`
 * that aborts with a {@link TimeoutError} when the deadline passes.
 *
 * Cheap by construction: a deadline's timer is armed only if the operation
 * is still pending a few microtask turns after it starts (see
 * `internal/deadline_queue.ts`), and the signal's `AbortController` is
 * created only if the operation reads `context.signal`. An operation that
 * settles within those turns costs no timer and no clock read; one that
 * never reads its signal costs no `AbortController`.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { InvalidArgumentError, TimeoutError } from "./errors.ts";
import { Emitter, type Listener, type Unsubscribe } from "./events.ts";
import {
  callOperation,
  executeIn,
  isThenable,
  type LayeredPolicy,
  type Next,
  runInContext,
  runThrough,
  wrapIn,
} from "./internal/context.ts";
import { badCall, badFunction, badOptions, badSignal, badString, throwIf } from "./internal/arguments.ts";
import { TIMEOUT_DEFAULTS } from "./internal/built_in_defaults.ts";
import { sharedBase, sharedDefaults } from "./internal/defaults.ts";
import { defaultsGeneration, FORMS_KEPT, policyKeyCount } from "./internal/forms.ts";
import { fuse, type FusablePolicy, type FusedCall, type Stage } from "./internal/fused.ts";
import { type Deadline, type DeadlineQueue, deadlineQueueFor, DONE } from "./internal/deadline_queue.ts";
import type { ExecutionContext, Operation } from "./policy.ts";
import { clock as clockSchema, durationMs, lazy, name, oneOf, strictObject, validate, validateOver } from "./validation.ts";

/**
 * What a timeout does at its deadline. Both abort the operation's signal.
 * - `"cooperative"`: then waits for the operation to settle. A value is
 *   returned even if late; a rejection after the deadline becomes the
 *   {@link TimeoutError} (after the caller's abort, the caller's reason).
 *   Nothing outlives the call, but an operation that ignores its signal is
 *   not cut short: its caller waits for it, and what the policies outside
 *   the timeout hold for the call stays held until it settles, forever if
 *   it never does (`pipeline(bulkhead, timeout)`: the bulkhead slot;
 *   `pipeline(breaker, timeout)`: the half-open probe).
 * - `"aggressive"`: rejects with the {@link TimeoutError} at once, even if the
 *   operation ignores its signal (which then runs on, unobserved). Policies
 *   outside the timeout see the rejection then and let go: a bulkhead
 *   outside frees its slot (so it no longer bounds an operation that runs
 *   on), one inside (`pipeline(timeout, bulkhead)`) keeps it until the
 *   operation settles; a breaker counts the probe as failed.
 *
 * @example
 * ```ts
 * import { Bulkhead, pipeline, TimeoutError, TimeoutPolicy } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const deaf = () => new Promise<never>(() => {}); // ignores its signal
 * const bulkhead = new Bulkhead({ maxConcurrent: 1, clock });
 * // Cooperative: the deadline aborts the signal, but the call (and its slot) waits for the operation.
 * void pipeline(bulkhead, new TimeoutPolicy({ timeoutMs: 100, clock })).execute(deaf);
 * await clock.advance(1_000);
 * if (bulkhead.active !== 1) throw new Error("the cooperative call still holds its slot");
 * // Aggressive: the caller is answered at the deadline, and the slot freed.
 * const other = new Bulkhead({ maxConcurrent: 1, clock });
 * const call = pipeline(other, new TimeoutPolicy({ timeoutMs: 100, strategy: "aggressive", clock })).execute(deaf);
 * const outcome = call.catch((error) => error);
 * await clock.advance(100);
 * if (!((await outcome) instanceof TimeoutError) || other.active !== 0) throw new Error("expected a timeout and a free slot");
 * ```
 */
export type TimeoutStrategy = "cooperative" | "aggressive";

/** Options of {@link TimeoutPolicy}. */
export interface TimeoutOptions {
  /** Deadline in ms, `> 0`. Default from `configure({ timeout })`, built in 30 000. */
  timeoutMs?: number;
  /**
   * Default `"cooperative"`: the caller waits for the operation to settle,
   * so an operation that ignores its signal keeps its caller, and the
   * bulkhead slot or half-open probe around it, past the deadline.
   * `"aggressive"` answers the caller at the deadline. See {@link TimeoutStrategy}.
   */
  strategy?: TimeoutStrategy;
  /** Time source. Default {@link systemClock}. */
  clock?: Clock;
}

/** {@link TimeoutOptions} with every default applied. */
export interface ResolvedTimeoutOptions {
  readonly timeoutMs: number;
  readonly strategy: TimeoutStrategy;
  readonly clock: Clock;
}

/** Events of {@link TimeoutPolicy}. */
export interface TimeoutEvents {
  /** A deadline passed before the operation settled. */
  timeout: { readonly timeoutMs: number };
}

// Schemas are built on first use, not at import.
const timeoutMsSchema = /* @__PURE__ */ lazy(() => durationMs(0, true));
const strategySchema = /* @__PURE__ */ lazy(() => oneOf(["cooperative", "aggressive"]));

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    timeoutMs: timeoutMsSchema(),
    strategy: strategySchema(),
    clock: clockSchema(),
  })
);

/** What every call of one policy shares, built once per policy. */
interface TimeoutShared {
  readonly timeoutMs: number;
  readonly queue: DeadlineQueue;
  readonly events: Emitter<TimeoutEvents>;
  /** Idle reaction handlers of cooperative calls, linked by `next` (see {@link Reaction}). */
  free: Reaction | undefined;
  idle: number;
}

/** Idle handler pairs a policy keeps: enough for the calls a caller keeps in flight, bounded. */
const POOLED = 64;

/**
 * The reaction handlers of one pending cooperative call. A call's reaction
 * runs once, and then nothing holds its handlers but the promise machinery
 * that is done with them, so the policy reuses the pair for a later call:
 * two closures per call, saved. Given back before the call finishes (which
 * may run user code that starts a call).
 */
class Reaction {
  call: TimedCall<unknown> | undefined = undefined;
  next: Reaction | undefined = undefined;
  readonly onValue: (value: unknown) => unknown;
  readonly onError: (error: unknown) => never;

  constructor(shared: TimeoutShared) {
    this.onValue = (value) => {
      reactionDone(shared, this).finish();
      return value;
    };
    this.onError = (error) => {
      const call = reactionDone(shared, this);
      call.finish();
      throw call.translate(error);
    };
  }
}

/** Takes the call off `reaction` and gives the pair back to the policy's pool. */
function reactionDone(shared: TimeoutShared, reaction: Reaction): TimedCall<unknown> {
  const call = reaction.call!;
  reaction.call = undefined;
  if (shared.idle < POOLED) {
    reaction.next = shared.free;
    shared.free = reaction;
    shared.idle++;
  }
  return call;
}

/** {@link TimedCall}'s flags: the call has finished (left the queue and the caller's signal). */
const SETTLED = 1;
/** The deadline passed, or could not be kept: the call's {@link Rare.timedOut} is set. */
const TIMED_OUT = 2;
/** A fused record's timeout has entered: the record is its own context. */
const ENTERED = 4;

/**
 * The parts of a {@link TimedCall} that only some calls need: made on the
 * first need (a read of the signal, a deadline passed, an aggressive
 * timeout's caller), so that every other call allocates three fields less.
 */
class Rare {
  controller: AbortController | undefined = undefined;
  /**
   * Set (with {@link TIMED_OUT}) when the deadline passed, a `TimeoutError`,
   * or when the clock could not arm it, the clock's error: the abort reason
   * and the rejection.
   */
  timedOut: unknown = undefined;
  /** Rejects the caller's promise (aggressive strategy only; it also listens to the parent's signal). */
  reject: ((reason: unknown) => void) | undefined = undefined;
}

/**
 * One call under a deadline. It is the operation's {@link ExecutionContext}
 * (its signal is built on first read) and its entry in the deadline queue.
 * In a fused pipeline whose segment holds this timeout (innermost of the
 * segment's timeouts), it is the call's record as well (see
 * `internal/fused.ts`): one object per fused call, not two. One class for
 * both, not a subclass: each call site then sees one shape. Every call
 * allocates one, so it holds only what every call needs: the rest is in
 * {@link Rare}, and the duration is read from the policy's shared part.
 */
class TimedCall<T> implements ExecutionContext, Deadline, FusedCall {
  deadlineState = DONE;
  deadlineLink: Deadline | (() => void) | undefined = undefined;
  // The fused record's fields; unused outside a fused pipeline.
  readonly fn: Operation<unknown>;
  state0: unknown = undefined;
  state1: unknown = undefined;
  state2: unknown = undefined;
  state3: unknown = undefined;
  // `more` (a fifth fused stage and on) is left out: set only in pipelines
  // of more than four fusable layers, it costs every other call nothing.
  declare more: unknown[] | undefined;

  readonly #shared: TimeoutShared;
  /**
   * The caller's context. In a fused record, before the timeout enters, it
   * is also the record's `context` (what the layers outside hand inward);
   * once entered, the record is the context, which then shows no
   * reference to itself.
   */
  #parent: ExecutionContext | undefined;
  /** {@link SETTLED}, {@link TIMED_OUT}, {@link ENTERED}. */
  #flags = 0;
  #rare: Rare | undefined = undefined;

  /** `fn` only for a fused record (`parent` is then the outer layers' context, until the timeout enters). */
  constructor(shared: TimeoutShared, parent: ExecutionContext | undefined, fn?: Operation<unknown>) {
    this.#shared = shared;
    this.#parent = parent;
    this.fn = fn!;
  }

  /** The fused record's context for the layers inside: this call, once the timeout has entered. */
  get context(): ExecutionContext | undefined {
    return (this.#flags & ENTERED) === 0 ? this.#parent : this;
  }

  /** Set only by the layers outside the timeout (an outer timeout's stage), so before it enters. */
  set context(context: ExecutionContext | undefined) {
    this.#parent = context;
  }

  /** A fused record's timeout enters: the layers inside get this call as their context. */
  enter(): void {
    this.#flags |= ENTERED;
  }

  get durationMs(): number {
    return this.#shared.timeoutMs;
  }

  get signal(): AbortSignal {
    const rare = this.#rare ??= new Rare();
    if (rare.controller === undefined) {
      const controller = rare.controller = new AbortController();
      if ((this.#flags & TIMED_OUT) !== 0) {
        controller.abort(rare.timedOut);
      } else if (this.#parent !== undefined) {
        const parentSignal = this.#parent.signal;
        if (parentSignal.aborted) controller.abort(parentSignal.reason);
        else if ((this.#flags & SETTLED) === 0) parentSignal.addEventListener("abort", this);
      }
    }
    return rare.controller.signal;
  }

  /** Waits for `promise`, under the deadline. */
  run(promise: Promise<T>, aggressive: boolean): Promise<T> {
    let settled: Promise<T>;
    if (aggressive) {
      const rare = this.#rare ??= new Rare();
      settled = new Promise<T>((resolve, reject) => {
        rare.reject = reject;
        promise.then(
          (value) => this.finish() && resolve(value),
          (error) => this.finish() && reject(this.translate(error)),
        );
      });
      if (this.#parent !== undefined) {
        // Reject at once when the caller aborts, even if the operation
        // never reads its signal.
        try {
          const parentSignal = this.#parent.signal;
          if (parentSignal.aborted) this.handleEvent();
          else parentSignal.addEventListener("abort", this);
        } catch (error) {
          // A foreign policy outside handed in a signal that cannot be
          // listened to: this call fails with that error, and nothing is
          // left to settle (or reject unhandled) later.
          this.#flags |= SETTLED;
          rare.reject!(error);
        }
      }
    } else {
      // Handlers from the policy's pool: no closures per call.
      const shared = this.#shared;
      let reaction = shared.free;
      if (reaction === undefined) reaction = new Reaction(shared);
      else {
        shared.free = reaction.next;
        shared.idle--;
      }
      reaction.call = this as TimedCall<unknown>;
      settled = promise.then(reaction.onValue, reaction.onError) as Promise<T>;
    }
    // Queued after the reactions above, so that the queue's arming check
    // runs after them: a promise already settled leaves before any timer.
    this.start();
    return settled;
  }

  /** Joins the deadline queue, unless finished, expired or already in it. */
  start(): void {
    if ((this.#flags & (SETTLED | TIMED_OUT)) === 0 && this.deadlineState === DONE) this.#shared.queue.add(this);
  }

  /**
   * Deadline passed while the operation was pending; or, given `error`, the
   * clock threw when asked to arm it: it cannot be kept, so the call ends
   * as at a deadline, with the clock's error (no `timeout` event: no time
   * passed).
   */
  expire(error: unknown = new TimeoutError(this.#shared.timeoutMs)): void {
    const { timeoutMs, events } = this.#shared;
    const rare = this.#rare ??= new Rare();
    rare.timedOut = error;
    this.#flags |= TIMED_OUT;
    rare.controller?.abort(error);
    if (error instanceof TimeoutError && events.has("timeout")) events.emit("timeout", { timeoutMs });
    if (rare.reject !== undefined && this.finish()) rare.reject(error);
  }

  /** The caller's signal aborted (this object is its listener). */
  handleEvent(): void {
    const reason = this.#parent!.signal.reason;
    // Listening means a signal was read or the timeout is aggressive: the side object exists.
    const rare = this.#rare!;
    rare.controller?.abort(reason);
    if (rare.reject !== undefined && this.finish()) rare.reject(reason);
  }

  /** Leaves the queue and the caller's signal; false if already finished. */
  finish(): boolean {
    if ((this.#flags & SETTLED) !== 0) return false;
    this.#flags |= SETTLED;
    this.#shared.queue.remove(this);
    const rare = this.#rare;
    if (rare !== undefined && this.#parent !== undefined && (rare.controller !== undefined || rare.reject !== undefined)) {
      this.#parent.signal.removeEventListener("abort", this);
    }
    return true;
  }

  /**
   * Once this call's signal has aborted, a rejection is the abort's doing,
   * whatever the operation rejects with: workerd's `fetch`, for one, rejects
   * with a copy of the reason rather than the reason itself. And an
   * operation that fails after its deadline has, first of all, timed out.
   */
  translate(error: unknown): unknown {
    const rare = this.#rare;
    if (rare === undefined) return error;
    if (rare.controller?.signal.aborted) return rare.controller.signal.reason;
    return (this.#flags & TIMED_OUT) !== 0 ? rare.timedOut : error;
  }
}

/**
 * Runs operations under a deadline. The operation receives a context whose
 * `signal` aborts with a {@link TimeoutError} at the deadline, or with the
 * caller's reason when the caller's signal aborts. Put it inside a retry for
 * a per-attempt deadline, outside for an overall one.
 *
 * By default the timeout is cooperative: it aborts the signal and waits for
 * the operation to settle, so an operation that ignores its signal is not
 * cut short, and a bulkhead slot or half-open probe held around it stays
 * held until it settles. Use `strategy: "aggressive"` to answer the caller
 * at the deadline regardless (see {@link TimeoutStrategy} for what that
 * frees).
 *
 * @example
 * ```ts
 * import { TimeoutError, TimeoutPolicy } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const timeout = new TimeoutPolicy({ timeoutMs: 100, clock });
 * const call = timeout.execute(({ signal }) =>
 *   new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
 * );
 * const outcome = call.catch((error) => error);
 * await clock.advance(100);
 * if (!((await outcome) instanceof TimeoutError)) throw new Error("expected a timeout");
 * ```
 */
export class TimeoutPolicy implements LayeredPolicy, FusablePolicy {
  /** The options in force, defaults applied. */
  readonly options: ResolvedTimeoutOptions;
  readonly #events = new Emitter<TimeoutEvents>();
  readonly #shared: TimeoutShared;
  readonly #aggressive: boolean;

  constructor(options: TimeoutOptions = {}) {
    throwIf(badOptions("TimeoutPolicy", options));
    // The defaults are one shared object, checked once while configure()
    // leaves them: each construction checks only the options given.
    this.options = Object.freeze(
      validateOver("TimeoutPolicy", optionsSchema(), sharedBase("timeout", "timeout", TIMEOUT_DEFAULTS, { clock: systemClock as Clock }), options),
    );
    this.#shared = {
      timeoutMs: this.options.timeoutMs,
      queue: deadlineQueueFor(this.options.clock),
      events: this.#events,
      free: undefined,
      idle: 0,
    };
    this.#aggressive = this.options.strategy === "aggressive";
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof TimeoutEvents>(event: K, listener: Listener<TimeoutEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /**
   * Runs `fn` under the deadline. Rejects with a {@link TimeoutError} when the
   * deadline passes (see {@link TimeoutStrategy}), or with the caller's abort
   * reason when `signal` aborts.
   */
  execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    // Without a signal, straight in: executeIn's call of the policy is
    // shared by every policy class, so it is a megamorphic call.
    if (signal === undefined && typeof fn === "function") return this[runThrough](fn, undefined, callOperation);
    return executeIn(this, fn, signal, "TimeoutPolicy.execute");
  }

  /** Wraps `fn` so that every call runs under this timeout. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<R> {
    return wrapIn(this, fn, "TimeoutPolicy.wrap");
  }

  /** @internal Runs `fn` with `parent`'s signal combined with the deadline. */
  [runInContext]<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T> {
    return this[runThrough](fn, parent, callOperation);
  }

  /** @internal */
  [runThrough]<T>(fn: Operation<T>, parent: ExecutionContext | undefined, next: Next): Promise<T> {
    const call = new TimedCall<T>(this.#shared, parent);
    let result: T | PromiseLike<T>;
    try {
      result = next(fn, call);
    } catch (error) {
      // The operation may have read its signal, linking it to the caller's.
      call.finish();
      return Promise.reject(error);
    }
    // A synchronous result cannot be late: no deadline to track. (A native
    // promise first: no `then` lookup on the common path.)
    if (!(result instanceof Promise) && !isThenable(result)) {
      call.finish();
      return Promise.resolve(result);
    }
    return call.run(Promise.resolve(result), this.#aggressive);
  }

  /**
   * @internal In a fused pipeline: the call joins the deadline queue when
   * it must wait (the operation returned a promise, or a layer inside
   * waits: a retry, a queued bulkhead), and leaves it when the layers
   * inside have settled. An
   * aggressive timeout settles its caller's promise itself, so it is not
   * fused.
   */
  [fuse](): Stage | undefined {
    if (this.#aggressive) return undefined;
    return new FusedTimeout(this.#shared);
  }
}

// The timeout's stages are classes, not objects of closures: their methods
// are one function for every policy, so a fused call site shared by several
// pipelines still sees one target (V8 before Maglev inlines a closure
// shared by many pipelines less well).

/** A cooperative timeout's stage. Its state is its TimedCall, or unset when the call record is the TimedCall ({@link RecordStage}). */
class TimeoutStage implements Stage {
  readonly shared: TimeoutShared;

  constructor(shared: TimeoutShared) {
    this.shared = shared;
  }

  enter(call: FusedCall): unknown {
    const timed = new TimedCall<unknown>(this.shared, call.context);
    call.context = timed;
    return timed;
  }

  started(timed: unknown, call: FusedCall): void {
    ((timed ?? call) as TimedCall<unknown>).start();
  }

  onValue(timed: unknown, value: unknown, call: FusedCall): unknown {
    ((timed ?? call) as TimedCall<unknown>).finish();
    return value;
  }

  onError(timed: unknown, error: unknown, call: FusedCall): never {
    const own = (timed ?? call) as TimedCall<unknown>;
    own.finish();
    throw own.translate(error);
  }
}

/** The stage when the call record is this timeout's TimedCall. */
class RecordStage extends TimeoutStage {
  override enter(call: FusedCall): unknown {
    (call as TimedCall<unknown>).enter();
    return undefined;
  }
}

/** What a cooperative timeout gives a fused pipeline: its stage, and the call record (its TimedCall) when it is innermost. */
class FusedTimeout extends TimeoutStage {
  /** Itself: its `stage` and `newCall` are the record's (see {@link Stage.record}). */
  readonly record: this = this;
  readonly stage: Stage = new RecordStage(this.shared);

  newCall(fn: Operation<unknown>, parent: ExecutionContext | undefined): FusedCall {
    return new TimedCall<unknown>(this.shared, parent, fn);
  }
}

/** Options of {@link withTimeout}. */
export interface WithTimeoutOptions extends TimeoutOptions {
  /** The caller's signal: aborting it aborts the operation's signal. */
  signal?: AbortSignal;
}

/**
 * Runs `fn` once under a deadline: `fn` receives an `AbortSignal` that aborts
 * at `timeoutMs`. The policy built for the same option values (compared
 * with `===`, under the same `configure()` defaults) is reused, so a
 * literal written at the call site costs about what `TimeoutPolicy.execute`
 * does.
 * Rejects with an `InvalidArgumentError` when `fn` is not a function or
 * `options` is not an options object (`withTimeout(fn, 50)`: write
 * `{ timeoutMs: 50 }`).
 *
 * @example
 * ```ts
 * import { withTimeout } from "bulwark";
 * const value = await withTimeout(async ({ signal }) => signal.aborted ? 0 : 42, { timeoutMs: 1_000 });
 * if (value !== 42) throw new Error("unexpected");
 * ```
 */
export function withTimeout<T>(fn: Operation<T>, options: WithTimeoutOptions): Promise<T> {
  const misuse = badFunction("withTimeout", fn) ?? badOptions("withTimeout", options) ??
    badSignal("withTimeout", options?.signal, "options.signal");
  if (misuse !== undefined) return Promise.reject(misuse);
  const given = options ?? NO_OPTIONS;
  return timeoutPolicyFor(given).execute(fn, given.signal);
}

/** A policy built by {@link withTimeout}, beside the option values it was built from. */
interface TimeoutForm {
  readonly policy: TimeoutPolicy;
  readonly generation: number;
  readonly keys: number;
  readonly timeoutMs: unknown;
  readonly strategy: unknown;
  readonly clock: unknown;
}

const NO_OPTIONS: WithTimeoutOptions = {};
/** The policies `withTimeout(fn, options)` built last (see internal/forms.ts). */
const timeoutForms: TimeoutForm[] = [];
let nextTimeoutForm = 0;

/** The policy for `withTimeout(fn, options)`: one built earlier for the same option values, else a new one. */
function timeoutPolicyFor(options: WithTimeoutOptions): TimeoutPolicy {
  const keys = policyKeyCount(options);
  const generation = defaultsGeneration();
  for (let i = 0; i < timeoutForms.length; i++) {
    const form = timeoutForms[i]!;
    if (
      form.keys === keys && form.generation === generation && form.timeoutMs === options.timeoutMs &&
      form.strategy === options.strategy && form.clock === options.clock
    ) {
      return form.policy;
    }
  }
  const { timeoutMs, strategy, clock } = options;
  const defined = (timeoutMs === undefined ? 0 : 1) + (strategy === undefined ? 0 : 1) + (clock === undefined ? 0 : 1);
  if (keys !== defined) {
    // Unknown keys, keys given as undefined, not a plain object: validated as given, never kept.
    const { signal: _, ...policyOptions } = options;
    return new TimeoutPolicy(policyOptions);
  }
  // Built from the values just read, which the next call compares against.
  const policy = new TimeoutPolicy({
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(strategy === undefined ? {} : { strategy }),
    ...(clock === undefined ? {} : { clock }),
  });
  const form: TimeoutForm = { policy, generation, keys, timeoutMs, strategy, clock };
  if (timeoutForms.length < FORMS_KEPT) timeoutForms.push(form);
  else timeoutForms[nextTimeoutForm++ % FORMS_KEPT] = form;
  return policy;
}

/** Options of {@link TimeoutManager}. */
export interface TimeoutManagerOptions {
  /** Timeout of operations without their own, in ms, `> 0`. Default from `configure({ timeout })`. */
  defaultMs?: number;
  /** Default `"cooperative"`. */
  strategy?: TimeoutStrategy;
  /** Time source. Default {@link systemClock}. */
  clock?: Clock;
}

const managerSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    defaultMs: timeoutMsSchema(),
    strategy: strategySchema(),
    clock: clockSchema(),
  })
);

const configureSchema = /* @__PURE__ */ lazy(() => strictObject({ operation: name(), ms: timeoutMsSchema() }));

/**
 * Named timeouts: one default, overridden per operation name, as in the
 * seeds' `TimeoutManager`.
 *
 * @example
 * ```ts
 * import { TimeoutManager } from "bulwark";
 * const timeouts = new TimeoutManager({ defaultMs: 10_000 });
 * timeouts.configure("sendEmail", 5_000);
 * if (timeouts.timeoutFor("sendEmail") !== 5_000) throw new Error("override");
 * if (timeouts.timeoutFor("other") !== 10_000) throw new Error("default");
 * const sent = await timeouts.run("sendEmail", async () => "sent");
 * if (sent !== "sent") throw new Error("unexpected");
 * ```
 */
export class TimeoutManager {
  readonly #strategy: TimeoutStrategy;
  readonly #clock: Clock;
  readonly #default: TimeoutPolicy;
  readonly #policies = new Map<string, TimeoutPolicy>();

  constructor(options: TimeoutManagerOptions = {}) {
    throwIf(badOptions("TimeoutManager", options));
    const timeoutDefaults = sharedDefaults("timeout", TIMEOUT_DEFAULTS);
    const resolved = validate("TimeoutManager", managerSchema(), {
      defaultMs: timeoutDefaults.timeoutMs,
      strategy: timeoutDefaults.strategy,
      clock: systemClock,
      ...options,
    });
    this.#strategy = resolved.strategy;
    this.#clock = resolved.clock;
    this.#default = this.#policy(resolved.defaultMs);
  }

  /** The default timeout, in ms. */
  get defaultMs(): number {
    return this.#default.options.timeoutMs;
  }

  /**
   * Sets the timeout of `operation` to `ms` (`> 0`, else {@link ConfigError}).
   * Throws an `InvalidArgumentError` if `operation` is not a string or `ms`
   * not a number.
   */
  configure(operation: string, ms: number): void {
    throwIf(badString("TimeoutManager.configure", operation, "operation"));
    if (typeof ms !== "number") throw new InvalidArgumentError("TimeoutManager.configure", "ms", ms, "a number of milliseconds");
    validate("TimeoutManager.configure", configureSchema(), { operation, ms });
    this.#policies.set(operation, this.#policy(ms));
  }

  /** The timeout of `operation` in ms: its own, or the default. Throws an `InvalidArgumentError` if `operation` is not a string. */
  timeoutFor(operation: string): number {
    throwIf(badString("TimeoutManager.timeoutFor", operation, "operation"));
    return (this.#policies.get(operation) ?? this.#default).options.timeoutMs;
  }

  /**
   * Runs `fn` under the timeout of `operation`. Rejects with an
   * `InvalidArgumentError` if `operation` is not a string, `fn` not a
   * function or `signal` not an `AbortSignal`.
   */
  run<T>(operation: string, fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    const misuse = badString("TimeoutManager.run", operation, "operation") ?? badCall("TimeoutManager.run", fn, signal);
    if (misuse !== undefined) return Promise.reject(misuse);
    return (this.#policies.get(operation) ?? this.#default).execute(fn, signal);
  }

  #policy(timeoutMs: number): TimeoutPolicy {
    return new TimeoutPolicy({ timeoutMs, strategy: this.#strategy, clock: this.#clock });
  }
}

