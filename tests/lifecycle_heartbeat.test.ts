import { afterEach, describe, expect, it } from "vitest";
import {
  configure,
  ConfigError,
  Heartbeat,
  HeartbeatError,
  type HeartbeatState,
  InvalidArgumentError,
  type Json,
  MemoryStore,
  parseHeartbeatState,
  ResilienceError,
  type Store,
  StoreError,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

/** A MemoryStore whose writes fail while `failing` is set. */
function flakyStore(clock: ManualClock): { store: Store; fail(on: boolean): void; writes(): number } {
  const inner = new MemoryStore({ clock });
  let failing = false;
  let writes = 0;
  const store: Store = Object.assign(Object.create(inner) as Store, {
    name: "flaky",
    set<V extends Json>(key: string, value: V) {
      writes++;
      if (failing) return Promise.reject(new StoreError("ERR_STORE", "flaky", "set", key, "disk full"));
      return inner.set(key, value);
    },
    get: (key: string) => inner.get(key),
  });
  return { store, fail: (on) => void (failing = on), writes: () => writes };
}

describe("Heartbeat", () => {
  afterEach(() => configure({}));

  it("writes a beat at start and every intervalMs: ISO 8601 UTC timestamp, pid, hostname, metadata", async () => {
    const clock = new ManualClock({ wallNow: Date.UTC(2026, 0, 12, 10, 0, 0) });
    const store = new MemoryStore({ clock });
    const beats: HeartbeatState[] = [];
    const heartbeat = new Heartbeat({
      store,
      intervalMs: 10_000,
      metadata: { version: "1.0" },
      pid: 1234,
      hostname: "myhost",
      onBeat: (state) => void beats.push(state),
      clock,
    });
    await heartbeat.start();
    expect(heartbeat.isRunning).toBe(true);
    expect(await Heartbeat.readState(store)).toEqual({
      timestamp: "2026-01-12T10:00:00.000Z",
      pid: 1234,
      hostname: "myhost",
      metadata: { version: "1.0" },
    });
    await clock.advance(9_999);
    expect(beats.length).toBe(0);
    await clock.advance(1);
    expect(beats.map((b) => b.timestamp)).toEqual(["2026-01-12T10:00:10.000Z"]);
    await clock.advance(20_000);
    expect(beats.length).toBe(3);
    expect((await Heartbeat.readState(store))?.timestamp).toBe("2026-01-12T10:00:30.000Z");
    await heartbeat.stop();
    expect(clock.pending).toBe(0);
  });

  it("pid and hostname are null where not given (browsers, Workers)", async () => {
    const store = new MemoryStore();
    const state = await new Heartbeat({ store }).beat();
    expect(state.pid).toBeNull();
    expect(state.hostname).toBeNull();
    expect(state.metadata).toEqual({});
  });

  it("start() twice rejects with HeartbeatError; stop() is idempotent; a stopped heartbeat starts again", async () => {
    const clock = new ManualClock();
    const heartbeat = new Heartbeat({ store: new MemoryStore({ clock }), clock });
    await heartbeat.start();
    await expect(heartbeat.start()).rejects.toBeInstanceOf(HeartbeatError);
    await heartbeat.stop();
    await heartbeat.stop();
    expect(heartbeat.isRunning).toBe(false);
    expect(clock.pending).toBe(0);
    await heartbeat.start();
    expect(clock.pending).toBe(1);
    await heartbeat.shutdown();
    expect(heartbeat.isShutdown).toBe(true);
    await expect(heartbeat.start()).rejects.toThrow(/shut down/);
    expect(clock.pending).toBe(0);
  });

  it("an unwritable store fails at start() with HeartbeatError (the store's error as cause), and is not running", async () => {
    const clock = new ManualClock();
    const flaky = flakyStore(clock);
    flaky.fail(true);
    const heartbeat = new Heartbeat({ store: flaky.store, clock });
    const error = await heartbeat.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeartbeatError);
    expect(error).toBeInstanceOf(ResilienceError);
    expect((error as HeartbeatError).code).toBe("ERR_HEARTBEAT");
    expect((error as HeartbeatError).cause).toBeInstanceOf(StoreError);
    expect((error as Error).message).toContain("disk full");
    expect(heartbeat.isRunning).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it("a failed beat in the loop calls onMissedBeat and the loop goes on", async () => {
    const clock = new ManualClock();
    const flaky = flakyStore(clock);
    const missed: HeartbeatError[] = [];
    const alerts: string[] = [];
    let beats = 0;
    const heartbeat = new Heartbeat({
      store: flaky.store,
      intervalMs: 1_000,
      onMissedBeat: (error) => void missed.push(error),
      onAlert: (channel) => void alerts.push(channel),
      onBeat: () => void beats++,
      clock,
    });
    await heartbeat.start();
    flaky.fail(true);
    await clock.advance(3_000);
    expect(missed.length).toBe(3);
    expect(missed[0]).toBeInstanceOf(HeartbeatError);
    expect(alerts).toEqual(["heartbeat", "heartbeat", "heartbeat"]);
    flaky.fail(false);
    await clock.advance(2_000);
    expect(beats).toBe(2);
    expect(flaky.writes()).toBe(6);
    expect(heartbeat.isRunning).toBe(true);
    await heartbeat.stop();
  });

  it("callbacks that throw or reject never kill the loop; their errors go to onAlert", async () => {
    const clock = new ManualClock();
    const alerts: string[] = [];
    let beats = 0;
    const heartbeat = new Heartbeat({
      store: new MemoryStore({ clock }),
      intervalMs: 1_000,
      onBeat: async () => {
        beats++;
        throw new Error("onBeat broke");
      },
      onAlert: (channel, message) => void alerts.push(`${channel}: ${message}`),
      clock,
    });
    await heartbeat.start();
    await clock.advance(3_000);
    expect(beats).toBe(3);
    expect(alerts.length).toBe(3);
    expect(alerts[0]).toContain("onBeat broke");
    await heartbeat.stop();
  });

  it("polls target.isDead each beat: onTargetDead fires once per death", async () => {
    const clock = new ManualClock();
    const target = { isDead: false };
    let deaths = 0;
    const heartbeat = new Heartbeat({
      store: new MemoryStore({ clock }),
      intervalMs: 1_000,
      target,
      onTargetDead: () => void deaths++,
      clock,
    });
    expect(heartbeat.target).toBe(target);
    await heartbeat.start();
    await clock.advance(2_000);
    target.isDead = true;
    await clock.advance(5_000);
    expect(deaths).toBe(1);
    target.isDead = false;
    await clock.advance(1_000);
    target.isDead = true;
    await clock.advance(3_000);
    expect(deaths).toBe(2);
    await heartbeat.stop();
  });

  it("await using shuts it down", async () => {
    const clock = new ManualClock();
    let outer: Heartbeat | undefined;
    {
      await using heartbeat = new Heartbeat({ store: new MemoryStore({ clock }), clock });
      outer = heartbeat;
      await heartbeat.start();
    }
    expect(outer.isShutdown).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("stop() during a beat in flight: no beat is scheduled after it", async () => {
    const clock = new ManualClock();
    let release: (() => void) | undefined;
    const inner = new MemoryStore({ clock });
    let slow = false;
    const store: Store = Object.assign(Object.create(inner) as Store, {
      set<V extends Json>(key: string, value: V) {
        if (!slow) return inner.set(key, value);
        return new Promise((resolve) => (release = () => resolve(inner.set(key, value))));
      },
    });
    const heartbeat = new Heartbeat({ store, intervalMs: 1_000, clock });
    await heartbeat.start();
    slow = true;
    await clock.advance(1_000);
    const stopped = heartbeat.stop();
    release!();
    await stopped;
    await clock.flush();
    expect(clock.pending).toBe(0);
  });

  it("stop() during start()'s first beat waits for that write: nothing lands after shutdown() resolves", async () => {
    const clock = new ManualClock();
    const inner = new MemoryStore({ clock });
    let release: (() => void) | undefined;
    const store: Store = Object.assign(Object.create(inner) as Store, {
      set<V extends Json>(key: string, value: V) {
        return new Promise((resolve) => (release = () => resolve(inner.set(key, value))));
      },
    });
    const heartbeat = new Heartbeat({ store, intervalMs: 1_000, clock });
    const starting = heartbeat.start();
    let shut = false;
    const shutting = heartbeat.shutdown().then(() => void (shut = true));
    await clock.flush();
    expect(shut).toBe(false);
    release!();
    await shutting;
    await starting;
    // Once shutdown() has resolved, the heartbeat wrote everything it ever will.
    expect(await inner.get("heartbeat")).not.toBe(undefined);
    await inner.delete("heartbeat");
    await clock.advance(5_000);
    expect(await inner.get("heartbeat")).toBe(undefined);
    expect(heartbeat.isRunning).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it("stop() and shutdown() from the heartbeat's own callbacks settle, and end the loop", async () => {
    const clock = new ManualClock();
    const target = { isDead: false };
    const heartbeat: Heartbeat = new Heartbeat({
      store: new MemoryStore({ clock }),
      intervalMs: 1_000,
      target,
      onTargetDead: () => heartbeat.shutdown(),
      clock,
    });
    await heartbeat.start();
    target.isDead = true;
    await clock.advance(1_000);
    expect(heartbeat.isShutdown).toBe(true);
    expect(heartbeat.isRunning).toBe(false);
    expect(clock.pending).toBe(0);
    let stopped = false;
    const again: Heartbeat = new Heartbeat({
      store: new MemoryStore({ clock }),
      intervalMs: 1_000,
      onBeat: async () => {
        await again.stop();
        stopped = true;
      },
      clock,
    });
    await again.start();
    await clock.advance(1_000);
    expect(stopped).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("alarm(): re-arms intervalMs ahead, then beats; a failed beat still re-arms; nothing after shutdown (Durable Object alarms)", async () => {
    const clock = new ManualClock({ wallNow: 1_000_000 });
    const flaky = flakyStore(clock);
    const alarms: number[] = [];
    const storage = { setAlarm: (at: number) => void alarms.push(at) };
    const missed: HeartbeatError[] = [];
    const heartbeat = new Heartbeat({ store: flaky.store, intervalMs: 5_000, onMissedBeat: (e) => void missed.push(e), clock });
    await heartbeat.alarm(storage);
    expect(alarms).toEqual([1_005_000]);
    expect(await Heartbeat.isAlive(flaky.store, 1_000, { clock })).toBe(true);
    await clock.advance(5_000);
    flaky.fail(true);
    await heartbeat.alarm(storage);
    expect(alarms).toEqual([1_005_000, 1_010_000]);
    expect(missed.length).toBe(1);
    await heartbeat.shutdown();
    await heartbeat.alarm(storage);
    expect(alarms.length).toBe(2);
    await expect(heartbeat.alarm({} as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    const failing = new Heartbeat({ store: new MemoryStore({ clock }), clock });
    await expect(failing.alarm({ setAlarm: () => Promise.reject(new Error("storage down")) })).rejects.toThrow("storage down");
    expect(clock.pending).toBe(0);
  });

  it("intervalMs from configure(); negative, NaN and zero intervals are ConfigErrors", () => {
    configure({ heartbeat: { intervalMs: 2_500 } });
    expect(new Heartbeat().intervalMs).toBe(2_500);
    for (const intervalMs of [-1, 0, Number.NaN, Infinity]) {
      expect(() => new Heartbeat({ intervalMs })).toThrow(ConfigError);
    }
  });

  it("refuses bad options, naming each field", () => {
    let caught: unknown;
    try {
      new Heartbeat({
        store: "/tmp/x" as never,
        onMissedBeat: 1 as never,
        metadata: [] as never,
        target: 5 as never,
        pid: 1.5,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues.map((i) => i.field).sort()).toEqual(
      ["metadata", "onMissedBeat", "pid", "store", "target"],
    );
    expect(() => new Heartbeat("x" as never)).toThrow(InvalidArgumentError);
  });

  it("the core heartbeat refuses stateFile, pointing at bulwark/fs", () => {
    expect(() => new Heartbeat({ stateFile: "/tmp/app.heartbeat" })).toThrow(/bulwark\/fs/);
  });
});

describe("Heartbeat.check, isAlive, readState", () => {
  it("alive within maxAgeMs, stale after, with one line saying why", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    await new Heartbeat({ store, pid: 7, hostname: "box", clock }).beat();
    await clock.advance(30_000);
    const fresh = await Heartbeat.check(store, 30_000, { clock });
    expect(fresh.alive).toBe(true);
    expect(fresh.ageMs).toBe(30_000);
    expect(fresh.reason).toMatch(/^alive: last beat 30\.0 s ago at .* \(max 30\.0 s\), pid 7 on box$/);
    await clock.advance(1);
    const stale = await Heartbeat.check(store, 30_000, { clock });
    expect(stale.alive).toBe(false);
    expect(stale.reason).toMatch(/^stale: last beat 30\.0 s ago/);
    expect(await Heartbeat.isAlive(store, 30_000, { clock })).toBe(false);
    expect(await Heartbeat.isAlive(store, 60_000, { clock })).toBe(true);
  });

  it("a missing key, garbage and a non-heartbeat value are not alive, and say why", async () => {
    const store = new MemoryStore();
    expect((await Heartbeat.check(store)).reason).toMatch(/^no heartbeat found/);
    for (const value of ["garbage", 42, null, [1], { timestamp: "not a date" }, { timestamp: 5 }]) {
      await store.set("heartbeat", value as Json);
      const checked = await Heartbeat.check(store);
      expect(checked.alive).toBe(false);
      expect(checked.reason).toMatch(/^unreadable heartbeat: not a heartbeat state/);
      expect(await Heartbeat.readState(store)).toBeUndefined();
    }
  });

  it("a store that fails to read is not alive, with its error as the reason", async () => {
    const broken = Object.assign(Object.create(new MemoryStore()) as Store, {
      get: () => Promise.reject(new StoreError("ERR_STORE", "broken", "get", "heartbeat", "io error")),
    });
    const checked = await Heartbeat.check(broken);
    expect(checked.alive).toBe(false);
    expect(checked.reason).toContain("io error");
    expect(await Heartbeat.readState(broken)).toBeUndefined();
  });

  it("reads other keys, and the default maxAgeMs comes from configure()", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    await new Heartbeat({ store, key: "worker-1", clock }).beat();
    expect(await Heartbeat.isAlive(store, undefined, { clock })).toBe(false);
    await clock.advance(40_000);
    expect(await Heartbeat.isAlive(store, undefined, { key: "worker-1", clock })).toBe(false);
    configure({ heartbeat: { maxAgeMs: 60_000 } });
    try {
      expect(await Heartbeat.isAlive(store, undefined, { key: "worker-1", clock })).toBe(true);
    } finally {
      configure({});
    }
  });

  it("bad arguments reject with InvalidArgumentError", async () => {
    const store = new MemoryStore();
    await expect(Heartbeat.check("/tmp/x" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Heartbeat.check(store, -1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Heartbeat.check(store, Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Heartbeat.isAlive(store, 1, 5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Heartbeat.readState(null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("parseHeartbeatState accepts the seeds' format and fills defaults", () => {
    expect(parseHeartbeatState({ timestamp: "2026-01-12T10:00:00+00:00", pid: 1234, hostname: "myhost" })).toEqual({
      timestamp: "2026-01-12T10:00:00+00:00",
      pid: 1234,
      hostname: "myhost",
      metadata: {},
    });
    expect(parseHeartbeatState({ timestamp: "2026-01-12T10:00:00Z", pid: "1" })).toMatch(/'pid'/);
  });
});

describe("Heartbeat option messages", () => {
  it("pid and hostname: null or their type, pinned word for word", () => {
    let message = "";
    try {
      new Heartbeat({ pid: 1.5, hostname: 3 } as never);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      "Invalid Heartbeat options:\n" +
        "  - 'pid' must be an integer or null: current value is 1.5\n" +
        "  - 'hostname' must be a string or null: current value is 3",
    );
    expect(() => new Heartbeat({ pid: 2 ** 53 } as never)).toThrow("'pid' must be an integer or null");
    expect(new Heartbeat({ pid: null, hostname: null } as never).key).toBe("heartbeat");
    expect(new Heartbeat({ pid: 42, hostname: "h" } as never).key).toBe("heartbeat");
  });
});
