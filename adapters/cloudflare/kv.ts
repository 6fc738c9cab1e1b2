/**
 * `KvStore`: a `Store` over a Workers KV namespace.
 *
 * @module
 */
import { optional, satisfying } from "../../src/validation.ts";
import { StoreError, type StoreOperation } from "../../src/errors.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  envelopeOverheadBytes,
  type RawEntry,
  type RawOptions,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptionShape,
  type StoreAdapterOptions,
} from "../../src/store/adapter.ts";
import type { StoreCapabilities } from "../../src/store/store.ts";
import { type Binding, type KvNamespaceLike, resolveBinding } from "./bindings.ts";
import { checkBinding } from "./checks.ts";

/** Workers KV's limits, as documented by Cloudflare. */
const KV_MAX_KEY_BYTES = 512;
const KV_MAX_VALUE_BYTES = 25 * 1024 * 1024;
const KV_MIN_TTL_MS = 60_000;
const KV_MIN_WRITE_INTERVAL_MS = 1_000;
/** Versions from the base's source are two base-36 randoms and a counter: well under this. */
const MAX_VERSION_BYTES = 40;
/** How many keys' last writes to remember before forgetting those older than the interval. */
const WRITE_LOG_SWEEP_AT = 1_024;

let ownOptions: StoreAdapterOptionShape | undefined;

/** Built on first construction, never at import. */
function kvOptions(): StoreAdapterOptionShape {
  const allowed = `"wait", "fail" or "ignore"`;
  return (ownOptions ??= {
    onWriteTooSoon: optional(
      satisfying<"wait" | "fail" | "ignore">((value) => value === "wait" || value === "fail" || value === "ignore", allowed),
    ),
  });
}

/** Options of {@link KvStore}: the common store options, plus what to do with a write too soon after the last. */
export interface KvStoreOptions extends StoreAdapterOptions {
  /**
   * Workers KV accepts one write per second per key (faster writes get 429
   * in production). What this store does with a write of a key it wrote
   * less than 1 s ago:
   *
   * - `"wait"` (default): waits out the rest of the second, then writes, so
   *   writes of one key go out in the order they were made, one per second.
   *   A write that would have to wait past `timeoutMs` fails at once.
   * - `"fail"`: fails at once with `StoreError` `ERR_STORE`, writing nothing.
   * - `"ignore"`: writes at once and lets KV answer (in production, a 429
   *   as `ERR_STORE`); for local engines, which have no such limit, and
   *   callers that pace their own writes.
   *
   * Either way only this store's own writes are known: a write from another
   * isolate within the same second still gets KV's 429, reported as
   * `ERR_STORE` with the engine's error as `cause`.
   */
  onWriteTooSoon?: "wait" | "fail" | "ignore";
}

/**
 * A `Store` over a Workers KV namespace. KV is eventually consistent
 * (a write may take up to 60 s to reach other locations) and has no atomic
 * operations, and this store declares exactly that:
 *
 * - `consistency: "eventual"`, `atomic: false`: `insertIfAbsent`,
 *   `compareAndSet` and `update` read, then write. They are best effort:
 *   two concurrent contenders can both win. Use a `DurableObjectStore` or
 *   `D1Store` where exactly one must.
 * - Keys: 512 bytes (prefix included); values: 25 MiB, less the few bytes
 *   of the envelope that holds the version and the expiry beside the value.
 * - TTL: KV expires keys no sooner than 60 s; a shorter `ttlMs` is kept as
 *   an expiry inside the value, checked on every read (KV deletes the key
 *   at 60 s).
 * - One write per second per key (`minWriteIntervalMs: 1000`); see
 *   {@link KvStoreOptions.onWriteTooSoon}.
 *
 * The namespace is passed as is, or as a function that returns it, called
 * on every operation: the form for a store built at module scope (see
 * docs/stores.md). The constructor performs no I/O.
 *
 * @example
 * ```ts
 * import { KvStore, type KvNamespaceLike } from "bulwark/cloudflare";
 * // In a Worker: new KvStore(env.STATE_KV). Here, a namespace in memory.
 * const entries = new Map<string, string>();
 * const kv: KvNamespaceLike = {
 *   getWithMetadata: async (key) => ({ value: entries.get(key) ?? null, metadata: null }),
 *   put: async (key, value) => void entries.set(key, value),
 *   delete: async (key) => void entries.delete(key),
 * };
 * const store = new KvStore(kv, { prefix: "app:" });
 * await store.set("breaker", { state: "open" }, { ttlMs: 30_000 });
 * const entry = await store.get("breaker");
 * if (JSON.stringify(entry?.value) !== '{"state":"open"}' || !entries.has("app:breaker")) throw new Error("not stored");
 * if (store.capabilities.atomic || store.capabilities.consistency !== "eventual") throw new Error("KV is neither");
 * ```
 */
