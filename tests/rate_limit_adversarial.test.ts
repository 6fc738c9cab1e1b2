import { describe, expect, it } from "vitest";
import { KeyedRateLimiter, RateLimiter } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { NowFailingClock, ScheduleFailingClock as FlakyClock } from "./_support/flaky_clock.ts";
import { started } from "./_support/thrown.ts";
import { outcome, turns } from "./_support/promises.ts";

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

describe("a hand-over queue on a clock that fails to set its timer", () => {
  async function queued() {
    const clock = new FlakyClock();
    const limiter = new RateLimiter({ rate: 1, perMs: 100, burst: 1, clock, wakeMode: "handover" });
    expect(limiter.tryAcquire()).toBe(true);
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const waits = controllers.map((controller) => outcome(limiter.acquire({ signal: controller.signal })));
    await turns();
    expect(limiter.waiting).toBe(3);
    return { clock, limiter, controllers, waits };
  }

  async function stillWorks(clock: FlakyClock, limiter: RateLimiter): Promise<void> {
    expect(limiter.waiting).toBe(0);
    expect(clock.pending).toBe(0);
    const later = outcome(limiter.acquire());
    await clock.advance(1_000);
    await turns();
    expect(later).toEqual({ settled: true, value: undefined });
  }

  it("reset() that cannot re-arm the timer rejects the callers waiting with the clock's error (before: it threw, and they waited for good)", async () => {
    const { clock, limiter, waits } = await queued();
    clock.failAfter = 0;
    expect(() => limiter.reset()).not.toThrow();
    await turns();
    for (const wait of waits) {
      expect(wait.settled).toBe(true);
      expect((wait.error as Error).message).toBe("schedule failed");
    }
    await stillWorks(clock, limiter);
  });

  it("a grant whose next timer cannot be set rejects those still waiting with the clock's error", async () => {
    const { clock, limiter, waits } = await queued();
    clock.failAfter = 0;
    await clock.advance(100);
    await turns();
    expect(waits[0]).toEqual({ settled: true, value: undefined });
    for (const wait of waits.slice(1)) {
      expect(wait.settled).toBe(true);
      expect((wait.error as Error).message).toBe("schedule failed");
    }
    await stillWorks(clock, limiter);
  });
});

describe("a self-waking caller on a clock that fails to set its timer again", () => {
  // A wait longer than the longest timer runtimes allow (2^31 - 1 ms): the
  // caller's first timer fires early and is set again for the rest.
  const DAY = 86_400_000;

  it("the caller whose timer cannot be set again fails with the clock's error (before: it waited for good, the clock's error thrown from a timer callback); the others keep their times", async () => {
    const clock = new FlakyClock();
    const limiter = new RateLimiter({ rate: 1, perMs: 30 * DAY, burst: 1, clock, wakeMode: "self" });
    expect(limiter.tryAcquire()).toBe(true);
    const first = outcome(limiter.acquire());
    const second = outcome(limiter.acquire());
    await turns();
    expect(limiter.waiting).toBe(2);
    // Both first timers are capped; the first to fire cannot be set again.
    clock.failAfter = 0;
    await clock.advance(2 ** 31 - 1);
    await turns();
    expect(first.settled).toBe(true);
    expect((first.error as Error).message).toBe("schedule failed");
    expect(second.settled).toBe(false);
    expect(limiter.waiting).toBe(1);
    // The second keeps its reserved time (60 days in): it is granted then, not before.
    await clock.advance(60 * DAY - (2 ** 31 - 1) - 1);
    await turns();
    expect(second.settled).toBe(false);
    await clock.advance(1);
    await turns();
    expect(second).toEqual({ settled: true, value: undefined });
    expect(limiter.waiting).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe("acquire on a clock that cannot tell the time", () => {
  it("RateLimiter.acquire and KeyedRateLimiter.acquire reject with the clock's error (before: they threw), taking nothing", async () => {
    const clock = new NowFailingClock();
    const limiter = new RateLimiter({ rate: 1, perMs: 1_000, burst: 1, clock });
    const keyed = new KeyedRateLimiter({ rate: 1, perMs: 1_000, burst: 1, clock });
    clock.failOn = 1;
    await expect(started(() => limiter.acquire())).rejects.toThrow("clock broken");
    clock.failOn = 1;
    await expect(started(() => keyed.acquire("a"))).rejects.toThrow("clock broken");
    expect(keyed.size).toBe(0);
    // Nothing was taken: the one unit of each is still there.
    expect(limiter.tryAcquire()).toBe(true);
    expect(keyed.tryAcquire("a")).toBe(true);
  });
});
