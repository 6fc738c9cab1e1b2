import { describe, expect, it } from "vitest";
import { KeyedRateLimiter } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

describe("KeyedRateLimiter with a signal already aborted", () => {
  it("refuses the call with the reason, and adds no key nor evicts one", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ rate: 1, perMs: 1_000, burst: 1, maxKeys: 1, clock });
    expect(limiter.tryAcquire("a")).toBe(true);
    const reason = new Error("gone");
    const controller = new AbortController();
    controller.abort(reason);
    await expect(limiter.acquire("b", { signal: controller.signal })).rejects.toBe(reason);
    expect(limiter.has("a")).toBe(true);
    expect(limiter.has("b")).toBe(false);
    expect(limiter.stats).toMatchObject({ keys: 1, evictedKeys: 0, totalAcquired: 1, totalRejected: 0 });
    // "a" still holds its spent budget.
    expect(limiter.tryAcquire("a")).toBe(false);
    expect(clock.pending).toBe(0);
  });
});
