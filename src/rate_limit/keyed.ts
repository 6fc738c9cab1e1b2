/**
 * One limit per key (user, IP, API token) with memory bounded in bytes.
 *
 * Every key shares one pure algorithm (parameters only) and keeps just its
 * state. Keys are laid out for the CPU caches, since with 100,000 keys
 * every memory read of a call can be a cache miss:
 *
 * - a key with nobody waiting is one row of a `Float64Array`: when it was
 *   last used, its CLOCK mark, then its state's two or three numbers (token
 *   bucket, GCRA, fixed window, two-window counter), copied into a scratch
 *   state object for the algorithm's `step` and back. No object per key:
 *   two objects (entry and state, each double field boxed on V8) were two
 *   to four misses; a row is 24 to 40 contiguous bytes;
 * - keys are found by an index of our own: open addressing over an
 *   `Int32Array` of (hash, row) pairs, at most half full, with a salted
 *   multiplicative hash of the key (two UTF-16 units per multiply). One
 *   read where a `Map` makes two (bucket, entry), and a probe compares
 *   hashes before strings. The salt is drawn at the first new key
 *   (Workers refuse randomness at global scope, where a fixed one stands
 *   in until the draw succeeds, then the index is rebuilt);
 * - a key with callers waiting, and every key of the exact sliding-window
 *   log (a ring of times), keeps its state in an object (a cell), as
 *   `RateLimiter` does: the queue holds it.
 *
 * Memory is bounded without timers:
 *
 * - at most `maxKeys` keys; beyond it one is evicted per new key, chosen by
 *   CLOCK (second chance): a hand walks the rows in order, passing over,
 *   once, each key used since it last came by, and evicting the first one
 *   that was not; the new key takes the row just freed, behind the hand. A
 *   hit is one probe of the index and two writes to the key's row, never a
 *   reorder (`Map.delete` + `Map.set`, as an exact LRU would need);
 * - the exact logs of all keys hold at most `maxLogEntries` times together;
 *   beyond it the same hand evicts keys;
 * - keys idle for `idleMs` are evicted by a second hand that checks two rows
 *   per new key, or all at once by {@link KeyedRateLimiter.sweep}.
 *
 * **No fresh burst after eviction.** A key evicted before its limit has
 * fully replenished leaves a summary of two numbers: the units it had in use
 * and the time it is full again. Created again while that time is ahead, it
 * starts from `algorithm.restore(now, fullAt, used)`: exactly the state it
 * was evicted with for the token bucket, GCRA and the fixed window, never a
 * laxer one for the sliding windows. Summaries live in a fixed table of
 * 8-way sets (slots: a power of two >= `2 × maxKeys`, from 2¹⁰ to 2²⁰; 20
 * bytes each, allocated at the first summary), found by a salted hash of the
 * key and told apart by a 32-bit tag from a second hash, so a brand-new key
 * matches another key's summary with odds of 8 in 2³²: a flood of new keys
 * does not start newcomers drained. The price of a bounded table: when more
 * keys are evicted unreplenished within one window than a set holds, the
 * summary expiring first is dropped (`stats.tombstonesDropped`) and its key,
 * if it returns within its window, starts full as a new key would. The salt
 * is random per limiter, so nobody can aim collisions at a chosen key. Idle
 * eviction with the default `idleMs` (the time a drained limit takes to
 * replenish) never leaves a summary. Figures: `docs/architecture.md`.
 *
 * Keys with callers waiting are never evicted.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { RATE_LIMITER_DEFAULTS } from "../internal/built_in_defaults.ts";
import { sharedDefaults } from "../internal/defaults.ts";
import { ConfigError, type InvalidArgumentError, RateLimitExceededError } from "../errors.ts";
import { badOptions, throwIf } from "../internal/arguments.ts";
import { durationMs, integer, lazy, optional, type Schema, strictObject, validate } from "../validation.ts";
import type { AlgorithmName, RateLimitAlgorithm, RateLimitDecision } from "./algorithm.ts";
import { availableIn, type Cell, type CellContext, decideOn, take, tryTake, waitFor } from "./cell.ts";
import { type AlgorithmOptions, createAlgorithm } from "./create.ts";
import type { AcquireOptions, LimiterOptions, RateLimiterStats, WakeMode } from "./limiter.ts";
import { algorithmOf, algorithmShape, badAcquire, badCost, badKey, limiterShape, wakeModeOf } from "./options.ts";
import { FixedWindow, type FixedWindowState } from "./fixed_window.ts";
import { Gcra, type GcraState } from "./gcra.ts";
import {
  SlidingWindowCounter,
  type SlidingWindowCounterState,
  SlidingWindowLog,
  type SlidingWindowLogState,
} from "./sliding_window.ts";
import { type BucketOptions, TokenBucket, type TokenBucketState } from "./token_bucket.ts";
import type { Counters } from "./waiters.ts";

/** Options of {@link KeyedRateLimiter}: an algorithm (default the token bucket), its options, and the bounds. */
export type KeyedRateLimiterOptions = (AlgorithmOptions | ({ algorithm?: undefined } & BucketOptions)) &
  LimiterOptions & {
    /** Most keys held at once; beyond it one not used lately is evicted per new key. Default `100_000`. */
    maxKeys?: number;
    /** Evict keys unused for this long. Default: the time a drained limit takes to refill. */
    idleMs?: number;
    /**
     * Most admission times the exact sliding-window logs of all keys hold
     * together (8 bytes each); beyond it keys are evicted. At least `limit`.
     * Default `4_194_304` (32 MiB). Ignored by the other algorithms, whose
     * state does not grow.
     */
    maxLogEntries?: number;
  };

