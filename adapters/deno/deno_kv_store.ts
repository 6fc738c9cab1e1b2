/**
 * A {@link Store} over Deno KV (`Deno.Kv`): local SQLite files, or Deno
 * Deploy's globally replicated KV.
 *
 * @module
 */
import {
  decodeEnvelope,
  encodeEnvelope,
  envelopeOverheadBytes,
  isLive,
  type RawEntry,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreAdapterOptionShape,
  type StoreCapabilities,
} from "../../mod.ts";
import { satisfying } from "../../src/validation.ts";

/** A Deno KV key: what {@link DenoKvStore} uses is one string part. */
export type DenoKvKey = readonly string[];

/** One read of {@link DenoKvLike.get}. */
export interface DenoKvEntryLike {
  readonly value: unknown;
  /** `null` when the key is absent. */
  readonly versionstamp: string | null;
}

/** The slice of `Deno.AtomicOperation` the store uses. */
export interface DenoKvAtomicLike {
  check(...checks: { key: DenoKvKey; versionstamp: string | null }[]): DenoKvAtomicLike;
  set(key: DenoKvKey, value: unknown, options?: { expireIn?: number }): DenoKvAtomicLike;
  delete(key: DenoKvKey): DenoKvAtomicLike;
  commit(): Promise<{ readonly ok: boolean; readonly versionstamp?: string }>;
}

/**
 * The slice of `Deno.Kv` the store uses, typed here so that the package
 * compiles without Deno's types; a real `Deno.Kv` fits it.
 */
export interface DenoKvLike {
  get(key: DenoKvKey): Promise<DenoKvEntryLike>;
  atomic(): DenoKvAtomicLike;
}

/** Options of {@link DenoKvStore}. */
export interface DenoKvStoreOptions extends StoreAdapterOptions {
  /** The database, e.g. `await Deno.openKv()`. Its lifetime is yours: the store never closes it. */
  kv: DenoKvLike;
}

/** Deno KV's limit on a key written, in bytes of its encoding. */
const ENGINE_KEY_BYTES = 2048;
/** Deno KV's limit on a value, in bytes (a `Uint8Array` is stored as is). */
const ENGINE_VALUE_BYTES = 65_536;

let ownOptions: StoreAdapterOptionShape | undefined;

function kvOptions(): StoreAdapterOptionShape {
  return (ownOptions ??= {
    kv: satisfying<DenoKvLike>(
      (value) =>
        typeof value === "object" && value !== null && typeof (value as DenoKvLike).get === "function" &&
        typeof (value as DenoKvLike).atomic === "function",
      "a Deno.Kv (from Deno.openKv())",
    ),
  });
}

/**
 * A store over Deno KV: atomic (`atomic().check()` on the versionstamp) and
 * strongly consistent (reads default to strong consistency), versionstamps
 * as versions.
 *
 * - Each entry is one key `[prefix + key]` holding a `Uint8Array`: the
 *   UTF-8 JSON of the value and its expiry. Limits: keys 2046 bytes
 *   (Deno KV's 2 KiB less its encoding; a NUL character counts twice),
 *   values 65,501 bytes of JSON (64 KiB less the expiry).
 * - TTL uses `expireIn`, which Deno KV honours late (it deletes expired keys
 *   eventually); the expiry kept beside the value makes reads and
 *   conditional writes exact.
 * - `update` is a compare-and-set loop (one read, one atomic commit per round).
 * - Processes sharing a local database file contend for SQLite's lock: a
 *   call that meets "database is locked" is retried after a short backoff,
 *   within `timeoutMs`.
 *
 * Deno KV is unstable in Deno 2: run with `--unstable-kv` (or
 * `"unstable": ["kv"]` in `deno.json`); Deno Deploy has it on.
 *
 * @example
 * ```ts
 * import { DenoKvStore } from "bulwark/deno";
 *
 * const kv = await Deno.openKv(":memory:");
 * const store = new DenoKvStore({ kv });
 * const first = await store.insertIfAbsent("lease", { owner: "a" }, { ttlMs: 30_000 });
 * const second = await store.insertIfAbsent("lease", { owner: "b" });
 * if (!first.ok || second.ok) throw new Error("exactly one owner");
 * kv.close();
 * ```
 */
