/**
 * The storage seam: async key/value state with TTL, declared capabilities,
 * and, where an engine can run code next to its data, whole decisions in one
 * round trip. Every adapter (memory, files, Workers KV, Durable Objects, D1,
 * Deno KV, Redis, PostgreSQL) implements {@link Store}; the components built
 * on it (fleet-wide breakers, distributed rate limits, idempotency,
 * heartbeats) depend on this interface only.
 *
 * @module
 */

/** A JSON value: what a store holds. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/** One stored value, as read. */
export interface StoreEntry<V extends Json = Json> {
  /** The value, as written. */
  readonly value: V;
  /**
   * Opaque, changes on every write of the key (even of an equal value). Pass
   * it to {@link Store.compareAndSet}; never parse or compare it for order.
   */
  readonly version: string;
  /** Wall-clock epoch ms after which the entry is gone, or `undefined` if it never expires. */
  readonly expiresAt: number | undefined;
}

/** Options of every store operation. */
export interface StoreOperationOptions {
  /** Aborting rejects the operation at once with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of the operations that write. */
export interface StoreWriteOptions extends StoreOperationOptions {
  /**
   * Ms until the entry expires (from the time of the write). Default: never.
   * Shorter than the engine's native minimum ({@link StoreCapabilities.minTtlMs})
   * is still honoured: the adapter keeps the expiry beside the value and
   * checks it on read.
   */
  ttlMs?: number;
}

/** The outcome of {@link Store.insertIfAbsent} and {@link Store.compareAndSet}. */
export type StoreWriteResult<V extends Json = Json> =
  | { readonly ok: true; readonly entry: StoreEntry<V> }
  /** Another writer got there first: `current` is what the store holds now (`undefined` if nothing). */
  | { readonly ok: false; readonly current: StoreEntry | undefined };

/** What a store can guarantee, and the limits of its engine. */
export interface StoreCapabilities {
  /**
   * Whether {@link Store.insertIfAbsent} and {@link Store.compareAndSet} are
   * atomic: of many concurrent contenders, exactly one wins. Components that
   * need atomicity refuse a store without it, unless the user opts into best
   * effort explicitly.
   */
  readonly atomic: boolean;
  /**
   * `"strong"`: a read sees every write that completed before it began.
   * `"eventual"`: a read may miss recent writes (Workers KV: up to 60 s).
   */
  readonly consistency: "strong" | "eventual";
  /** Longest key, in UTF-8 bytes, prefix included. */
  readonly maxKeyBytes: number;
  /**
   * Largest value, in UTF-8 bytes of `JSON.stringify(value)`. An adapter that
   * keeps bookkeeping beside the value (a version, an expiry) declares the
   * engine's limit minus its worst case, so that callers (and the
   * conformance suite) can tell exactly what fits.
   */
  readonly maxValueBytes: number;
  /** Shortest TTL the engine expires natively (0: any). Shorter TTLs are checked on read. */
  readonly minTtlMs: number;
  /** Shortest interval between two writes of one key the engine accepts (Workers KV: 1000), 0 if none. */
  readonly minWriteIntervalMs: number;
  /** Whether {@link Store.update} runs next to the data, in one round trip. */
  readonly runsTransitions: boolean;
}

/**
 * A pure read-modify-write of one key: the unit of "a whole decision in one
 * round trip". It must be deterministic and free of side effects, because
 * an adapter may run it more than once (a compare-and-set loop that lost a
 * race), inside the engine (a Durable Object runs the JavaScript itself), or
 * as a port (a Redis adapter may map {@link Transition.name} to a Lua script
 * that computes the same thing).
 *
 * `nowMs` is wall-clock epoch ms from the store's side where the engine has
 * a clock (Redis `TIME`, the Durable Object's `Date.now()`), so that many
 * clients with skewed clocks agree; otherwise from the caller's clock.
 */
export interface Transition<I extends Json = Json, O extends Json = Json> {
  /** Stable identifier, e.g. `"bulwark.rate-limit.token-bucket"`; engines that run ports of transitions look them up by it. */
  readonly name: string;
  /** Computes the next state of the key and the output handed back to the caller. */
  apply(current: Json | undefined, input: I, nowMs: number): TransitionResult<O>;
}

/** What a {@link Transition} returns. */
export interface TransitionResult<O extends Json = Json> {
  /** The key's next value; `undefined` deletes it; {@link UNCHANGED} writes nothing. */
  readonly next: Json | undefined | typeof UNCHANGED;
  /** TTL of the written value, in ms (ignored when nothing is written). */
  readonly ttlMs?: number;
  /** Handed back to the caller of {@link Store.update}. */
  readonly output: O;
}

/** A {@link TransitionResult.next} that leaves the key as it is (no write, no new version). */
export const UNCHANGED: unique symbol = Symbol("bulwark.store.unchanged");

/**
 * Async key/value state with TTL. Keys are strings, namespaced by the
 * adapter's prefix (default `"bulwark:"`); values are JSON.
 *
 * Every operation is bounded by the adapter's `timeoutMs` and abortable
 * through `signal`; it fails with a `StoreError` (engine failure, with the
 * engine's error as `cause`), never with the engine's own error class. A
 * key or value over the engine's limits fails before any I/O.
 */
export interface Store {
  /** Name used in errors, e.g. `"redis"` or `"workers-kv"`. */
  readonly name: string;
  /** What this store guarantees; see {@link StoreCapabilities}. */
  readonly capabilities: StoreCapabilities;
  /** The entry under `key`, or `undefined` if there is none or it expired. */
  get(key: string, options?: StoreOperationOptions): Promise<StoreEntry | undefined>;
  /** Writes `value` under `key` unconditionally; resolves to the new entry. */
  set<V extends Json>(key: string, value: V, options?: StoreWriteOptions): Promise<StoreEntry<V>>;
  /** Removes `key`; resolves to whether there was a live entry. */
  delete(key: string, options?: StoreOperationOptions): Promise<boolean>;
  /** Writes `value` only if `key` has no live entry. Atomic when {@link StoreCapabilities.atomic}. */
  insertIfAbsent<V extends Json>(key: string, value: V, options?: StoreWriteOptions): Promise<StoreWriteResult<V>>;
  /**
   * Writes `value` only if the live entry's version is `expectedVersion`
   * (`undefined`: only if there is no live entry). Atomic when
   * {@link StoreCapabilities.atomic}.
   */
  compareAndSet<V extends Json>(
    key: string,
    expectedVersion: string | undefined,
    value: V,
    options?: StoreWriteOptions,
  ): Promise<StoreWriteResult<V>>;
  /**
   * Runs `transition` on `key` atomically and resolves to its output: in one
   * round trip where the engine runs code next to the data
   * ({@link StoreCapabilities.runsTransitions}), else by a bounded
   * compare-and-set loop.
   */
  update<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    options?: StoreOperationOptions,
  ): Promise<O>;
}
