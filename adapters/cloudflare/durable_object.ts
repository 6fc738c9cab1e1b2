/**
 * `DurableObjectStore`: a `Store` whose entries live in Durable
 * Objects made by `stateObjectClass`, reached through RPC stubs.
 *
 * @module
 */
import { optional, satisfying } from "../../src/validation.ts";
import { StoreError } from "../../src/errors.ts";
import {
  type RawEntry,
  type RawOptions,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptionShape,
  type StoreAdapterOptions,
} from "../../src/store/adapter.ts";
import type { Json, StoreCapabilities, Transition } from "../../src/store/store.ts";
import { type Binding, type DurableObjectNamespaceLike, resolveBinding } from "./bindings.ts";
import { checkBinding } from "./checks.ts";
import { DO_MAX_KEY_BYTES, DO_MAX_VALUE_BYTES, type StateObjectRpc, type WireEntry, type WireWriteResult } from "./state_object.ts";


let ownOptions: StoreAdapterOptionShape | undefined;

/** Built on first construction, never at import. */
function durableObjectOptions(): StoreAdapterOptionShape {
  const allowed = "a function (key: string) => string";
  return (ownOptions ??= {
    shard: optional(satisfying<(key: string) => string>((value) => typeof value === "function", allowed)),
  });
}

/** Options of {@link DurableObjectStore}: the common store options, plus which object holds a key. */
export interface DurableObjectStoreOptions extends StoreAdapterOptions {
  /**
   * The name of the object (within the store's prefix) that holds `key`.
   * Default: the key itself, one object per key, so keys never wait on each
   * other (an object serves its calls one at a time). Return fewer names to
   * group keys (per tenant, or `hash(key) % 16`): a whole group's calls are
   * then serialized through one object.
   */
  shard?: (key: string) => string;
}

/**
 * A `Store` over Durable Objects: strongly consistent, atomic, and
 * with whole decisions in one round trip. Each key lives in the object
 * named `prefix + shard(key)` (by default one object per key), in the
 * object's SQLite storage. Every operation is one RPC call to that object
 * (`namespace.get(namespace.idFromName(name)).method(...)`); the object
 * runs conditional writes and transitions itself, one call at a time.
 *
 * `update(key, transition, input)` sends the transition's `name` and
 * `input`, not its code: the object runs the transition registered under
 * that name in `stateObjectClass(DurableObject, { transitions })`, with the
 * object's own `Date.now()` as `nowMs`. A name the object does not know
 * fails with `StoreError` `ERR_STORE` saying so.
 *
 * Stubs are made per operation, never kept: on Workers a stub belongs to
 * the request that made it. The namespace is passed as is, or as a function
 * that returns it, called on every operation (for a store built at module
 * scope). The constructor performs no I/O.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { DurableObjectStore, type DurableObjectNamespaceLike, stateObjectClass } from "bulwark/cloudflare";
 * // In a Worker: new DurableObjectStore(env.STATE_OBJECTS), with the class exported
 * // from the main module. Here, objects in memory, each over its own SQLite.
 * const StateObject = stateObjectClass(class { constructor(_ctx: unknown, _env: unknown) {} });
 * const objects = new Map<unknown, object>();
 * const namespace: DurableObjectNamespaceLike = {
 *   idFromName: (name) => name,
 *   get(id) {
 *     if (!objects.has(id)) {
 *       const db = new DatabaseSync(":memory:");
 *       const sql = { exec: (query: string, ...args: any[]) => {
 *         const rows = db.prepare(query).all(...args) as Record<string, unknown>[];
 *         return { toArray: () => rows };
 *       } };
 *       objects.set(id, new StateObject({ storage: { sql, getAlarm: async () => null, setAlarm: async () => {} } }, undefined as never));
 *     }
 *     return objects.get(id)!;
 *   },
 * };
 * const store = new DurableObjectStore(namespace);
 * const claims = await Promise.all([1, 2, 3].map((n) => store.insertIfAbsent("job:42", { worker: n })));
 * if (claims.filter((claim) => claim.ok).length !== 1) throw new Error("exactly one claim wins");
 * if (!objects.has("bulwark:job:42")) throw new Error("one object per key");
 * ```
 */