/** Counters of a {@link KeyedRateLimiter}. */
export interface KeyedRateLimiterStats extends RateLimiterStats {
  /** Keys held now. */
  readonly keys: number;
  /** Keys evicted so far (idle, not used lately, or for the log budget). */
  readonly evictedKeys: number;
  /** Admission times the exact sliding-window logs hold now (their capacity); 0 for the other algorithms. */
  readonly logEntries: number;
  /**
   * Summaries of evicted, not yet replenished keys dropped because their set
   * of the table was full of summaries expiring later: such a key, back
   * within its window, starts full as a new key does. Nonzero means more
   * keys are evicted undrained per window than the table holds: raise
   * `maxKeys`.
   */
  readonly tombstonesDropped: number;
}

/** A key whose state lives in an object: one with waiters, or an exact log. */
interface KeyCell extends Cell<object> {
  /** Log entries counted for this key in the budget. */
  held: number;
}

/**
 * How a state of fixed width is copied between the per-key table and a
 * state object, so that a key with no waiters is one row of numbers: no
 * object of its own, one cache line.
 */
interface Layout {
  /** Numbers per state. */
  readonly width: number;
  load(from: Float64Array, at: number, into: object): void;
  store(from: object, into: Float64Array, at: number): void;
}

const TOKEN_BUCKET: Layout = {
  width: 2,
  load(from, at, into) {
    const state = into as TokenBucketState;
    state.anchorMs = from[at]!;
    state.consumed = from[at + 1]!;
  },
  store(from, into, at) {
    const state = from as TokenBucketState;
    into[at] = state.anchorMs;
    into[at + 1] = state.consumed;
  },
};

const GCRA: Layout = {
  width: 1,
  load(from, at, into) {
    (into as GcraState).tat = from[at]!;
  },
  store(from, into, at) {
    into[at] = (from as GcraState).tat;
  },
};

const FIXED_WINDOW: Layout = {
  width: 2,
  load(from, at, into) {
    const state = into as FixedWindowState;
    state.window = from[at]!;
    state.count = from[at + 1]!;
  },
  store(from, into, at) {
    const state = from as FixedWindowState;
    into[at] = state.window;
    into[at + 1] = state.count;
  },
};

const WINDOW_COUNTER: Layout = {
  width: 3,
  load(from, at, into) {
    const state = into as SlidingWindowCounterState;
    state.window = from[at]!;
    state.previous = from[at + 1]!;
    state.current = from[at + 2]!;
  },
  store(from, into, at) {
    const state = from as SlidingWindowCounterState;
    into[at] = state.window;
    into[at + 1] = state.previous;
    into[at + 2] = state.current;
  },
};

/** The layout of `algorithm`'s state in the table; undefined for the exact log, whose ring is an array. */
function layoutOf(algorithm: RateLimitAlgorithm): Layout | undefined {
  if (algorithm instanceof TokenBucket) return TOKEN_BUCKET;
  if (algorithm instanceof Gcra) return GCRA;
  if (algorithm instanceof FixedWindow) return FIXED_WINDOW;
  if (algorithm instanceof SlidingWindowCounter) return WINDOW_COUNTER;
  return undefined;
}

