/**
 * Process lifecycle: graceful shutdown on termination signals, heartbeats
 * and watchdogs, and the signals seam they stand on.
 *
 * @module
 */
export * from "./signals.ts";
export * from "./shutdown.ts";
export * from "./heartbeat_state.ts";
export * from "./heartbeat.ts";
export * from "./watchdog.ts";