export class KvStore extends StoreAdapter {
  /** `"workers-kv"`. */
  readonly name: string = "workers-kv";
  /** Eventual, not atomic; KV's limits. */
  readonly capabilities: StoreCapabilities = {
    atomic: false,
    consistency: "eventual",
    maxKeyBytes: KV_MAX_KEY_BYTES,
    maxValueBytes: KV_MAX_VALUE_BYTES - envelopeOverheadBytes(MAX_VERSION_BYTES),
    minTtlMs: KV_MIN_TTL_MS,
    minWriteIntervalMs: KV_MIN_WRITE_INTERVAL_MS,
    runsTransitions: false,
  };
  readonly #namespace: Binding<KvNamespaceLike>;
  readonly #onWriteTooSoon: "wait" | "fail" | "ignore";
  /** Per key, when (this store's monotonic clock) its next write may go out. */
  readonly #nextWriteAt = new Map<string, number>();

  constructor(namespace: Binding<KvNamespaceLike>, options?: KvStoreOptions) {
    const binding = checkBinding<KvNamespaceLike>("KvStore", namespace, "a KV namespace", ["getWithMetadata", "put", "delete"]);
    super("KvStore", options, kvOptions());
    this.#namespace = binding;
    this.#onWriteTooSoon = (this.adapterOptions as KvStoreOptions).onWriteTooSoon ?? "wait";
  }

  protected async getRaw(key: string): Promise<RawEntry | undefined> {
    const { value } = await resolveBinding(this.#namespace).getWithMetadata(key, { type: "text" });
    return value === null ? undefined : decodeEnvelope(value);
  }

  protected async setRaw(key: string, write: RawWrite, options: RawOptions): Promise<string> {
    await this.#put(key, write, options, "set", this.clock.now());
    return write.version;
  }

  protected async deleteRaw(key: string, _options: RawOptions, nowMs: number): Promise<boolean> {
    const namespace = resolveBinding(this.#namespace);
    const { value } = await namespace.getWithMetadata(key, { type: "text" });
    await namespace.delete(key);
    if (value === null) return false;
    const expiresAt = decodeEnvelope(value).expiresAt;
    return expiresAt === undefined || expiresAt > nowMs;
  }

  // Best effort (capabilities.atomic is false): KV has no conditional write.
  protected async insertRaw(key: string, write: RawWrite, options: RawOptions): Promise<RawWriteResult> {
    const started = this.clock.now();
    const current = await this.getRaw(key);
    if (current !== undefined && (current.expiresAt === undefined || current.expiresAt > write.nowMs)) {
      return { ok: false, current };
    }
    await this.#put(key, write, options, "insertIfAbsent", started);
    return { ok: true, version: write.version };
  }

  protected async compareAndSetRaw(key: string, expected: string, write: RawWrite, options: RawOptions): Promise<RawWriteResult> {
    const started = this.clock.now();
    const current = await this.getRaw(key);
    if (current?.version !== expected || (current.expiresAt !== undefined && current.expiresAt <= write.nowMs)) {
      return { ok: false, current };
    }
    await this.#put(key, write, options, "compareAndSet", started);
    return { ok: true, version: write.version };
  }

  protected async compareAndDeleteRaw(key: string, expected: string): Promise<boolean> {
    const current = await this.getRaw(key);
    if (current?.version !== expected) return false;
    await resolveBinding(this.#namespace).delete(key);
    return true;
  }

  /**
   * Writes the envelope, one write per second per key (see
   * {@link KvStoreOptions.onWriteTooSoon}); `started` is when the operation
   * began (this store's clock), for what is left of its `timeoutMs`.
   */
  async #put(key: string, write: RawWrite, options: RawOptions, operation: StoreOperation, started: number): Promise<void> {
    if (this.#onWriteTooSoon !== "ignore") await this.#pace(key, options, operation, started);
    const text = encodeEnvelope(write.json, write.version, write.expiresAt);
    const expirationTtl = write.nativeTtlMs === undefined ? undefined : Math.ceil(write.nativeTtlMs / 1_000);
    await resolveBinding(this.#namespace).put(key, text, expirationTtl === undefined ? undefined : { expirationTtl });
  }

  /**
   * Waits for the key's next write slot, or fails at once if it may not wait
   * (`"fail"`) or the wait would outlast the operation's `timeoutMs` (so a
   * write never lands after its caller was told it timed out).
   */
  async #pace(key: string, options: RawOptions, operation: StoreOperation, started: number): Promise<void> {
    const now = this.clock.now();
    const slot = Math.max(now, this.#nextWriteAt.get(key) ?? now);
    const waitMs = slot - now;
    if (waitMs > 0) {
      if (this.#onWriteTooSoon === "fail" || waitMs >= this.timeoutMs - (now - started)) {
        throw new StoreError(
          "ERR_STORE",
          this.name,
          operation,
          key.slice(this.prefix.length),
          `Workers KV accepts one write per second per key; the next write of this key may go out in ${Math.ceil(waitMs)} ms` +
            (this.#onWriteTooSoon === "fail" ? " (onWriteTooSoon: \"fail\")" : `, past timeoutMs (${this.timeoutMs})`),
        );
      }
    }
    this.#remember(key, slot + KV_MIN_WRITE_INTERVAL_MS, now);
    if (waitMs > 0) await this.clock.sleep(waitMs, options.signal);
  }

  #remember(key: string, nextWriteAt: number, now: number): void {
    if (this.#nextWriteAt.size >= WRITE_LOG_SWEEP_AT) {
      for (const [known, at] of this.#nextWriteAt) if (at <= now) this.#nextWriteAt.delete(known);
    }
    this.#nextWriteAt.set(key, nextWriteAt);
  }
}
