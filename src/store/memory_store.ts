import {
  isLive,
  type RawEntry,
  type RawOptions,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreAdapterOptionShape,
} from "./adapter.ts";
import { type Json, type StoreCapabilities, type Transition, UNCHANGED } from "./store.ts";
import { integer, optional } from "../validation.ts";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions extends StoreAdapterOptions {
  /**
   * Most entries held; a write beyond it evicts expired entries first, then
   * the least recently written. Default `10_000`.
   */
  maxEntries?: number;
  /** Longest key, in UTF-8 bytes, prefix included. Default `1024`. */
  maxKeyBytes?: number;
  /** Largest value, in UTF-8 bytes of its JSON. Default `1_048_576` (1 MiB). */
  maxValueBytes?: number;
}

interface Slot {
  readonly json: string;
  readonly version: string;
  readonly expiresAt: number | undefined;
}

let ownOptions: StoreAdapterOptionShape | undefined;

/** Built on first construction, never at import. */
function memoryOptions(): StoreAdapterOptionShape {
  const count = () => optional(integer(1));
  return (ownOptions ??= { maxEntries: count(), maxKeyBytes: count(), maxValueBytes: count() });
}

/** How many entries a write checks for expiry on the way (the amortized sweep). */
const SWEEP_STEP = 4;

/**
 * The in-process store, and the default one: atomic and strongly consistent
 * within one process (every operation runs synchronously, so nothing
 * interleaves), bounded in entries, with TTL checked on read and swept a few
 * entries per write (no timer per key, no timer at all). Values are kept as
 * JSON text, so a caller can never mutate what another reads. `update` runs
 * the transition in place, in one step.
 *
 * It is shared by nothing outside the process: use a real engine (Redis,
 * Durable Objects, Deno KV, SQL) for state shared by many instances.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 *
 * const clock = new ManualClock();
 * const store = new MemoryStore({ clock, maxEntries: 1_000 });
 * await store.set("session", { user: "ada" }, { ttlMs: 60_000 });
 * const claimed = await store.insertIfAbsent("session", { user: "bob" });
 * if (claimed.ok) throw new Error("the key is taken");
 * await clock.advance(60_000);
 * if ((await store.get("session")) !== undefined) throw new Error("should have expired");
 * ```
 */
export class MemoryStore extends StoreAdapter {
  /** `"memory"`. */
  readonly name: string = "memory";
  /** Atomic and strong within the process; the limits configured. */
  readonly capabilities: StoreCapabilities;
  /** The most entries held. */
  readonly maxEntries: number;
  // Map order is write order: a write deletes and re-adds its key, so the
  // first entry is the least recently written.
  readonly #entries = new Map<string, Slot>();
  #sweepCursor: Iterator<[string, Slot]> | undefined;
  #writesSinceFullSweep = Infinity;

  constructor(options: MemoryStoreOptions = {}) {
    super("MemoryStore", options, memoryOptions());
    const own = this.adapterOptions as Pick<MemoryStoreOptions, "maxEntries" | "maxKeyBytes" | "maxValueBytes">;
    this.maxEntries = own.maxEntries ?? 10_000;
    this.capabilities = {
      atomic: true,
      consistency: "strong",
      maxKeyBytes: own.maxKeyBytes ?? 1024,
      maxValueBytes: own.maxValueBytes ?? 1_048_576,
      minTtlMs: 0,
      minWriteIntervalMs: 0,
      runsTransitions: true,
    };
  }

  /**
   * Entries held, expired ones not yet swept included.
   *
   * @example
   * ```ts
   * import { MemoryStore } from "bulwark";
   * const store = new MemoryStore({ maxEntries: 2 });
   * for (const key of ["a", "b", "c"]) await store.set(key, 1);
   * if (store.size !== 2 || (await store.get("a")) !== undefined) throw new Error("a was written first: evicted");
   * ```
   */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Entries not expired (O(n): for stats, not for a hot path).
   *
   * @example
   * ```ts
   * import { MemoryStore } from "bulwark";
   * import { ManualClock } from "bulwark/testing";
   * const clock = new ManualClock();
   * const store = new MemoryStore({ clock });
   * await store.set("short", 1, { ttlMs: 10 });
   * await store.set("long", 2);
   * await clock.advance(10);
   * if (store.countLive() !== 1 || store.size !== 2) throw new Error("one live, one expired not yet swept");
   * ```
   */
  countLive(): number {
    const nowMs = this.clock.wallNow();
    let live = 0;
    for (const slot of this.#entries.values()) if (isLive(slot, nowMs)) live++;
    return live;
  }

  /**
   * Drops every expired entry now and returns how many (expired entries are
   * never read anyway: this only frees their memory at once).
   *
   * @example
   * ```ts
   * import { MemoryStore } from "bulwark";
   * import { ManualClock } from "bulwark/testing";
   * const clock = new ManualClock();
   * const store = new MemoryStore({ clock });
   * await store.set("k", 1, { ttlMs: 10 });
   * await clock.advance(10);
   * if (store.purgeExpired() !== 1 || store.size !== 0) throw new Error("purged");
   * ```
   */
  purgeExpired(): number {
    const nowMs = this.clock.wallNow();
    let purged = 0;
    for (const [key, slot] of this.#entries) {
      if (!isLive(slot, nowMs)) {
        this.#entries.delete(key);
        purged++;
      }
    }
    return purged;
  }

  /**
   * Removes every entry.
   *
   * @example
   * ```ts
   * import { MemoryStore } from "bulwark";
   * const store = new MemoryStore();
   * await store.set("k", 1);
   * store.clear();
   * if (store.size !== 0) throw new Error("not cleared");
   * ```
   */
  clear(): void {
    this.#entries.clear();
    this.#sweepCursor = undefined;
  }

  protected getRaw(key: string): RawEntry | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    if (!isLive(slot, this.clock.wallNow())) {
      this.#entries.delete(key);
      return undefined;
    }
    return { value: JSON.parse(slot.json) as Json, version: slot.version, expiresAt: slot.expiresAt };
  }

