/**
 * Deno: termination signals for {@link GracefulShutdown} (`denoSignals`).
 *
 * @module
 */
export * from "./signals.ts";
