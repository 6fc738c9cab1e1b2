// A smoke test on the real clock (setTimeout, performance.now), where timer
// granularity and early firings live: the queue must deliver about the
// configured rate, with one timer per wake-up (hand-over) or about one per
// waiter (self-wake). Generous bounds: this
// is not a speed target (docs/benchmarks.md has the measurements).
import { describe, expect, it } from "vitest";
import { type CancelTimer, type Clock, RateLimiter, systemClock } from "../mod.ts";

describe("queued acquire() on the real clock", () => {
  for (const wakeMode of ["handover", "self"] as const) {
    it(`${wakeMode}: 5,000 callers at 10,000/s are all granted well under 2 s, with the timers the mode takes`, async () => {
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
      const limiter = new RateLimiter({ rate: 10_000, perMs: 1_000, burst: 1, clock, wakeMode });
      limiter.tryAcquire();
      const start = performance.now();
      await Promise.all(Array.from({ length: 5_000 }, () => limiter.acquire()));
      const elapsed = performance.now() - start;
      expect(elapsed).toBeGreaterThan(480);
      expect(elapsed).toBeLessThan(2_000);
      // Hand-over: one per wake-up, and setTimeout wakes at most about once a
      // millisecond. Self-wake: one per waiter, plus at most one more for a
      // timer that fired early.
      expect(scheduled).toBeLessThanOrEqual(wakeMode === "handover" ? elapsed + 10 : 10_000);
      expect(limiter.waiting).toBe(0);
    }, 30_000);
  }
});
