import type { StoreOperation } from "../errors.ts";
import { InvalidArgumentError } from "../errors.ts";
import { type RawEntry, type RawOptions, type RawWrite, type RawWriteResult, StoreAdapter, type StoreAdapterOptions, utf8ByteLength } from "../store/adapter.ts";
import { type BreakerLink, shareCircuitState } from "../breaker/shared.ts";
import { shareCircuit, type SharedHalf } from "../breaker/sharing.ts";
import type {
  Json,
  Store,
  StoreCapabilities,
  StoreEntry,
  StoreOperationOptions,
  StoreWriteOptions,
  StoreWriteResult,
  Transition,
} from "../store/store.ts";

/**
 * A fault {@link FaultyStore} injects into an operation:
 *
 * - `fail`: the engine throws (`error`, default an `Error`), which the
 *   store reports as `StoreError("ERR_STORE")`;
 * - `hang`: the engine never answers (the store's `timeoutMs` ends the wait);
 * - `late`: the engine answers after `delayMs` on the store's clock (past
 *   `timeoutMs`, the answer arrives after the caller got its timeout);
 * - `stale` (`get` only): reads answer one write behind, as an eventually
 *   consistent engine would (what was written before the latest write
 *   through this wrapper, or nothing).
 */
export type StoreFault =
  | { readonly kind: "fail"; readonly error?: unknown }
  | { readonly kind: "hang" }
  | { readonly kind: "late"; readonly delayMs: number }
  | { readonly kind: "stale" };

const OPERATIONS: readonly StoreOperation[] = ["get", "set", "delete", "insertIfAbsent", "compareAndSet", "update"];

/**
 * Wraps a store as the "engine" of an adapter that injects faults per
 * operation, switchable at any time: to prove that what you build on a store
 * survives an engine that fails, hangs, answers late or reads stale data
 * (nothing unhandled, nothing waiting past `timeoutMs`). It is a real
 * {@link StoreAdapter}: its own `timeoutMs`, `clock` and abort handling
 * bound every injected fault. Its prefix defaults to `""` (the inner store
 * has its own); it declares the inner store's capabilities.
 *
 * @example
 * ```ts
 * import { MemoryStore, StoreError } from "bulwark";
 * import { FaultyStore, ManualClock } from "bulwark/testing";
 *
 * const clock = new ManualClock();
 * const store = new FaultyStore(new MemoryStore(), { clock, timeoutMs: 100 });
 * store.inject("get", { kind: "hang" });
 * const read = store.get("k").catch((error: unknown) => error);
 * await clock.advance(100);
 * const error = await read;
 * if (!(error instanceof StoreError) || error.code !== "ERR_STORE_TIMEOUT") throw new Error("expected a timeout");
 * store.inject("get", undefined);
 * if ((await store.get("k")) !== undefined) throw new Error("healthy again");
 * ```
 */
export class FaultyStore extends StoreAdapter {
  /** `"faulty(<inner name>)"`. */
  readonly name: string;
  /** The inner store's (keys: less the inner store's prefix). */
  readonly capabilities: StoreCapabilities;
  /** The wrapped store. */
  readonly inner: Store;
  readonly #faults = new Map<StoreOperation, StoreFault>();
  readonly #history = new Map<string, [RawEntry | undefined, RawEntry | undefined]>();
  #injected = 0;

  constructor(inner: Store, options: StoreAdapterOptions = {}) {
    if (typeof inner !== "object" || inner === null || typeof inner.get !== "function") {
      throw new InvalidArgumentError("FaultyStore", "inner", inner, "a Store");
    }
    super("FaultyStore", { prefix: "", ...options });
    this.inner = inner;
    this.name = `faulty(${inner.name})`;
    // The inner store prefixes again: what fits is its limit less its prefix.
    const innerPrefix = (inner as { prefix?: unknown }).prefix;
    this.capabilities = {
      ...inner.capabilities,
      maxKeyBytes: inner.capabilities.maxKeyBytes - (typeof innerPrefix === "string" ? utf8ByteLength(innerPrefix) : 0),
    };
  }

  /**
   * Sets (or with `undefined` clears) the fault of `operation`, or of every
   * operation with `"all"`. Takes effect for calls that start afterwards.
   */
  inject(operation: StoreOperation | "all", fault: StoreFault | undefined): void {
    if (operation !== "all" && !OPERATIONS.includes(operation)) {
      throw new InvalidArgumentError("FaultyStore.inject", "operation", operation, `"all" or one of ${OPERATIONS.join(", ")}`);
    }
    const kinds = ["fail", "hang", "late", "stale"];
    if (fault !== undefined && (typeof fault !== "object" || fault === null || !kinds.includes(fault.kind))) {
      throw new InvalidArgumentError("FaultyStore.inject", "fault", fault, `undefined or { kind: ${kinds.map((k) => `"${k}"`).join(" | ")} }`);
    }
    if (fault?.kind === "late" && !(Number.isFinite(fault.delayMs) && fault.delayMs >= 0)) {
      throw new InvalidArgumentError("FaultyStore.inject", "fault.delayMs", fault.delayMs, "a finite number of milliseconds >= 0");
    }
    for (const op of operation === "all" ? OPERATIONS : [operation]) {
      if (fault === undefined) this.#faults.delete(op);
      else this.#faults.set(op, fault);
    }
  }

  /** How many calls met an injected fault. */
  get injected(): number {
    return this.#injected;
  }