/** Offsets in a key's row: when it was last used, then its mark, then its state. */
const LAST_USED = 0;
const MARK = 1;
const STATE = 2;
/** Mark bits: used since the eviction hand last passed (CLOCK's second chance); state in a {@link KeyCell}. */
const REFERENCED = 1;
const IN_CELL = 2;
/** Rows the table starts with; it doubles up to `maxKeys`. */
const FIRST_ROWS = 16;

/** Ways per set of the summary table. */
const WAYS = 8;
const MIN_TOMBSTONE_SLOTS = 1 << 10;
const MAX_TOMBSTONE_SLOTS = 1 << 20;
/** Keys the idle hand checks per new key. */
const IDLE_CHECKS = 2;
const DEFAULT_MAX_LOG_ENTRIES = 1 << 22;

/** Built on first use, once per algorithm. */
const keyedSchemas = new Map<AlgorithmName, Schema>();
function keyedSchema(kind: AlgorithmName): Schema {
  let schema = keyedSchemas.get(kind);
  if (schema === undefined) {
    schema = strictObject({
      ...algorithmShape(kind),
      ...limiterShape(),
      maxKeys: optional(integer(1)),
      idleMs: optional(durationMs(0, true)),
      maxLogEntries: optional(integer(1)),
    });
    keyedSchemas.set(kind, schema);
  }
  return schema;
}

function describe(value: unknown): string {
  return typeof value === "symbol" ? value.toString() : `${typeof value} ${String(value)}`;
}

/** The fixed table of evicted keys' summaries: struct of arrays, one index per slot. */
interface Tombstones {
  /** When the key is full again; -Infinity for an empty slot. */
  readonly fullAt: Float64Array;
  /** Units it had in use when evicted. */
  readonly used: Float64Array;
  /** 32 bits of the key's hash that did not pick the set. */
  readonly tags: Uint32Array;
}

/** Index slots for `rows` rows: a power of two, at least twice as many. */
function indexSlots(rows: number): number {
  let slots = 16;
  while (slots < 2 * rows) slots *= 2;
  return slots;
}

