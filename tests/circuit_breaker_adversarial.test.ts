import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { started } from "./_support/thrown.ts";

/** A {@link ManualClock} whose `now()` throws once, on its read number `failOn` from when it is set (1: the next). */
class FlakyClock extends ManualClock {
  failOn = 0;
  override now(): number {
    if (this.failOn > 0 && --this.failOn === 0) throw new Error("clock broken");
    return super.now();
  }
}

async function halfOpen(timed: boolean): Promise<{ clock: FlakyClock; breaker: CircuitBreaker }> {
  const clock = new FlakyClock();
  const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 100, halfOpenMaxWaitMs: 60_000, clock });
  // A success listener times every call: one more clock read at admission.
  if (timed) breaker.on("success", () => {});
  await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => {});
  await clock.advance(100);
  expect(breaker.state).toBe("half-open");
  return { clock, breaker };
}

describe("CircuitBreaker on a clock that throws while it admits a probe", () => {
  for (const timed of [false, true]) {
    for (const failOn of timed ? [1, 2] : [1]) {
      const label = `${timed ? "timed calls" : "untimed calls"}, clock read ${failOn} failing`;

      it(`execute (${label}): rejects with the clock's error, and the probe slot stays free`, async () => {
        const { clock, breaker } = await halfOpen(timed);
        clock.failOn = failOn;
        let ran = false;
        await expect(started(() => breaker.execute(async () => (ran = true)))).rejects.toThrow("clock broken");
        expect(ran).toBe(false);
        // Not refused as "probe slot busy": the next call is the probe, and closes the circuit.
        await expect(breaker.execute(async () => "probe")).resolves.toBe("probe");
        expect(breaker.state).toBe("closed");
      });

      it(`executeSync (${label}): throws the clock's error, and the probe slot stays free`, async () => {
        const { clock, breaker } = await halfOpen(timed);
        clock.failOn = failOn;
        let ran = false;
        expect(() => breaker.executeSync(() => (ran = true))).toThrow("clock broken");
        expect(ran).toBe(false);
        expect(breaker.executeSync(() => "probe")).toBe("probe");
        expect(breaker.state).toBe("closed");
        expect(() => breaker.executeSync(() => "again")).not.toThrow(CircuitOpenError);
      });
    }
  }
});
