/**
 * File-system adapters for Node, Deno and Bun: loading defaults from a JSON
 * config file. (File-backed state stores join them with the state-store work.)
 *
 * @module
 */
export * from "./config.ts";