/** murmur3's 32-bit finalizer: every input bit reaches every output bit. */
function mix(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/**
 * A rate limit per key, with bounded memory.
 *
 * @example
 * ```ts
 * import { KeyedRateLimiter } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const perUser = new KeyedRateLimiter({ rate: 1, perMs: 1_000, clock }); // token bucket by default
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
  /** Most admission times the exact logs of all keys hold together. */
  readonly maxLogEntries: number;
  /** How callers waiting on a key are woken (see `LimiterOptions.wakeMode`). */
  readonly wakeMode: WakeMode;
  readonly #clock: Clock;
  readonly #counters: Counters = { acquired: 0, rejected: 0, waitedMs: 0 };
  readonly #context: CellContext<object>;
  /**
   * Each key's row, by a salted hash of the key: open addressing with
   * linear probing, at most half full; a slot is two numbers, the key's
   * hash and its row + 1 (0: free). A lookup reads one slot (a probe
   * compares hashes, not strings) where a `Map` reads a bucket, then an
   * entry: with 100,000 keys each read is a cache miss.
   */
  #index: Int32Array;
  /** Keys held. */
  #size = 0;
  /**
   * One row per key, `#stride` numbers: when it was last used, its mark
   * bits, then its state (unless the state is in a {@link KeyCell}).
   * Grows by doubling up to `maxKeys` rows.
   */
  #table: Float64Array;
  readonly #stride: number;
  /** The key in each row; undefined for a free row. */
  readonly #keys: (string | undefined)[] = [];
  /** The cell of each row marked {@link IN_CELL}. */
  readonly #cells: (KeyCell | undefined)[] = [];
  /** Rows freed below `#high`, reused last freed first (behind the hand that freed them). */
  readonly #free: number[] = [];
  /** Rows ever used: the hands walk `0 .. #high - 1`. */
  #high = 0;
  /** The state layout in a row; undefined when every key's state is in a cell (the exact log). */
  readonly #layout: Layout | undefined;
  /** The cell the operations run on for a key whose state is in its row: loaded before, stored after. */
  #view: KeyCell;
  /** The CLOCK hand that picks keys to evict: the next row it looks at. */
  #hand = 0;
  /** The hand that looks for idle keys. */
  #idleHand = 0;
  /** Whether keys hold exact logs, whose size the budget counts. */
  readonly #logs: boolean;
  #logEntries = 0;
  #tombstones: Tombstones | undefined;
  readonly #slots: number;
  #dropped = 0;
  /**
   * Drawn at the first new key: Workers refuse randomness at global scope,
   * where limiters are often built. Until the draw succeeds a fixed salt
   * stands in (used at global scope); the index is rebuilt when it does.
   */
  #salt0 = 0x2545f491;
  #salt1 = 0x6c8e9cf5;
  #salted = false;
  /** The last {@link KeyedRateLimiter.#hash}: first slot of the key's set, and its tag. */
  #set = 0;
  #tag = 0;
  readonly #scratch: object;
  #evicted = 0;

  constructor(options: KeyedRateLimiterOptions = {}) {
    throwIf(badOptions("KeyedRateLimiter", options));
    // The token bucket unless another algorithm is named, as for RateLimiter.
    const given = options.algorithm === undefined ? { ...options, algorithm: "token-bucket" as const } : options;
    const kind = algorithmOf("KeyedRateLimiter", given);
    const parsed = validate("KeyedRateLimiter", keyedSchema(kind), given) as {
      name?: string;
      clock?: Clock;
      maxKeys?: number;
      idleMs?: number;
      maxLogEntries?: number;
      wakeMode?: WakeMode;
    };
    const { name: _n, clock: _c, maxKeys: _m, idleMs: _i, maxLogEntries: _l, wakeMode: _w, ...algorithmOptions } = given;
    this.algorithm = createAlgorithm(algorithmOptions as AlgorithmOptions);
    this.#logs = this.algorithm instanceof SlidingWindowLog;
    this.maxLogEntries = parsed.maxLogEntries ?? DEFAULT_MAX_LOG_ENTRIES;
    if (this.#logs && this.maxLogEntries < this.algorithm.limit) {
      throw new ConfigError("KeyedRateLimiter", [{
        field: "maxLogEntries",
        value: this.maxLogEntries,
        allowed: `at least limit (${this.algorithm.limit}): one key's exact log holds up to limit times`,
      }]);
    }
    this.name = parsed.name ?? this.algorithm.kind;
    this.#clock = parsed.clock ?? systemClock;
    this.maxKeys = parsed.maxKeys ?? sharedDefaults("rateLimiter", RATE_LIMITER_DEFAULTS).maxKeys;
    this.idleMs = parsed.idleMs ?? this.algorithm.windowMs;
    this.wakeMode = wakeModeOf(parsed.wakeMode);
    this.#context = {
      algorithm: this.algorithm,
      clock: this.#clock,
      counters: this.#counters,
      name: this.name,
      wakeMode: this.wakeMode,
    };
    // Room for summaries of two to four times maxKeys evicted keys per window.
    let slots = MIN_TOMBSTONE_SLOTS;
    while (slots < 2 * this.maxKeys && slots < MAX_TOMBSTONE_SLOTS) slots *= 2;
    this.#slots = slots;
    this.#layout = layoutOf(this.algorithm);
    this.#stride = STATE + (this.#layout?.width ?? 0);
    const rows = Math.min(FIRST_ROWS, this.maxKeys);
    this.#table = new Float64Array(rows * this.#stride);
    this.#index = new Int32Array(2 * indexSlots(rows));
    this.#scratch = this.algorithm.initial(this.#clock.now());
    this.#view = this.#newView();
  }

  /** Keys held now. */
  get size(): number {
    return this.#size;
  }

  /** Counters since creation. */
  get stats(): KeyedRateLimiterStats {
    const c = this.#counters;
    return {
      totalAcquired: c.acquired,
      totalRejected: c.rejected,
      totalWaitedMs: c.waitedMs,
      keys: this.#size,
      evictedKeys: this.#evicted,
      logEntries: this.#logEntries,
      tombstonesDropped: this.#dropped,
    };
  }

  /** Whether `key` is held now. */
  has(key: string): boolean {
    return typeof key === "string" && this.#find(key, this.#home(key)) >= 0;
  }

  /** Takes `cost` units for `key` if they are there and nobody waits on it; never waits. */
  tryAcquire(key: string, cost = 1): boolean {
    throwIf(badKey("KeyedRateLimiter", "tryAcquire", key));
    if (cost !== 1) throwIf(badCost("KeyedRateLimiter", "tryAcquire", this.algorithm, cost));
    const now = this.#clock.now();
    const row = this.#row(key, now);
    const table = this.#table;
    const at = row * this.#stride;
    if ((table[at + MARK]! & IN_CELL) !== 0) {
      const cell = this.#cells[row]!;
      const taken = tryTake(this.#context, cell, now, cost);
      this.#close(row, cell, now);
      return taken;
    }
    // The common case, inline: nobody waits, the state is in the row.
    const layout = this.#layout!;
    const state = this.#view.state;
    layout.load(table, at + STATE, state);
    const taken = this.algorithm.step(state, now, cost, state) === 0;
    layout.store(state, table, at + STATE);
    if (taken) this.#counters.acquired++;
    else this.#counters.rejected++;
    return taken;
  }

  /** Takes units for `key`, waiting in FIFO order (per key) until they are due. */
  acquire(key: string, options?: AcquireOptions): Promise<void> {
    const error = badKey("KeyedRateLimiter", "acquire", key) ??
      badAcquire("KeyedRateLimiter", "acquire", this.algorithm, options);
    if (error !== undefined) return Promise.reject(error);
    // A call cancelled before it starts touches no key: it would add one, and evict another.
    const signal = options?.signal;
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    let row: number;
    let now: number;
    try {
      // A clock that cannot tell the time fails the call as a bad row would: a rejection.
      now = this.#clock.now();
      row = this.#row(key, now);
    } catch (error) {
      return Promise.reject(error);
    }
    const cell = this.#open(row);
    const taken = take(this.#context, cell, options?.cost ?? 1, options?.timeoutMs, options?.signal);
    this.#close(row, cell, now);
    return taken;
  }

  /** Like {@link KeyedRateLimiter.tryAcquire}, returning the full decision (for HTTP headers). */
  consume(key: string, cost = 1): RateLimitDecision {
    throwIf(badKey("KeyedRateLimiter", "consume", key));
    if (cost !== 1) throwIf(badCost("KeyedRateLimiter", "consume", this.algorithm, cost));
    const now = this.#clock.now();
    const row = this.#row(key, now);
    const cell = this.#open(row);
    const decision = decideOn(this.#context, cell, now, cost);
    this.#close(row, cell, now);
    return decision;
  }

  /** Ms until `cost` units could be taken for `key` (0 if now). */
  timeUntilAvailable(key: string, cost = 1): number {
    throwIf(badKey("KeyedRateLimiter", "timeUntilAvailable", key));
    if (cost !== 1) throwIf(badCost("KeyedRateLimiter", "timeUntilAvailable", this.algorithm, cost));
    const now = this.#clock.now();
    const row = this.#row(key, now);
    const cell = this.#open(row);
    const wait = waitFor(this.#context, cell, now, cost, this.#scratch);
    this.#close(row, cell, now);
    return wait;
  }

  /** Units `key` could take now. */
  available(key: string): number {
    throwIf(badKey("KeyedRateLimiter", "available", key));
    const now = this.#clock.now();
    const row = this.#row(key, now);
    const cell = this.#open(row);
    const units = availableIn(this.#context, cell, now);
    this.#close(row, cell, now);
    return units;
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
    this.#renew(this.#row(key, now), now);
  }

  /** Gives every key a full limit again and forgets every tombstone (see {@link KeyedRateLimiter.reset}). */
  resetAll(): void {
    const now = this.#clock.now();
    for (let row = 0; row < this.#high; row++) {
      if (this.#keys[row] !== undefined) this.#renew(row, now);
    }
    this.#tombstones?.fullAt.fill(-Infinity);
  }

  /** Evicts every key idle for `idleMs` or more; returns how many went. */
  sweep(): number {
    const now = this.#clock.now();
    const cutoff = now - this.idleMs;
    const before = this.#evicted;
    for (let row = 0; row < this.#high; row++) {
      if (this.#keys[row] !== undefined && this.#idle(row, cutoff)) this.#evict(row, now);
    }
    return this.#evicted - before;
  }

  /** Rejects every waiting caller with a {@link RateLimitExceededError}. */
  [Symbol.dispose](): void {
    const reason = new RateLimitExceededError(
      Infinity,
      this.name,
      `Rate limiter '${this.name}' was disposed while callers waited`,
    );
    for (const cell of this.#cells) cell?.queue?.rejectAll(reason);
  }

  /** The row of `key`, created if new, marked used at `now`. */
  #row(key: string, now: number): number {
    if (typeof key !== "string") {
      throw new TypeError(`Rate limit key must be a string: current value is ${describe(key)}`);
    }
    const hash = this.#home(key);
    const row = this.#find(key, hash);
    if (row < 0) return this.#create(key, hash, now);
    // No reorder: the eviction hand reads these two numbers.
    const at = row * this.#stride;
    const table = this.#table;
    table[at + LAST_USED] = now;
    table[at + MARK] = table[at + MARK]! | REFERENCED;
    return row;
  }

  /** The cell to run an operation on: the key's own, or the view loaded from its row. */
  #open(row: number): KeyCell {
    const at = row * this.#stride;
    if ((this.#table[at + MARK]! & IN_CELL) !== 0) return this.#cells[row]!;
    const view = this.#view;
    this.#layout!.load(this.#table, at + STATE, view.state);
    return view;
  }

  /**
   * After an operation on `cell`: the view's state goes back to the row,
   * unless a caller now waits on it, in which case the view becomes the
   * key's own cell (its queue holds it); then counts an exact log.
   */
  #close(row: number, cell: KeyCell, now: number): void {
    if (cell === this.#view) {
      const at = row * this.#stride;
      if (cell.queue === undefined) {
        this.#layout!.store(cell.state, this.#table, at + STATE);
        return;
      }
      this.#cells[row] = cell;
      this.#table[at + MARK] = this.#table[at + MARK]! | IN_CELL;
      this.#view = this.#newView();
    }
    if (this.#logs) this.#count(row, cell, now);
  }

  #newView(): KeyCell {
    return { state: this.algorithm.initial(0), queue: undefined, held: 0 };
  }

  /** A fresh state for the key in `row` (reset); its waiters keep their times. */
  #renew(row: number, now: number): void {
    const at = row * this.#stride;
    const fresh = this.algorithm.initial(now);
    if ((this.#table[at + MARK]! & IN_CELL) === 0) {
      this.#layout!.store(fresh, this.#table, at + STATE);
      return;
    }
    const cell = this.#cells[row]!;
    cell.state = fresh;
    cell.queue?.refresh();
    if (this.#logs) this.#count(row, cell, now);
  }

  #create(key: string, hash: number, now: number): number {
    if (!this.#salted && this.#reseed()) hash = this.#home(key);
    this.#sweepSome(now);
    if (this.#size >= this.maxKeys) this.#evictOne(now, -1);
    const row = this.#free.pop() ?? this.#grow();
    const state = this.#recall(key, now);
    const at = row * this.#stride;
    this.#table[at + LAST_USED] = now;
    this.#keys[row] = key;
    this.#place(row, hash);
    this.#size++;
    if (this.#layout === undefined) {
      // Not referenced yet: a key seen once goes before one seen again.
      this.#table[at + MARK] = IN_CELL;
      this.#cells[row] = { state, queue: undefined, held: 0 };
    } else {
      this.#table[at + MARK] = 0;
      this.#layout.store(state, this.#table, at + STATE);
    }
    return row;
  }

  /**
   * The key's hash for the index: from a salted start, one multiply per two
   * UTF-16 units (a hit hashes its key on every call, and the multiplies
   * form one chain: two units per step halve it), then the length and
   * murmur3's finalizer. Nobody sees the salt, so nobody can aim keys at
   * one slot; a collision costs a probe, never a wrong answer.
   */
  #home(key: string): number {
    const length = key.length;
    let hash = this.#salt0;
    let i = 1;
    for (; i < length; i += 2) {
      hash = Math.imul(hash ^ (key.charCodeAt(i - 1) | (key.charCodeAt(i) << 16)), 0x5bd1e995);
    }
    if (i === length) hash = Math.imul(hash ^ key.charCodeAt(i - 1), 0x5bd1e995);
    return mix(hash ^ length ^ this.#salt1) | 0;
  }

  /** The row of `key` (whose hash is `hash`), or -1. */
  #find(key: string, hash: number): number {
    const index = this.#index;
    const mask = (index.length >> 1) - 1;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const entry = index[2 * slot + 1]!;
      if (entry === 0) return -1;
      if (index[2 * slot] === hash && this.#keys[entry - 1] === key) return entry - 1;
    }
  }

  /** Puts `row` in the first free slot from its hash's. */
  #place(row: number, hash: number): void {
    const index = this.#index;
    const mask = (index.length >> 1) - 1;
    let slot = hash & mask;
    while (index[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
    index[2 * slot] = hash;
    index[2 * slot + 1] = row + 1;
  }

  /** Takes `row` out of the index, moving back the slots after it that may fill its place (no tombstones). */
  #unplace(row: number): void {
    const index = this.#index;
    const mask = (index.length >> 1) - 1;
    let hole = this.#home(this.#keys[row]!) & mask;
    while (index[2 * hole + 1] !== row + 1) hole = (hole + 1) & mask;
    for (let slot = (hole + 1) & mask;; slot = (slot + 1) & mask) {
      const entry = index[2 * slot + 1]!;
      if (entry === 0) break;
      const hash = index[2 * slot]!;
      // It may move back unless its home lies (cyclically) after the hole.
      if (((slot - hash) & mask) >= ((slot - hole) & mask)) {
        index[2 * hole] = hash;
        index[2 * hole + 1] = entry;
        hole = slot;
      }
    }
    index[2 * hole + 1] = 0;
  }

  /** A new index of `slots` slots holding every key, hashed again when `rehash`. */
  #reindex(slots: number, rehash: boolean): void {
    const old = this.#index;
    this.#index = new Int32Array(2 * slots);
    for (let i = 1; i < old.length; i += 2) {
      const entry = old[i]!;
      if (entry !== 0) this.#place(entry - 1, rehash ? this.#home(this.#keys[entry - 1]!) : old[i - 1]!);
    }
  }

  /** Draws the salt; true when it did (and the index, if any, was rebuilt under it). */
  #reseed(): boolean {
    let salt: Uint32Array;
    try {
      salt = crypto.getRandomValues(new Uint32Array(2));
    } catch {
      return false;
    }
    this.#salt0 = salt[0]!;
    this.#salt1 = salt[1]!;
    this.#salted = true;
    if (this.#size > 0) this.#reindex(this.#index.length >> 1, true);
    return true;
  }

  /** A row never used yet, doubling the table when it is full. */
  #grow(): number {
    const row = this.#high++;
    if (this.#high * this.#stride > this.#table.length) {
      const current = this.#table.length / this.#stride;
      // Past maxKeys only while every key has callers waiting (never evicted).
      const rows = current < this.maxKeys ? Math.min(this.maxKeys, 2 * current) : 2 * current;
      const table = new Float64Array(rows * this.#stride);
      table.set(this.#table);
      this.#table = table;
      if (2 * indexSlots(rows) > this.#index.length) this.#reindex(indexSlots(rows), false);
    }
    return row;
  }

  /** Whether the key in `row` was last used at or before `cutoff` and nobody waits on it. */
  #idle(row: number, cutoff: number): boolean {
    return this.#table[row * this.#stride + LAST_USED]! <= cutoff && this.#noWaiters(row);
  }

  #noWaiters(row: number): boolean {
    if ((this.#table[row * this.#stride + MARK]! & IN_CELL) === 0) return true;
    const queue = this.#cells[row]!.queue;
    return queue === undefined || queue.length === 0;
  }

  /** The idle hand: checks the next few rows, evicting keys idle for `idleMs`. */
  #sweepSome(now: number): void {
    const cutoff = now - this.idleMs;
    const high = this.#high;
    for (let checks = Math.min(IDLE_CHECKS, high); checks > 0; checks--) {
      const row = this.#idleHand;
      this.#idleHand = row + 1 >= high ? 0 : row + 1;
      if (this.#keys[row] !== undefined && this.#idle(row, cutoff)) this.#evict(row, now);
    }
  }

  /**
   * The CLOCK hand: evicts the next key not used since the hand last passed
   * it (clearing the mark of those that were), never the one in `keep` nor
   * a key with waiters. False when two turns found none.
   */
  #evictOne(now: number, keep: number): boolean {
    const high = this.#high;
    const table = this.#table;
    for (let turns = 2 * high + 1; turns > 0; turns--) {
      const row = this.#hand;
      this.#hand = row + 1 >= high ? 0 : row + 1;
      if (this.#keys[row] === undefined || row === keep || !this.#noWaiters(row)) continue;
      const at = row * this.#stride + MARK;
      const mark = table[at]!;
      if ((mark & REFERENCED) !== 0) {
        table[at] = mark & ~REFERENCED;
        continue;
      }
      this.#evict(row, now);
      return true;
    }
    return false;
  }

  /**
   * Counts the log of the key in `row` in the budget, evicting other keys
   * while it is exceeded. Called after every call on a key (a restored key
   * may bring `used` times); what waiters are granted later is counted at
   * the key's next call.
   */
  #count(row: number, cell: KeyCell, now: number): void {
    const held = (cell.state as SlidingWindowLogState).times.length;
    if (held === cell.held) return;
    this.#logEntries += held - cell.held;
    cell.held = held;
    while (this.#logEntries > this.maxLogEntries && this.#evictOne(now, row));
  }

  #evict(row: number, now: number): void {
    const key = this.#keys[row]!;
    const cell = this.#open(row);
    const state = cell.state;
    this.#unplace(row);
    this.#size--;
    this.#evicted++;
    this.#keys[row] = undefined;
    if (cell !== this.#view) {
      this.#logEntries -= cell.held;
      this.#cells[row] = undefined;
    }
    this.#free.push(row);
    const left = this.algorithm.resetAfter(state, now);
    if (left > 0) {
      const used = this.algorithm.limit - this.algorithm.available(state, now);
      this.#remember(key, used, now + left, now);
    }
  }

  /**
   * Keeps an evicted key's summary in a free or expired way of its set;
   * in a full set, drops whichever of it and the live ones expires first.
   */
  #remember(key: string, used: number, fullAt: number, now: number): void {
    const table = this.#tombstones ??= {
      fullAt: new Float64Array(this.#slots).fill(-Infinity),
      used: new Float64Array(this.#slots),
      tags: new Uint32Array(this.#slots),
    };
    this.#hash(key);
    const set = this.#set;
    const tag = this.#tag;
    let way = set;
    for (let i = set; i < set + WAYS; i++) {
      const at = table.fullAt[i]!;
      if (table.tags[i] === tag && at > now) {
        // The same key again (or its 2⁻³² twin): keep the stricter of both.
        table.fullAt[i] = Math.max(at, fullAt);
        table.used[i] = Math.max(table.used[i]!, used);
        return;
      }
      if (at < table.fullAt[way]!) way = i;
    }
    if (table.fullAt[way]! > now) {
      this.#dropped++;
      if (table.fullAt[way]! >= fullAt) return;
    }
    table.fullAt[way] = fullAt;
    table.used[way] = used;
    table.tags[way] = tag;
  }

  /** A new key's state: restored from its summary if it left one that is still ahead. */
  #recall(key: string, now: number): object {
    const table = this.#tombstones;
    if (table !== undefined) {
      this.#hash(key);
      for (let i = this.#set; i < this.#set + WAYS; i++) {
        if (table.tags[i] !== this.#tag || !(table.fullAt[i]! > now)) continue;
        const fullAt = table.fullAt[i]!;
        // The summary lives on in the key's state: free its way.
        table.fullAt[i] = -Infinity;
        return this.algorithm.restore(now, fullAt, table.used[i]);
      }
    }
    return this.algorithm.initial(now);
  }

  /**
   * Two salted 32-bit FNV-1a lanes over the key's UTF-16 units, finalized:
   * one picks the set, the other is the tag.
   */
  #hash(key: string): void {
    let a = 0x811c9dc5 ^ this.#salt0;
    let b = 0x9e3779b9 ^ this.#salt1;
    for (let i = 0; i < key.length; i++) {
      const unit = key.charCodeAt(i);
      a = Math.imul(a ^ unit, 0x01000193);
      b = Math.imul(b ^ unit, 0x5bd1e995);
    }
    this.#set = (mix(a) & (this.#slots - 1)) & ~(WAYS - 1);
    this.#tag = mix(b ^ a);
  }
}
