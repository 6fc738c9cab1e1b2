/**
 * Features the peers have (issue 14): a growing open period, the error that
 * opened the circuit, durations on events, a disabled breaker that records
 * nothing, and whole-ms `remainingMs`.
 */
import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError, type CircuitStateChange, ConfigError } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

const fail = (message = "down") => (): Promise<never> => Promise.reject(new Error(message));

describe("CircuitBreaker resetBackoff: a growing open period", () => {
  it("doubles the open period at each failed probe, up to maxDelayMs, and starts over once closed", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      maxFailures: 1,
      resetTimeoutMs: 1_000,
      resetBackoff: { maxDelayMs: 5_000 },
      clock,
    });
    const periods: number[] = [];
    await breaker.execute(fail()).catch(() => {});
    for (let i = 0; i < 5; i++) {
      periods.push(breaker.remainingMs);
      await clock.advance(breaker.remainingMs);
      expect(breaker.state).toBe("half-open");
      await breaker.execute(fail()).catch(() => {});
    }
    expect(periods).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    await clock.advance(5_000);
    expect(await breaker.execute(() => "ok")).toBe("ok");
    expect(breaker.state).toBe("closed");
    await breaker.execute(fail()).catch(() => {});
    expect(breaker.remainingMs).toBe(1_000);
  });

  it("takes a function of the opening's number, and reset() starts over too", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      maxFailures: 1,
      resetTimeoutMs: 100,
      resetBackoff: { backoff: (n) => n * 300 },
      clock,
    });
    breaker.recordFailure();
    expect(breaker.remainingMs).toBe(300);
    await clock.advance(300);
    breaker.recordFailure();
    expect(breaker.state).toBe("open");
    expect(breaker.remainingMs).toBe(600);
    breaker.reset();
    breaker.recordFailure();
    expect(breaker.remainingMs).toBe(300);
  });

  it("without resetBackoff every open period is resetTimeoutMs", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 1_000, clock });
    for (let i = 0; i < 3; i++) {
      breaker.recordFailure();
      expect(breaker.remainingMs).toBe(1_000);
      await clock.advance(1_000);
    }
  });

  it("rejects bad resetBackoff fields, naming them", () => {
    let error: unknown;
    try {
      new CircuitBreaker({ resetBackoff: { backoff: "cubic" as never, multiplier: 0 } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const fields = (error as ConfigError).issues.map((issue) => issue.field);
    expect(fields).toEqual(expect.arrayContaining(["resetBackoff.backoff", "resetBackoff.multiplier"]));
  });
});

describe("CircuitBreaker keeps the error that opened the circuit", () => {
  it("on the breaker, as the cause of CircuitOpenError, and on the open event", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 2 });
    const opened: CircuitStateChange[] = [];
    breaker.on("open", (change) => opened.push(change));
    await breaker.execute(fail("first")).catch(() => {});
    expect(breaker.openError).toBeUndefined();
    await breaker.execute(fail("second")).catch(() => {});
    expect((breaker.openError as Error).message).toBe("second");
    expect((opened[0]!.error as Error).message).toBe("second");
    const rejected = await breaker.execute(() => "x").catch((e: unknown) => e) as CircuitOpenError;
    expect(rejected).toBeInstanceOf(CircuitOpenError);
    expect(rejected.cause).toBe(breaker.openError);
    breaker.reset();
    expect(breaker.openError).toBeUndefined();
  });

  it("is the failure result when isResultFailure opened it, and nothing for forceOpen()", async () => {
    const breaker = new CircuitBreaker<never>({ maxFailures: 1, isResultFailure: (r) => r === 503 });
    await breaker.execute(() => 503);
    expect(breaker.openError).toBe(503);
    breaker.forceOpen();
    expect(breaker.openError).toBeUndefined();
    const rejected = await breaker.execute(() => 1).catch((e: unknown) => e) as CircuitOpenError;
    expect("cause" in rejected).toBe(false);
  });
});

describe("CircuitBreaker events carry durationMs", () => {
  it("on success and failure, measured on the breaker's clock", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock });
    const seen: Array<[string, number]> = [];
    breaker.on("success", (event) => seen.push(["success", event.durationMs]));
    breaker.on("failure", (event) => seen.push(["failure", event.durationMs]));
    const slowOk = breaker.execute(() => clock.sleep(250).then(() => "ok"));
    await clock.advance(250);
    await slowOk;
    const slowFail = breaker.execute(() => clock.sleep(40).then(() => Promise.reject(new Error("x"))));
    await clock.advance(40);
    await slowFail.catch(() => {});
    await breaker.execute(() => "now");
    breaker.recordFailure();
    expect(seen).toEqual([["success", 250], ["failure", 40], ["success", 0], ["failure", 0]]);
  });

  it("times calls only while someone listens", async () => {
    let reads = 0;
    const clock = new ManualClock();
    const counting = { now: () => (reads++, clock.now()), wallNow: () => clock.wallNow(), sleep: clock.sleep.bind(clock), schedule: clock.schedule.bind(clock) };
    const breaker = new CircuitBreaker({ clock: counting as never });
    await breaker.execute(() => "a");
    expect(reads).toBe(0);
    const off = breaker.on("success", () => {});
    await breaker.execute(() => "b");
    expect(reads).toBe(2);
    off();
    off();
    await breaker.execute(() => "c");
    expect(reads).toBe(2);
  });
});

describe("a disabled CircuitBreaker records nothing", () => {
  it("no stats, no success or failure events, no state change, whatever the calls do", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    const events: string[] = [];
    breaker.on("success", () => events.push("success"));
    breaker.on("failure", () => events.push("failure"));
    breaker.disable();
    const before = breaker.stats;
    expect(await breaker.execute(() => "ok")).toBe("ok");
    await breaker.execute(fail()).catch(() => {});
    expect(() => breaker.executeSync(() => {
      throw new Error("sync");
    })).toThrow("sync");
    expect(breaker.executeSync(() => 1)).toBe(1);
    breaker.recordFailure();
    breaker.recordSuccess();
    expect(breaker.stats).toEqual(before);
    expect(events).toEqual([]);
    expect(breaker.state).toBe("disabled");
  });
});

describe("CircuitOpenError.remainingMs", () => {
  it("is whole milliseconds, rounded up", () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 10_000, clock });
    breaker.recordFailure();
    void clock.advance(0.256);
    let error: unknown;
    try {
      breaker.executeSync(() => 1);
    } catch (e) {
      error = e;
    }
    expect((error as CircuitOpenError).remainingMs).toBe(10_000);
    expect((error as CircuitOpenError).message).toContain("in 10000 ms");
    expect(new CircuitOpenError("x", 0.2).remainingMs).toBe(1);
    expect(new CircuitOpenError("x", Infinity).remainingMs).toBe(Infinity);
  });
});
