/**
 * One layering, chosen and explained (issue 14): the resilient fetch puts
 * the breaker inside the retry by default and takes `order` to put it
 * outside, as `ResiliencePipeline` does; bad options of every
 * sub-component are reported at once.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, createResilientFetch } from "../mod.ts";

/** A server that fails `failures` times in a row, then answers 200. */
function flaky(failures: number): { fetch: () => Promise<Response>; calls: () => number } {
  let calls = 0;
  return {
    fetch: async () => new Response(null, { status: ++calls <= failures ? 503 : 200 }),
    calls: () => calls,
  };
}

describe("createResilientFetch order", () => {
  it("by default every attempt is an outcome of the breaker: two failed attempts open a maxFailures: 2 breaker", async () => {
    const server = flaky(2);
    const fetch = createResilientFetch({
      fetch: server.fetch,
      retry: { maxAttempts: 3, baseDelayMs: 0, jitter: "none" },
      circuitBreaker: { maxFailures: 2 },
    });
    const error = await fetch("https://api.example.com/").catch((e: unknown) => e);
    expect((error as Error).name).toBe("CircuitOpenError");
    expect(server.calls()).toBe(2);
    expect(fetch.registry.get("https://api.example.com")!.state).toBe("open");
  });

  it("with the breaker outside the retry, a retried call is one outcome: the retry masks the failures", async () => {
    const server = flaky(2);
    const fetch = createResilientFetch({
      fetch: server.fetch,
      retry: { maxAttempts: 3, baseDelayMs: 0, jitter: "none" },
      circuitBreaker: { maxFailures: 2 },
      order: ["circuitBreaker", "retry"],
    });
    const response = await fetch("https://api.example.com/");
    expect(response.status).toBe(200);
    expect(server.calls()).toBe(3);
    const breaker = fetch.registry.get("https://api.example.com")!;
    expect(breaker.state).toBe("closed");
    expect(breaker.stats.successfulCalls).toBe(1);
    expect(breaker.stats.failedCalls).toBe(0);
  });

  it("with the breaker outside, an exhausted retry counts once", async () => {
    const server = flaky(100);
    const fetch = createResilientFetch({
      fetch: server.fetch,
      retry: { maxAttempts: 3, baseDelayMs: 0, jitter: "none" },
      circuitBreaker: { maxFailures: 2 },
      order: ["circuitBreaker", "retry"],
    });
    expect((await fetch("https://api.example.com/")).status).toBe(503);
    expect(server.calls()).toBe(3);
    const breaker = fetch.registry.get("https://api.example.com")!;
    expect(breaker.stats.failedCalls).toBe(1);
    expect(breaker.state).toBe("closed");
  });

  it("rejects an order that is not one of the two", () => {
    for (const order of [["retry"], ["retry", "retry"], ["timeout", "retry"], "retry"]) {
      let error: unknown;
      try {
        createResilientFetch({ order: order as never });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map((issue) => issue.field)).toEqual(["order"]);
    }
  });
});

describe("createResilientFetch bad sub-component options", () => {
  it("are all reported at once", () => {
    let error: unknown;
    try {
      createResilientFetch({
        circuitBreaker: { maxFailures: 0 },
        bulkhead: { maxConcurrent: -1 },
        retry: { maxAttempts: 0 },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.field).sort()).toEqual([
      "bulkhead.maxConcurrent",
      "circuitBreaker.maxFailures",
      "retry.maxAttempts",
    ]);
  });
});
