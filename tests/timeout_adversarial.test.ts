import { describe, expect, it } from "vitest";
import { type CancelTimer, type TimeoutError, TimeoutPolicy } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { outcome, turns } from "./_support/promises.ts";

/** A {@link ManualClock} whose `schedule` throws the next `failures` times it is called. */
class FlakyClock extends ManualClock {
  failures = 0;
  override schedule(callback: () => void, ms: number): CancelTimer {
    if (this.failures > 0) {
      this.failures--;
      throw new Error("schedule failed");
    }
    return super.schedule(callback, ms);
  }
}

/** An operation that settles only when its signal aborts, with the reason. */
const untilAborted = ({ signal }: { signal: AbortSignal }) =>
  new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

describe("TimeoutPolicy on a clock that fails to set a timer", () => {
  for (const strategy of ["cooperative", "aggressive"] as const) {
    it(`${strategy}: the call whose deadline cannot be armed fails with the clock's error; the others keep theirs`, async () => {
      const clock = new FlakyClock();
      const policy = new TimeoutPolicy({ timeoutMs: 100, strategy, clock });
      let timeouts = 0;
      policy.on("timeout", () => timeouts++);
      clock.failures = 1;
      // The aggressive strategy rejects without the operation's help: the second call ignores its signal.
      const calls = [
        outcome(policy.execute(untilAborted)),
        outcome(policy.execute(strategy === "aggressive" ? () => new Promise<never>(() => {}) : untilAborted)),
        outcome(policy.execute(untilAborted)),
      ];
      await turns();
      // The first of the burst met the broken clock: it failed at once, nothing rejected unhandled.
      expect(calls[0]).toMatchObject({ settled: true });
      expect((calls[0]!.error as Error).message).toBe("schedule failed");
      expect(calls[1]!.settled).toBe(false);
      expect(calls[2]!.settled).toBe(false);
      expect(clock.pending).toBe(2);
      await clock.advance(100);
      await turns();
      for (const call of calls.slice(1)) {
        expect(call.settled).toBe(true);
        expect((call.error as TimeoutError).name).toBe("TimeoutError");
      }
      expect(timeouts).toBe(2);
      expect(clock.pending).toBe(0);
      // And the policy keeps working on the clock.
      const late = outcome(policy.execute(untilAborted));
      await turns();
      await clock.advance(100);
      await turns();
      expect((late.error as TimeoutError).name).toBe("TimeoutError");
    });
  }

  it("the signal read after the clock failed is aborted with the clock's error", async () => {
    const clock = new FlakyClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    clock.failures = 1;
    let read: AbortSignal | undefined;
    const call = outcome(policy.execute(async (context) => {
      await turns(6);
      read = context.signal;
      return "done";
    }));
    await turns(20);
    expect(read?.aborted).toBe(true);
    expect((read?.reason as Error).message).toBe("schedule failed");
    // Cooperative: an operation that completes anyway keeps its value, as after a deadline.
    expect(call).toEqual({ settled: true, value: "done" });
    expect(clock.pending).toBe(0);
  });
});
