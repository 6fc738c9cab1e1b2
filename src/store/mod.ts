/**
 * The Store seam and the in-process store.
 *
 * @module
 */
export * from "./store.ts";
export * from "./adapter.ts";
export * from "./memory_store.ts";
export * from "./requirements.ts";