export class DurableObjectStore extends StoreAdapter {
  /** `"durable-object"`. */
  readonly name: string = "durable-object";
  /** Strong and atomic, transitions run in the object; SQLite-backed storage's limits. */
  readonly capabilities: StoreCapabilities = {
    atomic: true,
    consistency: "strong",
    maxKeyBytes: DO_MAX_KEY_BYTES,
    maxValueBytes: DO_MAX_VALUE_BYTES,
    minTtlMs: 0,
    minWriteIntervalMs: 0,
    runsTransitions: true,
  };
  readonly #namespace: Binding<DurableObjectNamespaceLike>;
  readonly #shard: ((key: string) => string) | undefined;

  constructor(namespace: Binding<DurableObjectNamespaceLike>, options?: DurableObjectStoreOptions) {
    const binding = checkBinding<DurableObjectNamespaceLike>("DurableObjectStore", namespace, "a Durable Object namespace", [
      "idFromName",
      "get",
    ]);
    super("DurableObjectStore", options, durableObjectOptions());
    this.#namespace = binding;
    this.#shard = (this.adapterOptions as DurableObjectStoreOptions).shard;
  }

  protected async getRaw(key: string, _options: RawOptions): Promise<RawEntry | undefined> {
    const found = await this.#object(key).get(key, this.clock.wallNow());
    return found === null ? undefined : toEntry(found);
  }

  protected async setRaw(key: string, write: RawWrite): Promise<string> {
    await this.#object(key).set(key, write.json, write.version, write.expiresAt ?? null);
    return write.version;
  }

  protected deleteRaw(key: string, _options: RawOptions, nowMs: number): Promise<boolean> {
    return this.#object(key).delete(key, nowMs);
  }

  protected async insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    return toResult(await this.#object(key).insertIfAbsent(key, write.json, write.version, write.expiresAt ?? null, write.nowMs), write);
  }

  protected async compareAndSetRaw(key: string, expected: string, write: RawWrite): Promise<RawWriteResult> {
    const outcome = await this.#object(key).compareAndSet(key, expected, write.json, write.version, write.expiresAt ?? null, write.nowMs);
    return toResult(outcome, write);
  }

  protected compareAndDeleteRaw(key: string, expected: string): Promise<boolean> {
    return this.#object(key).compareAndDelete(key, expected);
  }

  /** One RPC call: the object runs the transition registered under `transition.name`. */
  protected override async updateRaw<I extends Json, O extends Json>(key: string, transition: Transition<I, O>, input: I): Promise<O> {
    const outcome = await this.#object(key).update(key, transition.name, input);
    if (outcome.ok) return outcome.output as O;
    const unprefixed = key.slice(this.prefix.length);
    if (outcome.reason === "too-large") {
      throw new StoreError("ERR_STORE_LIMIT", this.name, "update", unprefixed, outcome.detail, { limit: outcome.limit, actual: outcome.actual });
    }
    throw new StoreError("ERR_STORE", this.name, "update", unprefixed, outcome.detail);
  }

  /** A fresh stub of the object that holds the full `key`. */
  #object(key: string): StateObjectRpc {
    const namespace = resolveBinding(this.#namespace);
    const name = this.#shard === undefined ? key : this.prefix + this.#shard(key.slice(this.prefix.length));
    return namespace.get(namespace.idFromName(name)) as StateObjectRpc;
  }
}

function toEntry(wire: WireEntry): RawEntry {
  return { value: JSON.parse(wire.value) as Json, version: wire.version, expiresAt: wire.expiresAt ?? undefined };
}

function toResult(outcome: WireWriteResult, write: RawWrite): RawWriteResult {
  return outcome.ok
    ? { ok: true, version: write.version }
    : { ok: false, current: outcome.current === null ? undefined : toEntry(outcome.current) };
}
