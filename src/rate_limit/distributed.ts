/**
 * Distributed rate limits: one limit shared by every instance of a fleet,
 * kept in a {@link Store}, each decision one atomic {@link Store.update}.
 *
 * The algorithms are the in-process ones (`algorithm.ts`: pure transitions
 * over JSON state); here they run as {@link Transition}s, so the engine
 * computes each decision next to the data in one round trip where it can:
 * inside a Durable Object (the object registers {@link RATE_LIMIT_TRANSITIONS}),
 * as a Lua script in Redis (`bulwark/redis` carries ports of them), as SQL
 * in PostgreSQL and D1, and as a compare-and-set loop elsewhere (Deno KV's
 * `atomic().check()`). Time is
 * the engine's (`nowMs` of {@link Transition.apply}), so clients whose clocks
 * disagree still agree on the limit.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { InvalidArgumentError, StoreError } from "../errors.ts";
import { Emitter, type Listener, type Unsubscribe } from "../events.ts";
import { badOptions, throwIf } from "../internal/arguments.ts";
import { DeadlineList, type ListedDeadline } from "../internal/deadline_list.ts";
import { requireStore } from "../store/requirements.ts";
import { updateWithin } from "../store/update_within.ts";
import type { StoreAdapter } from "../store/adapter.ts";
import { type Json, type Store, type Transition, type TransitionResult, UNCHANGED } from "../store/store.ts";
import { boolean, durationMs, integer, lazy, name, oneOf, optional, satisfying, type Schema, strictObject, validate } from "../validation.ts";
import { decide, type RateLimitAlgorithm, type RateLimitDecision } from "./algorithm.ts";
import { type AlgorithmOptions, createAlgorithm } from "./create.ts";
import { FixedWindow } from "./fixed_window.ts";
import { Gcra } from "./gcra.ts";
import { KeyedRateLimiter } from "./keyed.ts";
import { algorithmOf, algorithmShape, badCost, badKey } from "./options.ts";
import { SlidingWindowCounter, SlidingWindowLog } from "./sliding_window.ts";
import { type BucketOptions, TokenBucket } from "./token_bucket.ts";
import { RATE_LIMIT_TRANSITION_NAMES } from "./transition_names.ts";

export { RATE_LIMIT_TRANSITION_NAMES } from "./transition_names.ts";

/** What a distributed limiter does when its store fails or passes `timeoutMs`. */
export type StoreErrorPolicy = "allow" | "deny" | "local";

/** Options of {@link DistributedRateLimiter}: a store, an algorithm (default the token bucket) and its options. */
export type DistributedRateLimiterOptions = (AlgorithmOptions | ({ algorithm?: undefined } & BucketOptions)) & {
  /** Where the shared state lives: an atomic store (Durable Object, Redis, PostgreSQL, D1, Deno KV, memory). */
  store: Store;
  /** Name used in errors, events and stats; also part of the keys. Default: the algorithm's kind. */
  name?: string;
  /** Local time: timeouts and the blocked-key cache (decisions use the engine's time). Default `systemClock`. */
  clock?: Clock;
  /** Prepended to every key in the store. Default `"rl:<name>:"`. */
  prefix?: string;
  /** Longest wait for the store per decision, in ms; past it `onStoreError` applies. Default `1000`. */
  timeoutMs?: number;
  /**
   * When the store fails or passes `timeoutMs`: `"allow"` admits,
   * `"deny"` refuses, `"local"` (default) decides with an in-process
   * {@link KeyedRateLimiter} of the same algorithm (each instance then
   * enforces the limit on its own).
   */
  onStoreError?: StoreErrorPolicy;
  /**
   * Most keys remembered as blocked (answered locally, without a round trip,
   * until their `retryAfterMs` has passed); `0` turns the cache off.
   * Default `10_000`.
   */
  maxBlockedKeys?: number;
  /** Accept a store without atomic operations (Workers KV) anyway: the limit may then be exceeded. Default `false`. */
  bestEffort?: boolean;
};

