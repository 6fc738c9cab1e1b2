/**
 * File-system adapters for Node, Deno and Bun: loading defaults from a JSON
 * config file, {@link FileStore} (a state store with one file per key),
 * {@link StateFileStore} (keys in one named file) and the heartbeat's
 * `stateFile` ({@link Heartbeat}, {@link Watchdog.fromHeartbeat} on a path).
 * The `bulwark` command line (`bulwark heartbeat check <file>`) is
 * {@link runCli}.
 *
 * @module
 */
export * from "./config.ts";
export * from "./file_store.ts";
export * from "./state_file.ts";
export * from "./heartbeat.ts";
export * from "./cli.ts";
