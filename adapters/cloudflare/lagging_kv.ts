/**
 * `LaggingKvNamespace`: a KV namespace whose reads lag its writes, for
 * testing code against Workers KV's eventual consistency.
 *
 * @module
 */
import { type Clock, systemClock } from "../../src/clock.ts";
import { InvalidArgumentError } from "../../src/errors.ts";
import type { KvNamespaceLike } from "./bindings.ts";

/** Options of {@link LaggingKvNamespace}. */
export interface LaggingKvNamespaceOptions {
  /** How far reads lag writes, in ms. Production KV: up to 60 000. Default `60_000`. */
  lagMs?: number;
  /** Time source (use a `ManualClock` in tests). Default `systemClock`. */
  clock?: Clock;
}

interface Version {
  /** When it was written (the clock's `now()`); `-Infinity` for what was there before the first write seen. */
  readonly at: number;
  readonly value: string | null;
  readonly metadata: unknown;
}

/**
 * Wraps a KV namespace so that a read sees each key as it was `lagMs` ago,
 * as a reader in another location may with production Workers KV (local KV,
 * in Miniflare or `wrangler dev`, is strongly consistent). Writes go through
 * at once; only reads are delayed, by the writes made through this wrapper.
 * Hand it to a `KvStore` to test what an eventual store does to your code:
 * best-effort `insertIfAbsent` letting two writers win, a breaker that sees
 * another isolate's trip late.
 *
 * @example
 * ```ts
 * import { KvStore, LaggingKvNamespace, type KvNamespaceLike } from "bulwark/cloudflare";
 * import { ManualClock } from "bulwark/testing";
 * const entries = new Map<string, string>();
 * const local: KvNamespaceLike = {
 *   getWithMetadata: async (key) => ({ value: entries.get(key) ?? null, metadata: null }),
 *   put: async (key, value) => void entries.set(key, value),
 *   delete: async (key) => void entries.delete(key),
 * };
 * const clock = new ManualClock();
 * const store = new KvStore(new LaggingKvNamespace(local, { lagMs: 60_000, clock }), { clock });
 * await store.set("flag", "on");
 * if ((await store.get("flag")) !== undefined) throw new Error("seen too early");
 * await clock.advance(60_000);
 * if ((await store.get("flag"))?.value !== "on") throw new Error("never seen");
 * ```
 */
export class LaggingKvNamespace implements KvNamespaceLike {
  readonly #inner: KvNamespaceLike;
  readonly #lagMs: number;
  readonly #clock: Clock;
  /** Per key, the versions written through this wrapper that a read may still have to show, oldest first. */
  readonly #history = new Map<string, Version[]>();

  constructor(inner: KvNamespaceLike, options: LaggingKvNamespaceOptions = {}) {
    if (typeof inner !== "object" || inner === null || typeof inner.getWithMetadata !== "function") {
      throw new InvalidArgumentError("LaggingKvNamespace", "inner", inner, "a KV namespace");
    }
    const lagMs = options.lagMs ?? 60_000;
    if (typeof lagMs !== "number" || !Number.isFinite(lagMs) || lagMs < 0) {
      throw new InvalidArgumentError("LaggingKvNamespace", "options.lagMs", lagMs, "a finite number of milliseconds >= 0");
    }
    this.#inner = inner;
    this.#lagMs = lagMs;
    this.#clock = options.clock ?? systemClock;
  }

  /** The key as it was `lagMs` ago (as far as writes through this wrapper go). */
  async getWithMetadata(key: string, options: { type: "text" }): Promise<{ value: string | null; metadata: unknown }> {
    const versions = this.#history.get(key);
    if (versions === undefined) return await this.#inner.getWithMetadata(key, options);
    const visibleAt = this.#clock.now() - this.#lagMs;
    let visible = 0;
    while (visible + 1 < versions.length && versions[visible + 1]!.at <= visibleAt) visible++;
    // Older versions can never be shown again.
    versions.splice(0, visible);
    if (versions.length === 1 && versions[0]!.at <= visibleAt) {
      this.#history.delete(key);
      return await this.#inner.getWithMetadata(key, options);
    }
    return { value: versions[0]!.value, metadata: versions[0]!.metadata };
  }

  /** Writes through at once; reads see it `lagMs` later. */
  async put(key: string, value: string, options?: { expirationTtl?: number; metadata?: unknown }): Promise<void> {
    await this.#record(key, value, options?.metadata ?? null);
    await this.#inner.put(key, value, options);
  }

  /** Deletes at once; reads see it `lagMs` later. */
  async delete(key: string): Promise<void> {
    await this.#record(key, null, null);
    await this.#inner.delete(key);
  }

  async #record(key: string, value: string | null, metadata: unknown): Promise<void> {
    let versions = this.#history.get(key);
    if (versions === undefined) {
      const before = await this.#inner.getWithMetadata(key, { type: "text" });
      versions = this.#history.get(key);
      if (versions === undefined) {
        versions = [{ at: -Infinity, value: before.value, metadata: before.metadata }];
        this.#history.set(key, versions);
      }
    }
    versions.push({ at: this.#clock.now(), value, metadata });
  }
}