/** Where a {@link DistributedDecision} came from. */
export type DecisionSource = "store" | "cache" | "policy";

/** A {@link RateLimitDecision} of a {@link DistributedRateLimiter}, and where it came from. */
export interface DistributedDecision extends RateLimitDecision {
  /**
   * `"store"`: the engine decided; `"cache"`: the key was known blocked and
   * answered locally; `"policy"`: the store failed and `onStoreError` decided.
   */
  readonly source: DecisionSource;
}

/** Options of {@link DistributedRateLimiter.limit}. */
export interface LimitOptions {
  /** Units to take. Default `1`. */
  cost?: number;
}

/** Counters of a {@link DistributedRateLimiter}. */
export interface DistributedRateLimiterStats {
  /** Decisions made (every `limit()` call that was not refused as misuse). */
  readonly decisions: number;
  /** Decisions that admitted. */
  readonly allowed: number;
  /** Decisions that refused. */
  readonly denied: number;
  /** Store operations started (one per decision not answered from the cache). */
  readonly storeCalls: number;
  /** Decisions answered from the blocked-key cache, without a round trip. */
  readonly cacheHits: number;
  /** Store operations that failed or timed out. */
  readonly storeErrors: number;
  /** Of {@link DistributedRateLimiterStats.storeErrors}, those that passed `timeoutMs`. */
  readonly timeouts: number;
  /** Keys in the blocked-key cache now. */
  readonly blockedKeys: number;
  /**
   * Compare-and-set rounds the store lost and retried (Deno KV, SQL, any
   * store whose `update` is a loop), as the store counts them
   * (`StoreAdapter.conflicts`, for all its users); 0 where decisions run in
   * the engine.
   */
  readonly conflicts: number;
}

/** Events of a {@link DistributedRateLimiter}. */
export interface DistributedRateLimiterEvents {
  /** The store failed or passed `timeoutMs` for `key`; `policy` decided instead. */
  storeError: { readonly key: string; readonly error: unknown; readonly timedOut: boolean; readonly policy: StoreErrorPolicy };
}

/** The transition's input: the cost and the algorithm's parameters (so an engine can decide without the client's objects). */
type WindowInput = { readonly l: number; readonly w: number; readonly c: number };
type BucketInput = { readonly r: number; readonly p: number; readonly b: number; readonly c: number };
type RateLimitInput = WindowInput | BucketInput;

/**
 * The transition's output: `a` allowed, `r` remaining, `t` retryAfterMs
 * (`-1`: never, JSON has no `Infinity`), `s` resetMs.
 */
type RateLimitOutput = { readonly a: boolean; readonly r: number; readonly t: number; readonly s: number };

type TransitionKind = keyof typeof RATE_LIMIT_TRANSITION_NAMES;

function kindOf(algorithm: RateLimitAlgorithm): TransitionKind {
  return algorithm instanceof SlidingWindowCounter ? "sliding-window-counter" : algorithm.kind;
}

function inputOf(algorithm: RateLimitAlgorithm, cost: number): RateLimitInput {
  if (algorithm instanceof TokenBucket || algorithm instanceof Gcra) {
    return { r: algorithm.rate, p: algorithm.perMs, b: algorithm.burst, c: cost };
  }
  return { l: algorithm.limit, w: algorithm.windowMs, c: cost };
}

/** One decision on `algorithm` at the engine's `now`: the whole transition. */
function step(algorithm: RateLimitAlgorithm, current: Json | undefined, cost: number, now: number): TransitionResult<RateLimitOutput> {
  // Anything but an object (absent, expired, or not ours) starts fresh.
  const state = typeof current === "object" && current !== null && !Array.isArray(current)
    ? current as object
    : algorithm.initial(now);
  const decision = decide(algorithm, state, now, cost);
  const output: RateLimitOutput = {
    a: decision.allowed,
    r: decision.remaining,
    t: Number.isFinite(decision.retryAfterMs) ? decision.retryAfterMs : -1,
    s: decision.resetMs,
  };
  // A refusal changes no decision: nothing written. An admission's state
  // expires once fully replenished, when it equals a fresh one.
  if (!decision.allowed) return { next: UNCHANGED, output };
  return { next: decision.state as unknown as Json, ttlMs: Math.max(1, Math.ceil(decision.resetMs)), output };
}

