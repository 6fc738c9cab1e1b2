/**
 * Deno adapters: {@link DenoKvStore}, a state store over Deno KV, and
 * termination signals for {@link GracefulShutdown} (`denoSignals`).
 *
 * @module
 */
export * from "./deno_kv_store.ts";
export * from "./signals.ts";
