/**
 * Deno adapters: {@link DenoKvStore}, a state store over Deno KV.
 *
 * @module
 */
export * from "./deno_kv_store.ts";