// Engines running the registered transitions rebuild an algorithm from the
// input's parameters: built once per parameter set, a few kept.
let algorithms: Map<string, RateLimitAlgorithm> | undefined;
const MAX_CACHED_ALGORITHMS = 256;

function algorithmFor(kind: TransitionKind, input: RateLimitInput): RateLimitAlgorithm {
  const id = "l" in input ? `${kind}|${input.l}|${input.w}` : `${kind}|${input.r}|${input.p}|${input.b}`;
  algorithms ??= new Map();
  let algorithm = algorithms.get(id);
  if (algorithm === undefined) {
    if ("l" in input) {
      const window = { limit: input.l, windowMs: input.w };
      algorithm = kind === "fixed-window"
        ? new FixedWindow(window)
        : kind === "sliding-window"
        ? new SlidingWindowLog(window)
        : new SlidingWindowCounter(window);
    } else {
      const bucket = { rate: input.r, perMs: input.p, burst: input.b };
      algorithm = kind === "gcra" ? new Gcra(bucket) : new TokenBucket(bucket);
    }
    if (algorithms.size >= MAX_CACHED_ALGORITHMS) algorithms.clear();
    algorithms.set(id, algorithm);
  }
  return algorithm;
}

function isInput(kind: TransitionKind, input: unknown): input is RateLimitInput {
  if (typeof input !== "object" || input === null) return false;
  const fields = kind === "token-bucket" || kind === "gcra" ? ["r", "p", "b", "c"] : ["l", "w", "c"];
  return fields.every((field) => typeof (input as Record<string, unknown>)[field] === "number");
}

function registered(kind: TransitionKind): Transition<RateLimitInput, RateLimitOutput> {
  return {
    name: RATE_LIMIT_TRANSITION_NAMES[kind],
    apply(current, input, nowMs) {
      if (!isInput(kind, input)) {
        throw new TypeError(`${RATE_LIMIT_TRANSITION_NAMES[kind]}: malformed input ${JSON.stringify(input)}`);
      }
      return step(algorithmFor(kind, input), current, input.c, nowMs);
    },
  };
}

/**
 * The distributed limiters' transitions, by name, rebuilding the algorithm
 * from the input: what an engine that runs transitions itself registers
 * (`stateObjectClass` does so by default).
 *
 * @example
 * ```ts
 * import { RATE_LIMIT_TRANSITIONS } from "bulwark";
 * const fixed = RATE_LIMIT_TRANSITIONS.find((t) => t.name === "bulwark.rate-limit.fixed-window")!;
 * const first = fixed.apply(undefined, { l: 1, w: 1_000, c: 1 }, 5_000);
 * const second = fixed.apply(first.next as never, { l: 1, w: 1_000, c: 1 }, 5_400);
 * if (!(first.output as { a: boolean }).a || (second.output as { t: number }).t !== 600) throw new Error("one per window");
 * ```
 */
export const RATE_LIMIT_TRANSITIONS: readonly Transition[] = /* @__PURE__ */ Object.freeze([
  /* @__PURE__ */ registered("fixed-window") as unknown as Transition,
  /* @__PURE__ */ registered("sliding-window") as unknown as Transition,
  /* @__PURE__ */ registered("sliding-window-counter") as unknown as Transition,
  /* @__PURE__ */ registered("token-bucket") as unknown as Transition,
  /* @__PURE__ */ registered("gcra") as unknown as Transition,
]);

