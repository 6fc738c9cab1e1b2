/**
 * Idempotency: exactly-once effects for retried requests, in process and
 * across the fleet, over any atomic {@link Store}.
 *
 * @module
 */
export * from "./idempotency_store.ts";
export * from "./idempotent.ts";