export class DenoKvStore extends StoreAdapter {
  /** `"deno-kv"`. */
  readonly name: string = "deno-kv";
  /** Atomic, strong; Deno KV's limits. */
  readonly capabilities: StoreCapabilities = {
    atomic: true,
    consistency: "strong",
    maxKeyBytes: ENGINE_KEY_BYTES - 2,
    maxValueBytes: ENGINE_VALUE_BYTES - envelopeOverheadBytes(0),
    minTtlMs: 0,
    minWriteIntervalMs: 0,
    runsTransitions: false,
  };
  readonly #kv: DenoKvLike;

  constructor(options: DenoKvStoreOptions) {
    super("DenoKvStore", options, kvOptions());
    this.#kv = (this.adapterOptions as { kv: DenoKvLike }).kv;
  }

  protected async getRaw(key: string): Promise<RawEntry | undefined> {
    return this.#decode(await this.#busy(() => this.#kv.get([key])));
  }

  protected async setRaw(key: string, write: RawWrite): Promise<string> {
    const result = await this.#busy(() => this.#kv.atomic().set([key], this.#encode(write), this.#expiry(write)).commit());
    if (!result.ok || result.versionstamp === undefined) throw new Error("Deno KV refused an unconditional write");
    return result.versionstamp;
  }

  protected async deleteRaw(key: string, _options: unknown, nowMs: number): Promise<boolean> {
    const found = await this.#busy(() => this.#kv.get([key]));
    if (found.versionstamp === null) return false;
    await this.#busy(() => this.#kv.atomic().delete([key]).commit());
    return isLive(this.#decode(found)!, nowMs);
  }

  protected async insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    const found = await this.#busy(() => this.#kv.get([key]));
    const current = this.#decode(found);
    if (current !== undefined && isLive(current, write.nowMs)) return { ok: false, current };
    // Absent, or expired but not yet removed by Deno KV: replace it only if it is still that.
    return this.#commitOver(key, found.versionstamp, write);
  }

  protected async compareAndSetRaw(key: string, expectedVersion: string, write: RawWrite): Promise<RawWriteResult> {
    const found = await this.#busy(() => this.#kv.get([key]));
    const current = this.#decode(found);
    if (current === undefined || current.version !== expectedVersion || !isLive(current, write.nowMs)) {
      return { ok: false, current };
    }
    return this.#commitOver(key, expectedVersion, write);
  }

  protected async compareAndDeleteRaw(key: string, expectedVersion: string): Promise<boolean> {
    const result = await this.#busy(() =>
      this.#kv.atomic().check({ key: [key], versionstamp: expectedVersion }).delete([key]).commit()
    );
    return result.ok;
  }

  async #commitOver(key: string, versionstamp: string | null, write: RawWrite): Promise<RawWriteResult> {
    const result = await this.#busy(() =>
      this.#kv.atomic()
        .check({ key: [key], versionstamp })
        .set([key], this.#encode(write), this.#expiry(write))
        .commit()
    );
    if (result.ok && result.versionstamp !== undefined) return { ok: true, version: result.versionstamp };
    return { ok: false, current: this.#decode(await this.#busy(() => this.#kv.get([key]))) };
  }

  /**
   * Runs a Deno KV call, again after a short backoff while the local SQLite
   * file is locked by another process ("database is locked"), for at most
   * `timeoutMs` (the operation's own timeout ends the wait first).
   */
  async #busy<T>(call: () => Promise<T>): Promise<T> {
    const deadline = this.clock.now() + 2 * this.timeoutMs;
    for (let attempt = 0;; attempt++) {
      try {
        return await call();
      } catch (error) {
        const busy = error instanceof Error && /database is locked|SQLITE_BUSY/i.test(error.message);
        if (!busy || this.clock.now() >= deadline) throw error;
      }
      await this.clock.sleep(Math.random() * Math.min(20, 1 + attempt));
    }
  }

  #encode(write: RawWrite): Uint8Array {
    return new TextEncoder().encode(encodeEnvelope(write.json, "", write.expiresAt));
  }

  #expiry(write: RawWrite): { expireIn?: number } {
    return write.nativeTtlMs === undefined ? {} : { expireIn: write.nativeTtlMs };
  }

  #decode(found: DenoKvEntryLike): RawEntry | undefined {
    if (found.versionstamp === null) return undefined;
    if (!(found.value instanceof Uint8Array)) throw new Error("unreadable record (not written by DenoKvStore)");
    const entry = decodeEnvelope(new TextDecoder().decode(found.value));
    return { value: entry.value, version: found.versionstamp, expiresAt: entry.expiresAt };
  }
}