/** Built on first use, once per algorithm. */
const schemas = new Map<string, Schema>();
function optionsSchema(kind: string): Schema {
  let schema = schemas.get(kind);
  if (schema === undefined) {
    const store = satisfying<Store>(
      (value) => typeof value === "object" && value !== null && typeof (value as Store).update === "function",
      "a Store (MemoryStore, RedisStore, DurableObjectStore, PostgresStore, D1Store, DenoKvStore, ...)",
    );
    schema = strictObject({
      ...algorithmShape(kind as never),
      store,
      name: optional(name()),
      clock: optional(clockField()),
      prefix: optional(satisfying<string>((value) => typeof value === "string", "a string")),
      timeoutMs: optional(durationMs(0, true)),
      onStoreError: optional(oneOf(["allow", "deny", "local"])),
      maxBlockedKeys: optional(integer(0)),
      bestEffort: optional(boolean()),
    });
    schemas.set(kind, schema);
  }
  return schema;
}

const clockField = /* @__PURE__ */ lazy(() =>
  satisfying<Clock>(
    (value) => typeof value === "object" && value !== null && typeof (value as Clock).now === "function" &&
      typeof (value as Clock).schedule === "function",
    "a Clock (an object with now, wallNow, sleep and schedule)",
  )
);

/** A key known blocked: refused for `cost` (or more) until `untilMs` (local monotonic). */
interface Blocked {
  readonly untilMs: number;
  readonly cost: number;
  readonly remaining: number;
  readonly resetAtMs: number;
}

const WHY_ATOMIC = "two instances could both take the last unit of a limit (read, both see it free, both write): " +
  "the limit would be exceeded under exactly the load it exists for";

/**
 * One rate limit per key, shared by every instance that uses the same store:
 * `limit(key, { cost })` takes `cost` units of `key`'s limit, or refuses, and
 * resolves to the decision (`rateLimitHeaders()` turns it into headers).
 *
 * - **One round trip per decision**: the algorithm runs as one
 *   {@link Store.update}: inside a Durable Object, as a Lua script in Redis,
 *   as an `atomic().check()` loop on Deno KV (plus one per conflict).
 * - **Engine time**: decisions use the store's clock (Redis `TIME`, the
 *   Durable Object's, PostgreSQL's `now()`, D1's SQLite; Deno KV and memory stores use
 *   the calling process's `wallNow()`).
 * - **Blocked keys answered locally**: after a refusal, the key is known
 *   blocked for `retryAfterMs`; calls for as much or more in that time are
 *   refused without a round trip (`source: "cache"`).
 * - **Failures**: a store that fails or passes `timeoutMs` never fails
 *   `limit()`; `onStoreError` decides, a `storeError` event reports it.
 * - A store without atomic operations (Workers KV) is refused with a
 *   `ConfigError`: two isolates could both take the last unit.
 *
 * @example
 * ```ts
 * import { DistributedRateLimiter, MemoryStore, rateLimitHeaders } from "bulwark";
 * // One store for the fleet: a RedisStore, DurableObjectStore, DenoKvStore, ...
 * const limiter = new DistributedRateLimiter({ store: new MemoryStore(), algorithm: "fixed-window", limit: 2, windowMs: 60_000 });
 * const first = await limiter.limit("user:1");
 * await limiter.limit("user:1");
 * const third = await limiter.limit("user:1");
 * if (!first.allowed || third.allowed || first.remaining !== 1) throw new Error("two per minute");
 * if (rateLimitHeaders(third)["Retry-After"] === undefined) throw new Error("refusal says when");
 * ```
 */
