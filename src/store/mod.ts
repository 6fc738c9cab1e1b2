/**
 * The Store seam and the in-process store.
 *
 * @module
 */
export * from "./store.ts";
