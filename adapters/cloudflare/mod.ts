/**
 * Cloudflare stores: `KvStore` (Workers KV), `DurableObjectStore` with the
 * Durable Object class it talks to (`stateObjectClass`), and `D1Store`.
 * Each takes its binding as is, or as a function called on every operation
 * (for stores built at module scope: see docs/stores.md, "Cloudflare").
 *
 * @module
 */
export type { Binding, D1DatabaseLike, D1PreparedStatementLike, DurableObjectNamespaceLike, KvNamespaceLike } from "./bindings.ts";
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