export class DistributedRateLimiter {
  /** Name used in errors, events and stats. */
  readonly name: string;
  /** The algorithm every key runs. */
  readonly algorithm: RateLimitAlgorithm;
  /** The shared store. */
  readonly store: Store;
  /** Prepended to every key in the store. */
  readonly prefix: string;
  /** Longest wait for the store per decision. */
  readonly timeoutMs: number;
  /** What decides when the store fails. */
  readonly onStoreError: StoreErrorPolicy;
  /** Most keys in the blocked-key cache. */
  readonly maxBlockedKeys: number;
  readonly #clock: Clock;
  readonly #transition: Transition<RateLimitInput, RateLimitOutput>;
  readonly #algorithmOptions: AlgorithmOptions;
  readonly #blocked = new Map<string, Blocked>();
  readonly #events = new Emitter<DistributedRateLimiterEvents>();
  #local: KeyedRateLimiter | undefined;
  #unitInput: RateLimitInput | undefined;
  /** The deadlines of the decisions this limiter bounds itself: one timer for all (made on first use). */
  #deadlines: DeadlineList | undefined;
  /**
   * How the wait is bounded: 1, the store times out on its own no later
   * than timeoutMs, on the same clock; 2, the store bounds this call by
   * timeoutMs itself ({@link updateWithin}: a StoreAdapter on the same
   * clock); either way no timer, controller or listener of ours. 0: a timer
   * of ours and an abort signal.
   */
  readonly #storeBounds: 0 | 1 | 2;
  #decisions = 0;
  #allowed = 0;
  #storeCalls = 0;
  #cacheHits = 0;
  #storeErrors = 0;
  #timeouts = 0;

  /** Throws `ConfigError` naming every bad option, or refusing a store without atomic operations. */
  constructor(options: DistributedRateLimiterOptions) {
    throwIf(badOptions("DistributedRateLimiter", options));
    const given = options.algorithm === undefined ? { ...options, algorithm: "token-bucket" as const } : options;
    const kind = algorithmOf("DistributedRateLimiter", given);
    const parsed = validate("DistributedRateLimiter", optionsSchema(kind), given) as {
      name?: string;
      clock?: Clock;
      prefix?: string;
      timeoutMs?: number;
      onStoreError?: StoreErrorPolicy;
      maxBlockedKeys?: number;
      bestEffort?: boolean;
    };
    requireStore("DistributedRateLimiter", options.store, { atomic: true, strong: true, why: WHY_ATOMIC }, parsed.bestEffort);
    const {
      store: _s,
      name: _n,
      clock: _c,
      prefix: _p,
      timeoutMs: _t,
      onStoreError: _o,
      maxBlockedKeys: _m,
      bestEffort: _b,
      ...algorithmOptions
    } = given;
    this.#algorithmOptions = algorithmOptions as AlgorithmOptions;
    const algorithm = createAlgorithm(this.#algorithmOptions);
    this.algorithm = algorithm;
    this.store = options.store;
    this.name = parsed.name ?? algorithm.kind;
    this.prefix = parsed.prefix ?? `rl:${this.name}:`;
    this.timeoutMs = parsed.timeoutMs ?? 1_000;
    this.onStoreError = parsed.onStoreError ?? "local";
    this.maxBlockedKeys = parsed.maxBlockedKeys ?? 10_000;
    this.#clock = parsed.clock ?? systemClock;
    const storeTimeout = (this.store as { timeoutMs?: unknown }).timeoutMs;
    const storeClock = (this.store as { clock?: unknown }).clock;
    this.#storeBounds = storeClock !== this.#clock
      ? 0
      : typeof storeTimeout === "number" && storeTimeout <= this.timeoutMs
      ? 1
      : typeof (this.store as { [updateWithin]?: unknown })[updateWithin] === "function"
      ? 2
      : 0;
    // The limiter's own algorithm object: no rebuilding from the input in-process.
    const kindName = kindOf(algorithm);
    this.#transition = {
      name: RATE_LIMIT_TRANSITION_NAMES[kindName],
      apply: (current, input, nowMs) => step(algorithm, current, input.c, nowMs),
    };
  }

