/**
 * Half-open that cannot wedge (issue 14): a probe that never settles does
 * not hold the only slot for ever, and probes are judged by the slow-call
 * rule too.
 */
import { describe, expect, it } from "vitest";
import { CircuitBreaker, type CircuitProbeTimeoutEvent, CircuitOpenError, ConfigError, configure } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

const hang = (): Promise<never> => new Promise<never>(() => {});
const down = (): Promise<never> => Promise.reject(new Error("down"));

async function openAndHalfOpen(breaker: CircuitBreaker, clock: ManualClock): Promise<void> {
  await breaker.execute(down).catch(() => {});
  expect(breaker.state).toBe("open");
  await clock.advance(breaker.options.resetTimeoutMs);
}

describe("CircuitBreaker half-open bound (halfOpenMaxWaitMs)", () => {
  it("defaults to 60 s: a hung probe does not wedge a breaker nobody configured", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 1_000, clock });
    expect(breaker.options.halfOpenMaxWaitMs).toBe(60_000);
    await openAndHalfOpen(breaker, clock);
    void breaker.execute(hang);
    expect(await breaker.execute(() => "x").catch((e: unknown) => e)).toBeInstanceOf(CircuitOpenError);
    await clock.advance(59_999);
    expect(breaker.state).toBe("half-open");
    await clock.advance(1);
    expect(breaker.state).toBe("open");
    await clock.advance(1_000);
    expect(await breaker.execute(() => "probe")).toBe("probe");
    expect(breaker.state).toBe("closed");
  });

  it("is still answered an hour later (before: refused for ever)", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 1_000, clock });
    await openAndHalfOpen(breaker, clock);
    void breaker.execute(hang);
    await clock.advance(3_600_000);
    expect(await breaker.execute(() => "ok")).toBe("ok");
  });

  it("emits probeTimeout, then open, once; the hung probe's late outcome changes nothing", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 1_000, halfOpenMaxWaitMs: 5_000, clock });
    const seen: string[] = [];
    let payload: CircuitProbeTimeoutEvent | undefined;
    breaker.on("probeTimeout", (event) => {
      payload = event;
      seen.push(`probeTimeout:${breaker.state}`);
    });
    breaker.on("open", () => seen.push("open"));
    await openAndHalfOpen(breaker, clock);
    seen.length = 0;
    let settle!: (value: string) => void;
    const probe = breaker.execute(() => new Promise<string>((resolve) => (settle = resolve)));
    await clock.advance(5_000);
    expect(breaker.state).toBe("open");
    expect(seen).toEqual(["probeTimeout:half-open", "open"]);
    expect(payload).toEqual({ name: "circuit-breaker", probesInFlight: 1, waitedMs: 5_000 });
    settle("late");
    expect(await probe).toBe("late");
    expect(breaker.state).toBe("open");
  });

  it("rejects a bad value naming the field", () => {
    expect(() => new CircuitBreaker({ halfOpenMaxWaitMs: 0 })).toThrow(ConfigError);
    expect(() => new CircuitBreaker({ halfOpenMaxWaitMs: -1 })).toThrow(/halfOpenMaxWaitMs/);
  });

  it("takes its default from configure()", () => {
    configure({ circuitBreaker: { halfOpenMaxWaitMs: 1_234 } });
    try {
      expect(new CircuitBreaker().options.halfOpenMaxWaitMs).toBe(1_234);
    } finally {
      configure({});
    }
  });
});

describe("CircuitBreaker probes and the slow-call rule", () => {
  it("a slow probe success reopens a breaker that trips on slow calls", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      windowSize: 2,
      minimumThroughput: 2,
      slowCallDurationMs: 100,
      slowCallRateThreshold: 1,
      resetTimeoutMs: 1_000,
      clock,
    });
    const slow = () => clock.sleep(200).then(() => "slow");
    for (let i = 0; i < 2; i++) {
      const call = breaker.execute(slow);
      await clock.advance(200);
      await call;
    }
    expect(breaker.state).toBe("open");
    await clock.advance(1_000);
    const probe = breaker.execute(slow);
    await clock.advance(200);
    expect(await probe).toBe("slow");
    expect(breaker.state).toBe("open");
    await clock.advance(1_000);
    expect(await breaker.execute(() => "fast")).toBe("fast");
    expect(breaker.state).toBe("closed");
  });
});
