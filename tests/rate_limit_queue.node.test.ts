// A smoke test on the real clock (setTimeout, performance.now), where timer
// granularity and early firings live: the queue must deliver about the
// configured rate, with about one timer per waiter. Generous bounds: this
// is not a speed target (docs/benchmarks.md has the measurements).
import { describe, expect, it } from "vitest";
import { type CancelTimer, type Clock, RateLimiter, systemClock } from "../mod.ts";

describe("queued acquire() on the real clock", () => {
  it("5,000 callers at 10,000/s are all granted well under 2 s, with about one timer each", async () => {
    let scheduled = 0;
    const clock: Clock = {
      now: () => systemClock.now(),
      wallNow: () => systemClock.wallNow(),
      sleep: (ms, signal) => systemClock.sleep(ms, signal),
      schedule(callback: () => void, ms: number): CancelTimer {
        scheduled++;
        return systemClock.schedule(callback, ms);
      },
    };
    const limiter = new RateLimiter({ rate: 10_000, perMs: 1_000, burst: 1, clock });
    limiter.tryAcquire();
    const start = performance.now();
    await Promise.all(Array.from({ length: 5_000 }, () => limiter.acquire()));
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThan(480);
    expect(elapsed).toBeLessThan(2_000);
    // One per waiter, plus at most one more for a timer that fired early.
    expect(scheduled).toBeLessThanOrEqual(10_000);
    expect(limiter.waiting).toBe(0);
  }, 30_000);
});
