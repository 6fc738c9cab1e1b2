/**
 * Rate limiting: token bucket, GCRA, sliding window (exact log or two-window
 * counter), fixed window, a throttler, the seeds' decorator, keyed limits
 * and the IETF `RateLimit` header fields. Each algorithm is a pure state
 * machine (reusable by store-backed limiters) wrapped by an in-process
 * limiter that owns the clock, the FIFO of waiters and the stats.
 *
 * @module
 */
export * from "./algorithm.ts";
export * from "./limiter.ts";
export * from "./token_bucket.ts";
export * from "./gcra.ts";
export * from "./sliding_window.ts";
export * from "./fixed_window.ts";
export * from "./create.ts";
export * from "./keyed.ts";
export * from "./throttler.ts";
export * from "./rate_limiter.ts";
export * from "./headers.ts";
export * from "./distributed.ts";
