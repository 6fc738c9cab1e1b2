import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError } from "../mod.ts";
import { NowFailingClock as FlakyClock } from "./_support/flaky_clock.ts";
import { started } from "./_support/thrown.ts";


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

describe("CircuitBreaker, open, on a clock that throws while it refuses", () => {
  // With a signal (or a fallback, or a shared state) the refusal is built
  // past the argument checks, where the clock read is guarded. Without, the
  // hot refusal in execute itself is not (src/breaker/circuit_breaker.ts says why).
  it("execute with a signal rejects with the clock's error (before: it threw), and the breaker refuses as before once the clock works", async () => {
    const clock = new FlakyClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 100, clock });
    await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => {});
    expect(breaker.state).toBe("open");
    clock.failOn = 1;
    const refused = started(() => breaker.execute(async () => 1, new AbortController().signal));
    await expect(refused).rejects.toThrow("clock broken");
    expect(breaker.state).toBe("open");
    await expect(breaker.execute(async () => 1)).rejects.toBeInstanceOf(CircuitOpenError);
  });
});