  async #through<T>(operation: StoreOperation, call: () => Promise<T>, stale?: () => T): Promise<T> {
    const fault = this.#faults.get(operation);
    if (fault === undefined) return call();
    this.#injected++;
    switch (fault.kind) {
      case "fail":
        throw fault.error ?? new Error(`injected ${operation} failure`);
      case "hang":
        return new Promise<T>(() => {});
      case "late": {
        const result = await call();
        await this.clock.sleep(fault.delayMs);
        return result;
      }
      case "stale":
        return stale === undefined ? call() : stale();
    }
  }

  #remember(key: string, entry: RawEntry | undefined): void {
    const previous = this.#history.get(key);
    this.#history.set(key, [previous?.[1], entry]);
  }

  protected getRaw(key: string): Promise<RawEntry | undefined> {
    return this.#through("get", () => this.inner.get(key), () => this.#history.get(key)?.[0]);
  }

  protected async setRaw(key: string, write: RawWrite): Promise<string> {
    const entry = await this.#through("set", () => this.inner.set(key, write.value, ttl(write)));
    this.#remember(key, entry);
    return entry.version;
  }

  protected async deleteRaw(key: string): Promise<boolean> {
    const existed = await this.#through("delete", () => this.inner.delete(key));
    this.#remember(key, undefined);
    return existed;
  }

  protected async insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    return this.#written(key, await this.#through("insertIfAbsent", () => this.inner.insertIfAbsent(key, write.value, ttl(write))));
  }

  protected async compareAndSetRaw(key: string, expectedVersion: string, write: RawWrite): Promise<RawWriteResult> {
    return this.#written(
      key,
      await this.#through("compareAndSet", () => this.inner.compareAndSet(key, expectedVersion, write.value, ttl(write))),
    );
  }

  protected async compareAndDeleteRaw(key: string, expectedVersion: string): Promise<boolean> {
    // Only reached by the default update, which this class replaces; not atomic, never used.
    const current = await this.inner.get(key);
    return current?.version === expectedVersion && this.inner.delete(key);
  }

  protected override updateRaw<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    _options: RawOptions,
  ): Promise<O> {
    return this.#through("update", () => this.inner.update(key, transition, input));
  }

  #written(key: string, result: StoreWriteResult): RawWriteResult {
    if (!result.ok) return { ok: false, current: result.current };
    this.#remember(key, result.entry);
    return { ok: true, version: result.entry.version };
  }
}

function ttl(write: RawWrite): StoreWriteOptions {
  return write.expiresAt === undefined ? {} : { ttlMs: Math.max(1, write.expiresAt - write.nowMs) };
}

/** Round trips per operation, as counted by {@link CountingStore}. */
export type StoreCounts = Record<StoreOperation, number>;

/**
 * Wraps a store and counts the calls (round trips, from the caller's side)
 * of each operation, to pin how many a component makes: a breaker that
 * writes only on transitions, a limiter that decides in one `update`.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "bulwark";
 * import { CountingStore } from "bulwark/testing";
 *
 * const store = new CountingStore(new MemoryStore());
 * await store.set("k", 1);
 * await store.get("k");
 * await store.get("k");
 * if (store.counts.get !== 2 || store.counts.set !== 1 || store.total !== 3) throw new Error("miscounted");
 * ```
 */
export class CountingStore implements Store {
  /** The inner store's. */
  readonly name: string;
  /** The inner store's. */
  readonly capabilities: StoreCapabilities;
  /** The wrapped store. */
  readonly inner: Store;
  /** Calls per operation since construction or {@link CountingStore.reset}. */
  readonly counts: StoreCounts = { get: 0, set: 0, delete: 0, insertIfAbsent: 0, compareAndSet: 0, update: 0 };

  constructor(inner: Store) {
    if (typeof inner !== "object" || inner === null || typeof inner.get !== "function") {
      throw new InvalidArgumentError("CountingStore", "inner", inner, "a Store");
    }
    this.inner = inner;
    this.name = inner.name;
    this.capabilities = inner.capabilities;
  }

  /** The inner store's prefix, if it has one. */
  get prefix(): string | undefined {
    const prefix = (this.inner as { prefix?: unknown }).prefix;
    return typeof prefix === "string" ? prefix : undefined;
  }

  /** Calls of every operation together. */
  get total(): number {
    let sum = 0;
    for (const op of OPERATIONS) sum += this.counts[op];
    return sum;
  }

  /** Sets every count back to zero. */
  reset(): void {
    for (const op of OPERATIONS) this.counts[op] = 0;
  }

  /**
   * @internal Shares a breaker's state through this wrapper (so its round
   * trips are counted), whatever the inner store is.
   */
  [shareCircuit](link: BreakerLink): SharedHalf {
    return shareCircuitState(this, link);
  }

  get(key: string, options?: StoreOperationOptions): Promise<StoreEntry | undefined> {
    this.counts.get++;
    return this.inner.get(key, options);
  }

  set<V extends Json>(key: string, value: V, options?: StoreWriteOptions): Promise<StoreEntry<V>> {
    this.counts.set++;
    return this.inner.set(key, value, options);
  }

  delete(key: string, options?: StoreOperationOptions): Promise<boolean> {
    this.counts.delete++;
    return this.inner.delete(key, options);
  }

  insertIfAbsent<V extends Json>(key: string, value: V, options?: StoreWriteOptions): Promise<StoreWriteResult<V>> {
    this.counts.insertIfAbsent++;
    return this.inner.insertIfAbsent(key, value, options);
  }

  compareAndSet<V extends Json>(
    key: string,
    expectedVersion: string | undefined,
    value: V,
    options?: StoreWriteOptions,
  ): Promise<StoreWriteResult<V>> {
    this.counts.compareAndSet++;
    return this.inner.compareAndSet(key, expectedVersion, value, options);
  }

  update<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    options?: StoreOperationOptions,
  ): Promise<O> {
    this.counts.update++;
    return this.inner.update(key, transition, input, options);
  }
}
