/**
 * One limit per key (user, IP, API token) with bounded memory.
 *
 * Every key shares one pure algorithm (parameters only) and keeps just its
 * state, so a key costs a map entry and a few numbers. Memory is bounded two
 * ways, without timers:
 *
 * - keys idle for `idleMs` are evicted (swept, oldest first, whenever a new
 *   key arrives, or by {@link KeyedRateLimiter.sweep});
 * - beyond `maxKeys` the least recently used key goes first.
 *
 * **No fresh burst after eviction.** A key evicted before its limit has fully
 * replenished leaves a tombstone: the time it will be full again, kept (the
 * latest wins) in a fixed table of slots picked by a salted hash of the key.
 * A key created while its slot's time is still ahead starts from
 * `algorithm.restore(now, fullAt)`: exactly the state it was evicted with for
 * the token bucket and GCRA (their refill is linear), a stricter one for the
 * windows. The table never grows (8 bytes per slot, a power of two >=
 * `maxKeys`, at most 2²⁰ slots). The price of a fixed table: a new key that
 * shares a slot with an evicted busy key starts as drained as that key was,
 * for at most one window. The salt is random per limiter, so nobody can aim
 * collisions at a chosen key. Idle eviction with the default `idleMs` (the
 * time a drained limit takes to replenish) never leaves a tombstone.
 *
 * Keys with callers waiting are never evicted.
 *
 * @module
 */
import { z } from "zod";
import { type Clock, systemClock } from "../clock.ts";
import { defaultsFor } from "../config.ts";
import { type InvalidArgumentError, RateLimitExceededError } from "../errors.ts";
import { badOptions, throwIf } from "../internal/arguments.ts";
import { durationMs, integer, validate } from "../validation.ts";
import type { RateLimitAlgorithm, RateLimitDecision } from "./algorithm.ts";
import { availableIn, type Cell, type CellContext, decideOn, take, tryTake, waitFor } from "./cell.ts";
import { type AlgorithmOptions, createAlgorithm } from "./create.ts";
import type { AcquireOptions, LimiterOptions, RateLimiterStats, WakeMode } from "./limiter.ts";
import { algorithmOf, algorithmShape, badAcquire, badCost, badKey, limiterShape, wakeModeOf } from "./options.ts";
import type { Counters } from "./waiters.ts";

/** Options of {@link KeyedRateLimiter}: an algorithm, its options, and the bounds. */
export type KeyedRateLimiterOptions = AlgorithmOptions & LimiterOptions & {
  /** Most keys held at once; beyond it the least recently used is evicted. Default `100_000`. */
  maxKeys?: number;
  /** Evict keys unused for this long. Default: the time a drained limit takes to refill. */
  idleMs?: number;
};

/** Counters of a {@link KeyedRateLimiter}. */
export interface KeyedRateLimiterStats extends RateLimiterStats {
  /** Keys held now. */
  readonly keys: number;
  /** Keys evicted so far (idle or least recently used). */
  readonly evictedKeys: number;
}

interface Entry<S extends object> extends Cell<S> {
  lastUsedMs: number;
}

const MAX_TOMBSTONE_SLOTS = 1 << 20;

function describe(value: unknown): string {
  return typeof value === "symbol" ? value.toString() : `${typeof value} ${String(value)}`;
}

/**
 * A rate limit per key, with bounded memory.
 *
 * @example
 * ```ts
 * import { KeyedRateLimiter } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const perUser = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 1, perMs: 1_000, clock });
 * if (!perUser.tryAcquire("alice") || perUser.tryAcquire("alice")) throw new Error("alice: one per second");
 * if (!perUser.tryAcquire("bob")) throw new Error("bob has his own limit");
 * ```
 */
export class KeyedRateLimiter implements Disposable {
  /** Name used in errors and headers. */
  readonly name: string;
  /** The algorithm every key runs. */
  readonly algorithm: RateLimitAlgorithm;
  /** Most keys held at once. */
  readonly maxKeys: number;
  /** Keys unused this long are evicted. */
  readonly idleMs: number;
  /** How callers waiting on a key are woken (see `LimiterOptions.wakeMode`). */
  readonly wakeMode: WakeMode;
  readonly #clock: Clock;
  readonly #counters: Counters = { acquired: 0, rejected: 0, waitedMs: 0 };
  readonly #context: CellContext<object>;
  /** Insertion order is recency order: a used key is moved to the end. */
  readonly #entries = new Map<string, Entry<object>>();
  readonly #tombstones: Float64Array;
  readonly #mask: number;
  /** Drawn on first use: Workers refuse randomness at global scope, where limiters are often built. */
  #salt: number | undefined;
  readonly #scratch: object;
  #newest: string | undefined;
  #evicted = 0;

