/**
 * The Worker variant's rate limit: a token bucket per client kept in a
 * Durable Object, so that every isolate draws on one bucket. The bucket is
 * a store transition, run inside the object in one round trip
 * (`DurableObjectStore.update`); the demo's state object registers it.
 */
import type { RateLimitDecision, Store, Transition } from "../mod.ts";
import type { RateLimitGate } from "./app.ts";

type BucketInput = {
  readonly limit: number;
  readonly windowMs: number;
};

interface BucketState {
  readonly tokens: number;
  readonly at: number;
}

/** Takes one token if there is one; the bucket refills `limit` tokens per `windowMs`. */
export const tokenBucketTransition: Transition<BucketInput, RateLimitDecision & { [key: string]: number | boolean }> = {
  name: "bulwark.demo.token-bucket",
  apply(current, { limit, windowMs }, nowMs) {
    const state = current as unknown as BucketState | undefined;
    const elapsed = state === undefined ? Infinity : Math.max(0, nowMs - state.at);
    const tokens = Math.min(limit, (state?.tokens ?? limit) + (elapsed * limit) / windowMs);
    const allowed = tokens >= 1;
    const remaining = allowed ? tokens - 1 : tokens;
    const msPerToken = windowMs / limit;
    const decision = {
      allowed,
      cost: 1,
      limit,
      windowMs,
      remaining,
      retryAfterMs: allowed ? 0 : Math.ceil((1 - tokens) * msPerToken),
      resetMs: Math.ceil((limit - remaining) * msPerToken),
    };
    // Expires once full again: a full bucket needs no state.
    return { next: { tokens: remaining, at: nowMs }, ttlMs: Math.max(1_000, decision.resetMs), output: decision };
  },
};

/** A rate limit of `limit` requests per `windowMs` per client, decided in `store` (a Durable Object store). */
export function storeRateLimit(store: Store, { limit, windowMs }: { limit: number; windowMs: number }): RateLimitGate {
  return {
    limit: (key) => store.update(`bucket:${key}`, tokenBucketTransition, { limit, windowMs }),
  };
}
