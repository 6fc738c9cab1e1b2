/**
 * File-system adapters for Node, Deno and Bun: loading defaults from a JSON
 * config file, and {@link FileStore}, a state store with one file per key.
 *
 * @module
 */
export * from "./config.ts";
export * from "./file_store.ts";
