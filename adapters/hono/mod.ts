/**
 * Hono adapters: {@link idempotency}, the `Idempotency-Key` middleware.
 * `hono` is an optional peer dependency: install it to use this entry.
 *
 * @module
 */
export * from "./idempotency.ts";
