import { afterEach, describe, expect, it } from "vitest";
import {
  configure,
  ConfigError,
  Heartbeat,
  InvalidArgumentError,
  MemoryStore,
  ResilienceError,
  Watchdog,
  watchdogContext,
  WatchdogError,
  WatchdogTimeoutError,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

describe("Watchdog", () => {
  afterEach(() => configure({}));

  it("fires once per stall, after timeoutMs without a ping, not before", async () => {
    const clock = new ManualClock();
    let fired = 0;
    const watchdog = new Watchdog({ timeoutMs: 5_000, onTimeout: () => void fired++, clock }).start();
    await clock.advance(4_999);
    expect(fired).toBe(0);
    await clock.advance(1);
    expect(fired).toBe(1);
    expect(watchdog.isTriggered).toBe(true);
    await clock.advance(60_000);
    expect(fired).toBe(1);
    expect(clock.pending).toBe(0);
    watchdog.stop();
  });

  it("pings push the deadline back; a ping after a stall re-arms it for the next one", async () => {
    const clock = new ManualClock();
    let fired = 0;
    const watchdog = new Watchdog({ timeoutMs: 2_000, onTimeout: () => void fired++, clock }).start();
    for (let i = 0; i < 10; i++) {
      await clock.advance(1_500);
      watchdog.ping();
    }
    expect(fired).toBe(0);
    expect(watchdog.stats.pingsTotal).toBe(10);
    await clock.advance(2_000);
    expect(fired).toBe(1);
    watchdog.ping();
    expect(watchdog.isTriggered).toBe(false);
    await clock.advance(1_999);
    expect(fired).toBe(1);
    await clock.advance(1);
    expect(fired).toBe(2);
    expect(watchdog.stats.timeoutsTriggered).toBe(2);
    watchdog.stop();
    expect(clock.pending).toBe(0);
  });

  it("ping() arms no timer: one timer whatever the number of pings", async () => {
    const clock = new ManualClock();
    const watchdog = new Watchdog({ timeoutMs: 1_000, clock }).start();
    for (let i = 0; i < 1_000; i++) watchdog.ping();
    expect(clock.pending).toBe(1);
    watchdog.stop();
    expect(clock.pending).toBe(0);
  });

  it("an async onTimeout is awaited by asyncDispose; a throwing one goes to onAlert", async () => {
    const clock = new ManualClock();
    const alerts: string[] = [];
    let finished = false;
    {
      await using watchdog = new Watchdog({
        timeoutMs: 1_000,
        onTimeout: async () => {
          await clock.sleep(10);
          finished = true;
          throw new Error("callback broke");
        },
        onAlert: (channel, message) => void alerts.push(`${channel}: ${message}`),
        name: "worker",
        clock,
      }).start();
      await clock.advance(1_000);
      const disposed = watchdog[Symbol.asyncDispose]();
      await clock.advance(10);
      await disposed;
    }
    expect(finished).toBe(true);
    expect(alerts[0]).toMatch(/^watchdog: Watchdog 'worker' timed out: no activity for 1000 ms/);
    expect(alerts[1]).toMatch(/^error: .*callback broke/);
  });

  it("stats, isRunning, msSincePing, reset(), shutdown()", async () => {
    const clock = new ManualClock({ now: 100 });
    const watchdog = new Watchdog({ timeoutMs: 10_000, clock });
    expect(watchdog.stats).toEqual({ pingsTotal: 0, timeoutsTriggered: 0, lastPingTime: undefined, startTime: undefined, uptimeMs: 0 });
    watchdog.start();
    expect(watchdog.isRunning).toBe(true);
    expect(() => watchdog.start()).toThrow(WatchdogError);
    await clock.advance(3_000);
    expect(watchdog.msSincePing).toBe(3_000);
    watchdog.ping();
    expect(watchdog.stats).toMatchObject({ pingsTotal: 1, lastPingTime: 3_100, startTime: 100, uptimeMs: 3_000 });
    await clock.advance(10_000);
    expect(watchdog.isTriggered).toBe(true);
    watchdog.reset();
    expect(watchdog.isTriggered).toBe(false);
    expect(watchdog.msSincePing).toBe(0);
    expect(watchdog.stats.pingsTotal).toBe(1);
    watchdog.shutdown();
    expect(watchdog.isShutdown).toBe(true);
    expect(watchdog.isRunning).toBe(false);
    expect(() => watchdog.start()).toThrow(WatchdogError);
    expect(clock.pending).toBe(0);
  });

  it("clamps timeoutMs to [1 s, 1 h] as the seeds do", () => {
    expect(new Watchdog({ timeoutMs: 1 }).timeoutMs).toBe(1_000);
    expect(new Watchdog({ timeoutMs: 10 * 3_600_000 }).timeoutMs).toBe(3_600_000);
    expect(new Watchdog().timeoutMs).toBe(30_000);
    configure({ watchdog: { timeoutMs: 12_000 } });
    expect(new Watchdog().timeoutMs).toBe(12_000);
  });

  it("refuses negative, NaN and infinite timeouts and non-function callbacks with a ConfigError", () => {
    for (const timeoutMs of [-1, 0, Number.NaN, Infinity]) {
      expect(() => new Watchdog({ timeoutMs })).toThrow(ConfigError);
    }
    let caught: unknown;
    try {
      new Watchdog({ onTimeout: "restart" as never, name: "", raiseOnTimeout: 1 as never });
    } catch (error) {
      caught = error;
    }
    expect((caught as ConfigError).issues.map((i) => i.field).sort()).toEqual(["name", "onTimeout", "raiseOnTimeout"]);
    expect(() => new Watchdog(null as never)).toThrow(InvalidArgumentError);
  });

  it("using: disposing stops the timer", async () => {
    const clock = new ManualClock();
    {
      using watchdog = new Watchdog({ clock }).start();
      expect(watchdog.isRunning).toBe(true);
      expect(clock.pending).toBe(1);
    }
    expect(clock.pending).toBe(0);
  });
});

describe("watchdogContext", () => {
  it("with raiseOnTimeout, leaving the block after a stall throws WatchdogTimeoutError with inactiveMs", async () => {
    const clock = new ManualClock();
    let caught: unknown;
    try {
      using watchdog = watchdogContext({ timeoutMs: 2_000, raiseOnTimeout: true, name: "batch", clock });
      watchdog.ping();
      await clock.advance(2_500);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(WatchdogTimeoutError);
    expect(caught).toBeInstanceOf(ResilienceError);
    expect((caught as WatchdogTimeoutError).inactiveMs).toBe(2_000);
    expect((caught as WatchdogTimeoutError).watchdogName).toBe("batch");
    expect((caught as WatchdogTimeoutError).code).toBe("ERR_WATCHDOG_TIMEOUT");
    expect(clock.pending).toBe(0);
  });

  it("without a stall, or without raiseOnTimeout, leaving the block is quiet", async () => {
    const clock = new ManualClock();
    {
      using watchdog = watchdogContext({ timeoutMs: 2_000, raiseOnTimeout: true, clock });
      await clock.advance(1_500);
      watchdog.ping();
      await clock.advance(1_500);
    }
    let fired = 0;
    {
      using _watchdog = watchdogContext({ timeoutMs: 1_000, onTimeout: () => void fired++, clock });
      await clock.advance(5_000);
    }
    expect(fired).toBe(1);
    expect(clock.pending).toBe(0);
  });
});

describe("Watchdog.fromHeartbeat", () => {
  it("fires when the watched heartbeat goes stale, and again after it recovers and stalls again", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const heartbeat = new Heartbeat({ store, intervalMs: 2_000, clock });
    await heartbeat.start();
    const alerts: string[] = [];
    let fired = 0;
    const watchdog = Watchdog.fromHeartbeat(store, {
      maxAgeMs: 10_000,
      onTimeout: () => void fired++,
      onAlert: (_c, message) => void alerts.push(message),
      clock,
    }).start();
    await clock.advance(60_000);
    expect(fired).toBe(0);
    await heartbeat.stop();
    await clock.advance(15_000);
    expect(fired).toBe(1);
    expect(watchdog.isTriggered).toBe(true);
    await clock.advance(30_000);
    expect(fired).toBe(1);
    await heartbeat.start();
    await clock.advance(5_000);
    expect(watchdog.isTriggered).toBe(false);
    await heartbeat.stop();
    await clock.advance(20_000);
    expect(fired).toBe(2);
    expect(alerts[0]).toMatch(/no activity for 1[0-9]{4} ms/);
    watchdog.stop();
    await heartbeat.shutdown();
    expect(clock.pending).toBe(0);
  });

  it("a missing or garbage heartbeat is a stall, with the reason in the alert", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    await store.set("heartbeat", { timestamp: "yesterday-ish" });
    const alerts: string[] = [];
    const watchdog = Watchdog.fromHeartbeat(store, { maxAgeMs: 4_000, onAlert: (_c, m) => void alerts.push(m), clock }).start();
    await clock.advance(2_000);
    expect(watchdog.isTriggered).toBe(true);
    expect(alerts[0]).toContain("not a heartbeat state");
    watchdog.stop();
  });

  it("checks every maxAgeMs / 2 by default, or every checkIntervalMs", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    let reads = 0;
    const counting = new Proxy(store, {
      get(target, property, receiver) {
        if (property === "get") reads++;
        return Reflect.get(target, property, receiver);
      },
    });
    const watchdog = Watchdog.fromHeartbeat(counting, { maxAgeMs: 10_000, clock }).start();
    reads = 0;
    await clock.advance(20_000);
    expect(reads).toBe(4);
    watchdog.stop();
    reads = 0;
    const often = Watchdog.fromHeartbeat(counting, { maxAgeMs: 10_000, checkIntervalMs: 1_000, clock }).start();
    reads = 0;
    await clock.advance(10_000);
    expect(reads).toBe(10);
    often.stop();
  });

  it("refuses a non-store and bad intervals", () => {
    const store = new MemoryStore();
    expect(() => Watchdog.fromHeartbeat("/tmp/x" as never)).toThrow(WatchdogError);
    expect(() => Watchdog.fromHeartbeat(store, { maxAgeMs: -1 })).toThrow(ConfigError);
    expect(() => Watchdog.fromHeartbeat(store, { checkIntervalMs: Number.NaN })).toThrow(ConfigError);
  });
});
