/**
 * Hono middleware: {@link rateLimit}, {@link idempotency},
 * {@link circuitBreaker}, {@link timeout}, {@link bulkhead} and
 * {@link health}, each a factory returning a named middleware, as Hono's
 * own are. `hono` is an optional peer dependency: install it to use this
 * entry. Guide: `docs/hono.md`.
 *
 * @module
 */
export type { AnyHonoContext, HonoContext, HonoMiddleware } from "./context.ts";
export * from "./idempotency.ts";
export { type AsyncKeyedLimiter, type HonoRateLimitOptions, type KeyedLimiter, rateLimit } from "./rate_limit.ts";
export { clientAddress, type ClientAddressOptions, remoteAddress, type TrustProxy } from "./client_address.ts";
export { breakerRegistry, circuitBreaker, type HonoCircuitBreakerOptions } from "./circuit_breaker.ts";
export { type HonoTimeoutOptions, signalOf, timeout } from "./timeout.ts";
export { bulkhead, type HonoBulkheadOptions } from "./bulkhead.ts";
export { type HealthCheckResult, type HealthReport, type HeartbeatSource, health, type HonoHealthOptions } from "./health.ts";
