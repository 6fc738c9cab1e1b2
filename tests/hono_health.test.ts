import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type HealthReport, health, type HonoHealthOptions } from "../adapters/hono/mod.ts";
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  ConfigError,
  Heartbeat,
  InvalidArgumentError,
  MemoryStore,
  Watchdog,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

async function probe(options: HonoHealthOptions) {
  const hono = new Hono();
  hono.get("/health", health(options));
  const response = await hono.request("/health");
  expect(response.headers.get("content-type")).toBe("application/health+json");
  expect(response.headers.get("cache-control")).toBe("no-store");
  return { status: response.status, report: await response.json() as HealthReport };
}

describe("health handler (bulwark/hono)", () => {
  it("is a named middleware; with no check it passes (the process answers)", async () => {
    expect(health().name).toBe("health");
    expect(await probe({})).toEqual({ status: 200, report: { status: "pass", probe: "readiness", checks: {} } });
    expect((await probe({ probe: "liveness" })).report.probe).toBe("liveness");
  });

  it("heartbeat: pass while the last beat is recent, 503 once it is older than maxAgeMs or missing", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const heartbeat = new Heartbeat({ store, intervalMs: 10_000, clock });
    const missing = await probe({ heartbeat: { store, maxAgeMs: 30_000 }, clock });
    expect(missing.status).toBe(503);
    expect(missing.report.checks.heartbeat![0]).toMatchObject({ status: "fail", observedValue: null });
    await heartbeat.beat();
    await clock.advance(20_000);
    const fresh = await probe({ heartbeat: { store, maxAgeMs: 30_000 }, clock });
    expect(fresh.status).toBe(200);
    expect(fresh.report.checks.heartbeat).toEqual([
      expect.objectContaining({ status: "pass", observedValue: 20_000, observedUnit: "ms" }),
    ]);
    await clock.advance(10_001);
    const stale = await probe({ heartbeat: { store, maxAgeMs: 30_000 }, clock });
    expect(stale.status).toBe(503);
    expect(stale.report.status).toBe("fail");
    expect(stale.report.checks.heartbeat![0]!.observedValue).toBe(30_001);
    // A Heartbeat instance is read from its store under its key.
    await heartbeat.beat();
    expect((await probe({ heartbeat, clock })).status).toBe(200);
    // One without a store passes while running.
    const local = new Heartbeat({ intervalMs: 1_000, clock });
    expect((await probe({ heartbeat: local })).report.checks.heartbeat![0]).toMatchObject({ status: "fail", output: "not running" });
    await local.start();
    expect((await probe({ heartbeat: local })).status).toBe(200);
    await local.stop();
  });

  it("watchdog: 503 once it fired, 200 again after a ping; liveness and readiness alike", async () => {
    const clock = new ManualClock();
    const watchdog = new Watchdog({ name: "worker", timeoutMs: 5_000, clock }).start();
    await clock.advance(1_000);
    const live = await probe({ probe: "liveness", watchdog });
    expect(live.status).toBe(200);
    expect(live.report.checks.watchdog).toEqual([
      { status: "pass", componentId: "worker", observedValue: 1_000, observedUnit: "ms", output: "watching" },
    ]);
    await clock.advance(4_000);
    expect((await probe({ probe: "liveness", watchdog })).status).toBe(503);
    expect((await probe({ watchdog })).status).toBe(503);
    watchdog.ping();
    expect((await probe({ watchdog })).status).toBe(200);
    watchdog.shutdown();
    expect(clock.pending).toBe(0);
  });

  it("breakers: readiness fails while one is open or forced open (half-open passes); liveness ignores them", async () => {
    const clock = new ManualClock();
    const registry = new CircuitBreakerRegistry({ maxFailures: 1, resetTimeoutMs: 10_000, clock });
    registry.getOrCreate("db");
    registry.getOrCreate("payments").recordFailure();
    const ready = await probe({ breakers: registry });
    expect(ready.status).toBe(503);
    expect(ready.report.checks.circuitBreakers).toEqual([
      { status: "pass", componentId: "db", observedValue: "closed" },
      { status: "fail", componentId: "payments", observedValue: "open", output: "next probe in 10000 ms" },
    ]);
    expect(await probe({ probe: "liveness", breakers: registry })).toEqual({
      status: 200,
      report: { status: "pass", probe: "liveness", checks: {} },
    });
    await clock.advance(10_000);
    expect((await probe({ breakers: registry })).status).toBe(200);
    const list = [new CircuitBreaker({ name: "a", clock }), new CircuitBreaker({ name: "b", clock })];
    list[1]!.forceOpen();
    const listed = await probe({ breakers: list });
    expect(listed.status).toBe(503);
    expect(listed.report.checks.circuitBreakers!.map((check) => check.observedValue)).toEqual(["closed", "forced-open"]);
  });

  it("refuses bad options (ConfigError naming the field) and misuse (InvalidArgumentError)", () => {
    const thrown = (options: unknown) => {
      try {
        health(options as HonoHealthOptions);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const bad = thrown({ probe: "startup", heartbeat: { store: new MemoryStore(), maxAgeMs: 0 }, watchdog: {}, breakers: [{}], extra: 1 }) as ConfigError;
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.target).toBe("health");
    expect(bad.issues.map((issue) => issue.field).sort()).toEqual(["breakers", "extra", "heartbeat", "probe", "watchdog"]);
    for (const value of ["readiness", 1, null]) {
      const error = thrown(value) as InvalidArgumentError;
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.argument).toBe("options");
    }
  });
});
