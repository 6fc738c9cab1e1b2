import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AlgorithmOptions, ConfigError, KeyedRateLimiter, RateLimitExceededError } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { thrown } from "./_support/thrown.ts";

describe("KeyedRateLimiter", () => {
  it("keeps one limit per key", () => {
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 2, perMs: 1_000, clock: new ManualClock() });
    expect([limiter.tryAcquire("alice"), limiter.tryAcquire("alice"), limiter.tryAcquire("alice")]).toEqual([
      true,
      true,
      false,
    ]);
    expect(limiter.tryAcquire("bob")).toBe(true);
    expect(limiter.available("bob")).toBe(1);
    expect(limiter.size).toBe(2);
    expect(limiter.consume("alice").retryAfterMs).toBe(500);
  });

  it("holds at most maxKeys, evicting the least recently used first", () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 5, windowMs: 1_000, maxKeys: 3, clock });
    for (const key of ["a", "b", "c"]) limiter.tryAcquire(key);
    limiter.tryAcquire("a"); // a is now the most recent; b the least
    limiter.tryAcquire("d");
    expect(["a", "b", "c", "d"].map((key) => limiter.has(key))).toEqual([true, false, true, true]);
    for (let i = 0; i < 10_000; i++) limiter.tryAcquire(`user-${i}`);
    expect(limiter.size).toBe(3);
    expect(limiter.stats.evictedKeys).toBe(10_001);
  });

  it("evicts keys idle for idleMs when new keys arrive, or on sweep()", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "gcra", rate: 10, perMs: 1_000, idleMs: 5_000, clock });
    limiter.tryAcquire("old");
    await clock.advance(3_000);
    limiter.tryAcquire("recent");
    await clock.advance(2_000);
    limiter.tryAcquire("new");
    expect([limiter.has("old"), limiter.has("recent"), limiter.has("new")]).toEqual([false, true, true]);
    await clock.advance(5_000);
    expect(limiter.sweep()).toBe(2);
    expect(limiter.size).toBe(0);
  });

  it("defaults idleMs to the time a drained limit takes to refill", () => {
    const bucket = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 10, perMs: 1_000, burst: 50 });
    expect(bucket.idleMs).toBe(5_000);
    expect(new KeyedRateLimiter({ algorithm: "sliding-window", limit: 3, windowMs: 700 }).idleMs).toBe(700);
  });

  const algorithms: AlgorithmOptions[] = [
    { algorithm: "token-bucket", rate: 3, perMs: 1_000, burst: 5 },
    { algorithm: "gcra", rate: 3, perMs: 1_000, burst: 5 },
    { algorithm: "sliding-window", limit: 5, windowMs: 1_000 },
    { algorithm: "sliding-window", limit: 5, windowMs: 1_000, approximate: true },
    { algorithm: "fixed-window", limit: 5, windowMs: 1_000 },
  ];

  for (const options of algorithms) {
    const label = `${options.algorithm}${"approximate" in options && options.approximate ? " (approximate)" : ""}`;

    it(`${label}: a key evicted while exhausted gets no fresh burst`, async () => {
      const clock = new ManualClock({ now: 10_000 });
      const limiter = new KeyedRateLimiter({ ...options, maxKeys: 2, clock });
      while (limiter.tryAcquire("victim"));
      const wait = limiter.timeUntilAvailable("victim");
      expect(wait).toBeGreaterThan(0);
      // Other keys push it out (CLOCK passes over it once: it was used).
      for (let i = 0; i < 10 && limiter.has("victim"); i++) limiter.tryAcquire(`other-${i}`);
      expect(limiter.has("victim")).toBe(false);
      expect(limiter.tryAcquire("victim")).toBe(false);
      expect(limiter.timeUntilAvailable("victim")).toBeGreaterThan(wait - 1e-9);
    });

    it(`${label}: under eviction pressure, a key never exceeds its limit`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ dt: fc.integer({ min: 0, max: 300 }), flood: fc.boolean(), cost: fc.integer({ min: 1, max: 3 }) }), {
            maxLength: 80,
          }),
          async (steps) => {
            const clock = new ManualClock();
            const limiter = new KeyedRateLimiter({ ...options, maxKeys: 4, idleMs: 10, clock });
            const granted: Array<[number, number]> = [];
            let other = 0;
            for (const { dt, flood, cost } of steps) {
              await clock.advance(dt);
              if (flood) for (let i = 0; i < 5; i++) limiter.tryAcquire(`other-${other++}`);
              if (limiter.tryAcquire("key", cost)) granted.push([clock.now(), cost]);
            }
            if (options.algorithm === "token-bucket" || options.algorithm === "gcra") {
              let units = 0;
              for (const [time, cost] of granted) {
                units += cost;
                expect(units).toBeLessThanOrEqual(5 + (3 * time) / 1_000 + 1e-9);
              }
            } else {
              // At most `limit` units in any window of windowMs (fixed: per aligned window).
              for (const [start] of granted) {
                const inWindow = options.algorithm === "fixed-window"
                  ? granted.filter(([t]) => Math.floor(t / 1_000) === Math.floor(start / 1_000))
                  : granted.filter(([t]) => t >= start && t - start < 1_000);
                const units = inWindow.reduce((sum, [, cost]) => sum + cost, 0);
                // The approximate counter may admit up to twice the limit across two windows, never more.
                expect(units).toBeLessThanOrEqual("approximate" in options && options.approximate ? 10 : 5);
              }
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it("never evicts a key with callers waiting", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 1, perMs: 1_000, maxKeys: 2, clock });
    limiter.tryAcquire("busy");
    const waiting = limiter.acquire("busy");
    for (let i = 0; i < 100; i++) limiter.tryAcquire(`k${i}`);
    expect(limiter.has("busy")).toBe(true);
    await clock.advance(1_000);
    await waiting;
    expect(limiter.stats.totalWaitedMs).toBe(1_000);
  });

  it("waits per key, FIFO, with timeouts decided up front", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 10, perMs: 1_000, burst: 1, clock });
    limiter.tryAcquire("a");
    const order: string[] = [];
    const waits = [limiter.acquire("a").then(() => order.push("a1")), limiter.acquire("a").then(() => order.push("a2"))];
    expect(limiter.tryAcquire("b")).toBe(true);
    const late = limiter.acquire("a", { timeoutMs: 250 });
    await expect(late).rejects.toBeInstanceOf(RateLimitExceededError);
    await clock.advance(200);
    await Promise.all(waits);
    expect(order).toEqual(["a1", "a2"]);
  });

  it("stays bounded with 200,000 distinct keys", () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 5, maxKeys: 1_000, clock });
    for (let i = 0; i < 200_000; i++) {
      limiter.tryAcquire(`ip-${i}`);
      if (limiter.size > 1_000) throw new Error(`size ${limiter.size} at ${i}`);
    }
    expect(limiter.size).toBe(1_000);
  });

  it("rejects a non-string key with a TypeError naming it, and bad options with a ConfigError", async () => {
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 1, windowMs: 1_000 });
    const error = thrown(() => limiter.tryAcquire(42 as never)) as TypeError;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("number 42");
    await expect(limiter.acquire({} as never)).rejects.toBeInstanceOf(TypeError);
    const config = thrown(() =>
      new KeyedRateLimiter({ algorithm: "token-bucket", rate: 0, maxKeys: 0, maxkeys: 3 } as never)
    ) as ConfigError;
    expect(config).toBeInstanceOf(ConfigError);
    expect(config.issues.map((i) => i.field).sort()).toEqual(["maxKeys", "maxkeys", "rate"]);
    expect(thrown(() => limiter.tryAcquire("k", 2))).toBeInstanceOf(RangeError);
  });

  it("reset(key) is the administrative way to a fresh limit", () => {
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 1, windowMs: 1_000, clock: new ManualClock() });
    limiter.tryAcquire("k");
    expect(limiter.tryAcquire("k")).toBe(false);
    limiter.reset("k");
    expect(limiter.tryAcquire("k")).toBe(true);
  });
});
