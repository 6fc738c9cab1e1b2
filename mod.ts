/**
 * bulwark: portable resilience for TypeScript. Circuit breaker, retry,
 * timeout, bulkhead, fallback, pipelines, rate limiting, graceful shutdown,
 * heartbeats and watchdogs, on Node, Deno,
 * Bun, browsers and Cloudflare Workers.
 *
 * This entry re-exports the pure core. Runtime- and product-specific pieces
 * live in subpath exports (`bulwark/testing`, `bulwark/node`, ...).
 *
 * @module
 */
export * from "./src/clock.ts";
export * from "./src/config.ts";
export * from "./src/errors.ts";
export * from "./src/events.ts";
export * from "./src/policy.ts";
export * from "./src/backoff.ts";
export * from "./src/retry.ts";
export * from "./src/timeout.ts";
export * from "./src/bulkhead.ts";
export * from "./src/fallback.ts";
export * from "./src/chaos.ts";
export * from "./src/pipeline.ts";
export * from "./src/rate_limit/mod.ts";
export * from "./src/store/mod.ts";
export * from "./src/idempotency/mod.ts";
export * from "./src/breaker/mod.ts";
export * from "./src/breaker/circuit_breaker.ts";
export * from "./src/breaker/registry.ts";
export type { CircuitStoreErrorEvent, SharedCircuitRecord, SharedCircuitState, SharedCircuitVote, SharedManualAction } from "./src/breaker/shared.ts";
export * from "./src/resilient_fetch.ts";
export * from "./src/lifecycle/mod.ts";
