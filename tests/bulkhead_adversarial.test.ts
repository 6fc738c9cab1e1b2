import { describe, expect, it } from "vitest";
import { Bulkhead } from "../mod.ts";
import { ScheduleFailingClock as FlakyClock } from "./_support/flaky_clock.ts";
import { deferred, outcome, turns } from "./_support/promises.ts";

describe("Bulkhead on a clock that fails to set a timer", () => {
  const cases = [
    { name: "queueTimeoutMs", options: { queueTimeoutMs: 50, pollMs: 0 }, failAfter: 0 },
    { name: "pollMs, on joining the queue", options: { pollMs: 5 }, failAfter: 0 },
    { name: "pollMs and queueTimeoutMs, the second timer", options: { pollMs: 5, queueTimeoutMs: 50 }, failAfter: 1 },
    { name: "pollMs, on a later poll", options: { pollMs: 5 }, failAfter: 1 },
  ];
  for (const { name, options, failAfter } of cases) {
    it(`${name}: the queued call fails with the clock's error and leaves the queue; no slot is lost`, async () => {
      const clock = new FlakyClock();
      const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 5, clock, ...options });
      const gate = deferred<string>();
      const first = outcome(bulkhead.execute(() => gate.promise));
      clock.failAfter = failAfter;
      const second = outcome(bulkhead.execute(async () => "second"));
      // The first poll finds the slot still taken, and its next timer fails.
      if (name.endsWith("later poll")) await clock.advance(5);
      await turns();
      expect(second.settled).toBe(true);
      expect((second.error as Error).message).toBe("schedule failed");
      expect(bulkhead.queued).toBe(0);
      const third = outcome(bulkhead.execute(async () => "third"));
      gate.resolve("first");
      await turns();
      await clock.advance(10);
      await turns();
      expect(first).toEqual({ settled: true, value: "first" });
      expect(third).toEqual({ settled: true, value: "third" });
      expect({ active: bulkhead.active, queued: bulkhead.queued, timers: clock.pending }).toEqual({ active: 0, queued: 0, timers: 0 });
    });
  }
});
