/**
 * Types a strict consumer can trust (issue 14). The assignments below are
 * checked by `npm run typecheck` (strict, exactOptionalPropertyTypes in the
 * consumer check); the runtime assertions keep them honest.
 */
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  CircuitOpenError,
  type CircuitState,
  createResilientFetch,
  fallback,
  ResiliencePipeline,
  RetryPolicy,
} from "../mod.ts";

describe("strict types", () => {
  it("registry get() and getOrCreate() return the same breaker type, results keep their type", async () => {
    const registry = new CircuitBreakerRegistry();
    const created: Promise<number> = registry.getOrCreate("a").execute(() => 1);
    const found: Promise<number> | undefined = registry.get("a")?.execute(() => 2);
    expect(await created).toBe(1);
    expect(await found).toBe(2);
    const cached = new CircuitBreakerRegistry<string>();
    const breaker = cached.getOrCreate("b", { maxFailures: 1, fallback: () => "cached" });
    breaker.forceOpen();
    const answer: number | string = await cached.get("b")!.execute(() => 3);
    expect(answer).toBe("cached");
    const fetch = createResilientFetch({ fetch: async () => new Response("ok") });
    await fetch("https://api.example.com/");
    const origin: Promise<number> | undefined = fetch.registry.get("https://api.example.com")?.execute(() => 4);
    expect(await origin).toBe(4);
  });

  it("ResiliencePipeline.circuitBreaker is typed by what was given", () => {
    const built = new ResiliencePipeline({ circuitBreaker: { maxFailures: 3 } });
    const state: CircuitState = built.circuitBreaker.state;
    expect(state).toBe("closed");
    const own = new CircuitBreaker();
    const same: CircuitBreaker = new ResiliencePipeline({ circuitBreaker: own, retry: new RetryPolicy() }).circuitBreaker;
    expect(same).toBe(own);
    const none: undefined = new ResiliencePipeline({ retry: { maxAttempts: 2 } }).circuitBreaker;
    expect(none).toBeUndefined();
  });

  it("a breaker's CircuitOpenError is answered outside a pipeline with fallback()", async () => {
    const breaker = new CircuitBreaker();
    breaker.forceOpen();
    const resilient = new ResiliencePipeline({ circuitBreaker: breaker });
    const value: number | string = await fallback(() => resilient.execute(() => 1), "cached", { on: [CircuitOpenError] });
    expect(value).toBe("cached");
  });
});