  /** Counters since creation. */
  get stats(): DistributedRateLimiterStats {
    const conflicts = (this.store as { conflicts?: unknown }).conflicts;
    return {
      decisions: this.#decisions,
      allowed: this.#allowed,
      denied: this.#decisions - this.#allowed,
      storeCalls: this.#storeCalls,
      cacheHits: this.#cacheHits,
      storeErrors: this.#storeErrors,
      timeouts: this.#timeouts,
      blockedKeys: this.#blocked.size,
      conflicts: typeof conflicts === "number" ? conflicts : 0,
    };
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof DistributedRateLimiterEvents & string>(event: K, listener: Listener<DistributedRateLimiterEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /**
   * Takes `options.cost` (default 1) units of `key`'s limit if they are
   * there; never waits. Resolves to the decision; rejects only on misuse
   * (`InvalidArgumentError`: a key that is not a string, options that are
   * not an object, a cost that is not a number > 0 within the limit), never
   * because the store failed.
   */
  limit(key: string, options?: LimitOptions): Promise<DistributedDecision> {
    const bad = badKey("DistributedRateLimiter", "limit", key) ?? badOptions("DistributedRateLimiter.limit", options);
    if (bad !== undefined) return Promise.reject(bad);
    const cost = options?.cost ?? 1;
    if (cost !== 1) {
      const badCostError = badCost("DistributedRateLimiter", "limit", this.algorithm, cost, "options.cost");
      if (badCostError !== undefined) return Promise.reject(badCostError);
    }
    const blocked = this.#blocked.get(key);
    if (blocked !== undefined) {
      // The clock is read only for a key known blocked: an admitted call reads none here.
      const now = this.#clock.now();
      if (blocked.untilMs > now) {
        if (cost >= blocked.cost) {
          this.#cacheHits++;
          return Promise.resolve(this.#count(this.#cached(blocked, cost, now)));
        }
      } else this.#blocked.delete(key);
    }
    return this.#ask(key, cost);
  }

  /** Forgets which keys are known blocked (the store is untouched). */
  clearBlocked(): void {
    this.#blocked.clear();
  }

  #cached(blocked: Blocked, cost: number, now: number): DistributedDecision {
    return {
      allowed: false,
      cost,
      limit: this.algorithm.limit,
      windowMs: this.algorithm.windowMs,
      remaining: blocked.remaining,
      retryAfterMs: blocked.untilMs - now,
      resetMs: Math.max(0, blocked.resetAtMs - now),
      source: "cache",
    };
  }

  #count(decision: DistributedDecision): DistributedDecision {
    this.#decisions++;
    if (decision.allowed) this.#allowed++;
    return decision;
  }

  #ask(key: string, cost: number): Promise<DistributedDecision> {
    this.#storeCalls++;
    // The input of a one-unit call is always the same (an engine only reads it): built once.
    const input = cost === 1 ? (this.#unitInput ??= inputOf(this.algorithm, 1)) : inputOf(this.algorithm, cost);
    const bounds = this.#storeBounds;
    if (bounds !== 0) {
      // The store fails the call with ERR_STORE_TIMEOUT by timeoutMs: no timer, controller or listener of ours.
      let pending: Promise<RateLimitOutput>;
      try {
        pending = bounds === 1
          ? this.store.update(this.prefix + key, this.#transition, input)
          : (this.store as unknown as StoreAdapter)[updateWithin](this.prefix + key, this.#transition, input, this.timeoutMs);
      } catch (error) {
        pending = Promise.reject(error);
      }
      return pending.then(
        (output) => this.#decidedOrFailed(key, cost, output),
        (error: unknown) => this.#rejected(key, cost, error),
      );
    }
    // Aborted at timeoutMs: the store clears its timer, a compare-and-set loop stops.
    const controller = new AbortController();
    let pending: Promise<RateLimitOutput>;
    try {
      pending = this.store.update(this.prefix + key, this.#transition, input, { signal: controller.signal });
    } catch (error) {
      pending = Promise.reject(error);
    }
    // One timer of the limiter's bounds every pending decision (deadline_list.ts).
    const deadlines = this.#deadlines ??= new DeadlineList(this.#clock, this.timeoutMs);
    return new Promise<DistributedDecision>((resolve, reject) => {
      let settled = false;
      const deadline: ListedDeadline = {
        expire: () => {
          if (settled) return;
          settled = true;
          const error = new StoreError("ERR_STORE_TIMEOUT", this.store.name, "update", key, `no decision within ${this.timeoutMs} ms`, {
            timeoutMs: this.timeoutMs,
          });
          controller.abort(error);
          resolve(this.#failed(key, cost, error, true));
        },
        deadlineAt: -1,
        deadlineNext: undefined,
        deadlinePrev: undefined,
      };
      deadlines.add(deadline);
      pending.then(
        (output) => {
          if (settled) return;
          settled = true;
          deadlines.remove(deadline);
          resolve(this.#decidedOrFailed(key, cost, output));
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          deadlines.remove(deadline);
          this.#rejected(key, cost, error).then(resolve, reject);
        },
      );
    });
  }

  #decidedOrFailed(key: string, cost: number, output: RateLimitOutput): DistributedDecision {
    try {
      return this.#decided(key, cost, output);
    } catch (error) {
      return this.#failed(key, cost, error, false);
    }
  }

  /** A store error: the policy decides; misuse (a key too long for the engine, a bad argument) rejects. */
  #rejected(key: string, cost: number, error: unknown): Promise<DistributedDecision> {
    if (error instanceof InvalidArgumentError || (error instanceof StoreError && error.code === "ERR_STORE_LIMIT")) {
      return Promise.reject(error);
    }
    return Promise.resolve(this.#failed(key, cost, error, error instanceof StoreError && error.code === "ERR_STORE_TIMEOUT"));
  }

  #decided(key: string, cost: number, output: RateLimitOutput): DistributedDecision {
    if (typeof output !== "object" || output === null || typeof output.a !== "boolean") {
      throw new StoreError("ERR_STORE", this.store.name, "update", key, `unreadable decision: ${JSON.stringify(output)}`);
    }
    const retryAfterMs = output.t < 0 ? Infinity : output.t;
    const decision: DistributedDecision = {
      allowed: output.a,
      cost,
      limit: this.algorithm.limit,
      windowMs: this.algorithm.windowMs,
      remaining: output.r,
      retryAfterMs,
      resetMs: output.s,
      source: "store",
    };
    if (!output.a && this.maxBlockedKeys > 0 && Number.isFinite(retryAfterMs)) {
      // Measured from the answer's arrival, so the cache never unblocks a key
      // early; at most the answer's way back late.
      const now = this.#clock.now();
      if (!this.#blocked.has(key) && this.#blocked.size >= this.maxBlockedKeys) {
        // The oldest entry goes: Map keeps insertion order.
        this.#blocked.delete(this.#blocked.keys().next().value!);
      }
      this.#blocked.set(key, { untilMs: now + retryAfterMs, cost, remaining: output.r, resetAtMs: now + output.s });
    }
    return this.#count(decision);
  }

  #failed(key: string, cost: number, error: unknown, timedOut: boolean): DistributedDecision {
    this.#storeErrors++;
    if (timedOut) this.#timeouts++;
    const policy = this.onStoreError;
    if (this.#events.has("storeError")) this.#events.emit("storeError", { key, error, timedOut, policy });
    const algorithm = this.algorithm;
    let decision: DistributedDecision;
    if (policy === "local") {
      this.#local ??= new KeyedRateLimiter({ ...this.#algorithmOptions, name: this.name, clock: this.#clock });
      decision = { ...this.#local.consume(key, cost), source: "policy" };
    } else if (policy === "allow") {
      decision = {
        allowed: true,
        cost,
        limit: algorithm.limit,
        windowMs: algorithm.windowMs,
        remaining: algorithm.limit - cost,
        retryAfterMs: 0,
        resetMs: 0,
        source: "policy",
      };
    } else {
      // Nothing is known: suggest one unit's replenishment, at most a second.
      const retryAfterMs = Math.min(1_000, algorithm.windowMs / algorithm.limit);
      decision = {
        allowed: false,
        cost,
        limit: algorithm.limit,
        windowMs: algorithm.windowMs,
        remaining: 0,
        retryAfterMs,
        resetMs: retryAfterMs,
        source: "policy",
      };
    }
    return this.#count(decision);
  }
}
