/**
 * Node and Bun: termination signals from `process` for
 * {@link GracefulShutdown}. (State files and the heartbeat's `stateFile`
 * are in `bulwark/fs`, which also runs on Node, Deno and Bun.)
 *
 * @module
 */
export * from "./signals.ts";
