/**
 * Cloudflare stores: {@link KvStore} over Workers KV (eventual, best
 * effort), {@link DurableObjectStore} over Durable Objects made by
 * {@link stateObjectClass} (strong, atomic, whole decisions in one round
 * trip), and {@link D1Store} over D1 (strong, atomic). Each takes its
 * binding as is, or as a function called on every operation: the form for a
 * store built at module scope (docs/stores.md, "Cloudflare").
 * {@link LaggingKvNamespace} makes a KV namespace's reads lag its writes, to
 * test code against KV's eventual consistency.
 *
 * @module
 */
export type { Binding, D1DatabaseLike, D1PreparedStatementLike, DurableObjectNamespaceLike, KvNamespaceLike } from "./bindings.ts";
export { KvStore, type KvStoreOptions } from "./kv.ts";
export { LaggingKvNamespace, type LaggingKvNamespaceOptions } from "./lagging_kv.ts";
export { D1Store, type D1StoreOptions } from "./d1.ts";
export { DurableObjectStore, type DurableObjectStoreOptions } from "./durable_object.ts";
export {
  type DurableObjectBase,
  type DurableObjectStateLike,
  type SqlStorageLike,
  type StateObject,
  type StateObjectClass,
  stateObjectClass,
  type StateObjectOptions,
  type StateObjectRpc,
  type WireEntry,
  type WireUpdateResult,
  type WireWriteResult,
} from "./state_object.ts";