  protected setRaw(key: string, write: RawWrite): string {
    this.#write(key, write);
    return write.version;
  }

  protected deleteRaw(key: string, _options: RawOptions, nowMs: number): boolean {
    const slot = this.#entries.get(key);
    if (slot === undefined) return false;
    this.#entries.delete(key);
    return isLive(slot, nowMs);
  }

  protected insertRaw(key: string, write: RawWrite): RawWriteResult {
    const current = this.#live(key, write.nowMs);
    if (current !== undefined) return { ok: false, current: this.#entry(current) };
    this.#write(key, write);
    return { ok: true, version: write.version };
  }

  protected compareAndSetRaw(key: string, expectedVersion: string, write: RawWrite): RawWriteResult {
    const current = this.#live(key, write.nowMs);
    if (current === undefined || current.version !== expectedVersion) {
      return { ok: false, current: current === undefined ? undefined : this.#entry(current) };
    }
    this.#write(key, write);
    return { ok: true, version: write.version };
  }

  protected compareAndDeleteRaw(key: string, expectedVersion: string): boolean {
    if (this.#entries.get(key)?.version !== expectedVersion) return false;
    return this.#entries.delete(key);
  }

  protected override updateRaw<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
  ): O {
    // Read, decide and write in one synchronous step: nothing can interleave.
    const nowMs = this.clock.wallNow();
    const current = this.#live(key, nowMs);
    const result = this.applyTransition(
      transition,
      current === undefined ? undefined : JSON.parse(current.json) as Json,
      input,
      nowMs,
    );
    if (result.next === UNCHANGED) return result.output;
    if (result.next === undefined) this.#entries.delete(key);
    else this.#write(key, this.prepareWrite(result.json!, result.next, result.ttlMs, nowMs));
    return result.output;
  }

  #live(key: string, nowMs: number): Slot | undefined {
    const slot = this.#entries.get(key);
    return slot !== undefined && isLive(slot, nowMs) ? slot : undefined;
  }

  #entry(slot: Slot): RawEntry {
    return { value: JSON.parse(slot.json) as Json, version: slot.version, expiresAt: slot.expiresAt };
  }

  #write(key: string, write: RawWrite): void {
    const entries = this.#entries;
    entries.delete(key);
    this.#sweepStep(write.nowMs);
    if (entries.size >= this.maxEntries) this.#makeRoom(write.nowMs);
    entries.set(key, { json: write.json, version: write.version, expiresAt: write.expiresAt });
  }

  /** Checks a few entries for expiry, resuming where the last write stopped: O(1) per write. */
  #sweepStep(nowMs: number): void {
    for (let i = 0; i < SWEEP_STEP; i++) {
      this.#sweepCursor ??= this.#entries.entries();
      const next = this.#sweepCursor.next();
      if (next.done) {
        this.#sweepCursor = undefined;
        return;
      }
      const [key, slot] = next.value;
      if (!isLive(slot, nowMs)) this.#entries.delete(key);
    }
  }

  /** Full: drop every expired entry (at most once per `maxEntries / 4` writes, so O(1) amortized), then the oldest. */
  #makeRoom(nowMs: number): void {
    const entries = this.#entries;
    if (this.#writesSinceFullSweep++ >= this.maxEntries / 4) {
      this.#writesSinceFullSweep = 0;
      for (const [key, slot] of entries) if (!isLive(slot, nowMs)) entries.delete(key);
    }
    while (entries.size >= this.maxEntries) {
      const oldest = entries.keys().next().value as string;
      entries.delete(oldest);
    }
  }
}