  constructor(options: KeyedRateLimiterOptions) {
    throwIf(badOptions("KeyedRateLimiter", options));
    const kind = algorithmOf("KeyedRateLimiter", options);
    const keyedShape = {
      ...limiterShape,
      maxKeys: integer(1).optional(),
      idleMs: durationMs(0, true).optional(),
    };
    const parsed = validate(
      "KeyedRateLimiter",
      z.strictObject({ ...algorithmShape(kind), ...keyedShape }),
      options,
    ) as { name?: string; clock?: Clock; maxKeys?: number; idleMs?: number; wakeMode?: WakeMode };
    const { name: _n, clock: _c, maxKeys: _m, idleMs: _i, wakeMode: _w, ...algorithmOptions } = options;
    this.algorithm = createAlgorithm(algorithmOptions as AlgorithmOptions);
    this.name = parsed.name ?? this.algorithm.kind;
    this.#clock = parsed.clock ?? systemClock;
    this.maxKeys = parsed.maxKeys ?? defaultsFor("rateLimiter").maxKeys;
    this.idleMs = parsed.idleMs ?? this.algorithm.windowMs;
    this.wakeMode = wakeModeOf(parsed.wakeMode);
    this.#context = {
      algorithm: this.algorithm,
      clock: this.#clock,
      counters: this.#counters,
      name: this.name,
      wakeMode: this.wakeMode,
    };
    let slots = 16;
    while (slots < this.maxKeys && slots < MAX_TOMBSTONE_SLOTS) slots *= 2;
    this.#tombstones = new Float64Array(slots).fill(-Infinity);
    this.#mask = slots - 1;
    this.#scratch = this.algorithm.initial(this.#clock.now());
  }

  /** Keys held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Counters since creation. */
  get stats(): KeyedRateLimiterStats {
    const c = this.#counters;
    return {
      totalAcquired: c.acquired,
      totalRejected: c.rejected,
      totalWaitedMs: c.waitedMs,
      keys: this.#entries.size,
      evictedKeys: this.#evicted,
    };
  }

  /** Whether `key` is held now. */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Takes `cost` units for `key` if they are there and nobody waits on it; never waits. */
  tryAcquire(key: string, cost = 1): boolean {
    throwIf(badKey("KeyedRateLimiter", "tryAcquire", key));
    if (cost !== 1) throwIf(badCost("KeyedRateLimiter", "tryAcquire", this.algorithm, cost));
    const now = this.#clock.now();
    return tryTake(this.#context, this.#entry(key, now), now, cost);
  }

  /** Takes units for `key`, waiting in FIFO order (per key) until they are due. */
  acquire(key: string, options?: AcquireOptions): Promise<void> {
    const error = badKey("KeyedRateLimiter", "acquire", key) ??
      badAcquire("KeyedRateLimiter", "acquire", this.algorithm, options);
    if (error !== undefined) return Promise.reject(error);
    let entry: Entry<object>;
    try {
      entry = this.#entry(key, this.#clock.now());
    } catch (error) {
      return Promise.reject(error);
    }
    return take(this.#context, entry, options?.cost ?? 1, options?.timeoutMs, options?.signal);
  }

  /** Like {@link KeyedRateLimiter.tryAcquire}, returning the full decision (for HTTP headers). */
  consume(key: string, cost = 1): RateLimitDecision {
    throwIf(badKey("KeyedRateLimiter", "consume", key));
    if (cost !== 1) throwIf(badCost("KeyedRateLimiter", "consume", this.algorithm, cost));
    const now = this.#clock.now();
    return decideOn(this.#context, this.#entry(key, now), now, cost);
  }

  /** Ms until `cost` units could be taken for `key` (0 if now). */
  timeUntilAvailable(key: string, cost = 1): number {
    throwIf(badKey("KeyedRateLimiter", "timeUntilAvailable", key));
    if (cost !== 1) throwIf(badCost("KeyedRateLimiter", "timeUntilAvailable", this.algorithm, cost));
    const now = this.#clock.now();
    return waitFor(this.#context, this.#entry(key, now), now, cost, this.#scratch);
  }

  /** Units `key` could take now. */
  available(key: string): number {
    throwIf(badKey("KeyedRateLimiter", "available", key));
    const now = this.#clock.now();
    return availableIn(this.#context, this.#entry(key, now), now);
  }

  /**
   * Gives `key` a full limit again: an administrative override, and with
   * {@link KeyedRateLimiter.resetAll} the one way to a fresh burst. The key
   * is required (a missing one throws {@link InvalidArgumentError} rather
   * than reset everyone); callers already waiting on it keep their times.
   */
  reset(key: string): void {
    throwIf(badKey("KeyedRateLimiter", "reset", key));
    const now = this.#clock.now();
    const entry = this.#entry(key, now);
    entry.state = this.algorithm.initial(now);
    entry.queue?.refresh();
  }

  /** Gives every key a full limit again and forgets every tombstone (see {@link KeyedRateLimiter.reset}). */
  resetAll(): void {
    const now = this.#clock.now();
    for (const entry of this.#entries.values()) {
      entry.state = this.algorithm.initial(now);
      entry.queue?.refresh();
    }
    this.#tombstones.fill(-Infinity);
  }

  /** Evicts every key idle for `idleMs` or more; returns how many went. */
  sweep(): number {
    return this.#sweepIdle(this.#clock.now());
  }

  /** Rejects every waiting caller with a {@link RateLimitExceededError}. */
  [Symbol.dispose](): void {
    const reason = new RateLimitExceededError(
      Infinity,
      this.name,
      `Rate limiter '${this.name}' was disposed while callers waited`,
    );
    for (const entry of this.#entries.values()) entry.queue?.rejectAll(reason);
  }

  #entry(key: string, now: number): Entry<object> {
    if (typeof key !== "string") {
      throw new TypeError(`Rate limit key must be a string: current value is ${describe(key)}`);
    }
    const entries = this.#entries;
    let entry = entries.get(key);
    if (entry !== undefined) {
      if (key !== this.#newest) {
        entries.delete(key);
        entries.set(key, entry);
        this.#newest = key;
      }
      entry.lastUsedMs = now;
      return entry;
    }
    this.#sweepIdle(now);
    if (entries.size >= this.maxKeys) this.#evictLeastRecent(now);
    const fullAt = this.#tombstones[this.#slot(key)]!;
    const state = fullAt > now ? this.algorithm.restore(now, fullAt) : this.algorithm.initial(now);
    entry = { state, queue: undefined, lastUsedMs: now };
    entries.set(key, entry);
    this.#newest = key;
    return entry;
  }

  #sweepIdle(now: number): number {
    const before = this.#evicted;
    const cutoff = now - this.idleMs;
    for (const [key, entry] of this.#entries) {
      // Recency order: the first key used after the cutoff ends the sweep.
      if (entry.lastUsedMs > cutoff) break;
      if (entry.queue === undefined || entry.queue.length === 0) this.#evict(key, entry, now);
    }
    return this.#evicted - before;
  }

  #evictLeastRecent(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.queue === undefined || entry.queue.length === 0) {
        this.#evict(key, entry, now);
        return;
      }
    }
  }

  #evict(key: string, entry: Entry<object>, now: number): void {
    this.#entries.delete(key);
    if (key === this.#newest) this.#newest = undefined;
    this.#evicted++;
    const left = this.algorithm.resetAfter(entry.state, now);
    if (left > 0) {
      const slot = this.#slot(key);
      if (this.#tombstones[slot]! < now + left) this.#tombstones[slot] = now + left;
    }
  }

  /** FNV-1a over the key's UTF-16 units, salted per limiter. */
  #slot(key: string): number {
    this.#salt ??= crypto.getRandomValues(new Uint32Array(1))[0]!;
    let hash = 0x811c9dc5 ^ this.#salt;
    for (let i = 0; i < key.length; i++) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash ^ (hash >>> 15)) & this.#mask;
  }
}
