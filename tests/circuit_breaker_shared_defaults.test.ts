// configure() defaults for the shared breaker's options (issue 9): set once
// for the process, they tune every breaker given a `store`, do nothing to a
// breaker without one (and are not refused there, as the same key given to
// that breaker is), and are checked with the constructor's own messages.
import { afterEach, describe, expect, it } from "vitest";
import {
  builtInDefaults,
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitBreakerRegistry,
  CircuitOpenError,
  ConfigError,
  configure,
  type Defaults,
  MemoryStore,
  type SharedCircuitRecord,
  type Store,
  validateDefaults,
} from "../mod.ts";
import { CountingStore, FaultyStore, ManualClock } from "../src/testing/mod.ts";

afterEach(() => configure({}));

async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

const ok = () => "ok";
const boom = () => Promise.reject(new Error("down"));

function thrown(build: () => unknown): ConfigError {
  try {
    build();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("configure({ circuitBreaker }): the shared options", () => {
  it("built in: refreshMs 1_000, storeTimeoutMs 1_000, quorum 1, quorumWindowMs 60_000, bestEffort false", () => {
    expect(builtInDefaults.circuitBreaker).toMatchObject({
      refreshMs: 1_000,
      storeTimeoutMs: 1_000,
      quorum: 1,
      quorumWindowMs: 60_000,
      bestEffort: false,
    });
    const breaker = new CircuitBreaker({ name: "x", store: new MemoryStore() });
    expect(breaker.options).toMatchObject({ refreshMs: 1_000, storeTimeoutMs: 1_000, quorum: 1, quorumWindowMs: 60_000, bestEffort: false });
  });

  it("a configured refreshMs sets how often a shared breaker reads; an option given still wins", async () => {
    configure({ circuitBreaker: { refreshMs: 250 } });
    const clock = new ManualClock();
    const store = new CountingStore(new MemoryStore({ clock }));
    const configured = new CircuitBreaker({ name: "a", store, clock });
    expect(configured.options.refreshMs).toBe(250);
    await configured.execute(ok);
    for (let i = 1; i <= 4; i++) {
      await clock.advance(250);
      await configured.execute(ok);
      await drain();
    }
    expect(store.counts.get).toBe(5);
    expect(new CircuitBreaker({ name: "b", store, clock, refreshMs: 2_000 }).options.refreshMs).toBe(2_000);
  });

  it("a configured storeTimeoutMs bounds a fresh instance's wait on a hanging store", async () => {
    configure({ circuitBreaker: { storeTimeoutMs: 50 } });
    const clock = new ManualClock();
    const store = new FaultyStore(new MemoryStore({ clock }), { clock, timeoutMs: 60_000 });
    store.inject("get", { kind: "hang" });
    const breaker = new CircuitBreaker({ name: "h", store, clock });
    let settled = false;
    const call = breaker.execute(ok).then((value) => (settled = true) && value);
    await clock.advance(49);
    await drain();
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await call).toBe("ok");
  });

  it("a configured quorum and window: one instance's trip does not open the shared circuit, two do", async () => {
    configure({ circuitBreaker: { quorum: 2, quorumWindowMs: 30_000 } });
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const make = () => new CircuitBreaker({ name: "q", store, clock, maxFailures: 1, refreshMs: 1_000 });
    const [a, b, c] = [make(), make(), make()];
    expect(a.options).toMatchObject({ quorum: 2, quorumWindowMs: 30_000 });
    for (const breaker of [a, b, c]) await breaker.execute(ok);
    await a.execute(boom).catch(() => {});
    await drain();
    expect((await store.get("breaker:q"))?.value as unknown as SharedCircuitRecord).toMatchObject({ state: "closed" });
    await b.execute(boom).catch(() => {});
    await drain();
    expect((await store.get("breaker:q"))?.value as unknown as SharedCircuitRecord).toMatchObject({ state: "open" });
    await clock.advance(1_000);
    await c.execute(ok).catch(() => {});
    await drain();
    expect(await c.execute(ok).catch((error: unknown) => error)).toBeInstanceOf(CircuitOpenError);
  });

  it("a configured bestEffort accepts a store without atomic operations (Workers KV); without it, refused", () => {
    const kvLike = new CountingStore(new MemoryStore());
    Object.defineProperty(kvLike, "capabilities", {
      value: { ...kvLike.capabilities, atomic: false, consistency: "eventual", minWriteIntervalMs: 1_000 },
    });
    expect(thrown(() => new CircuitBreaker({ name: "kv", store: kvLike })).issues[0]?.field).toBe("store");
    configure({ circuitBreaker: { bestEffort: true } });
    expect(new CircuitBreaker({ name: "kv", store: kvLike }).options.bestEffort).toBe(true);
    // Given here, it still wins over the default.
    expect(() => new CircuitBreaker({ name: "kv", store: kvLike, bestEffort: false })).toThrow(ConfigError);
  });

  it("configured, they do not apply to a breaker without a store (and are not refused there); given to it, they are", () => {
    configure({ circuitBreaker: { refreshMs: 200, storeTimeoutMs: 100, quorum: 3, quorumWindowMs: 5_000, bestEffort: true } });
    const local = new CircuitBreaker({ name: "local", maxFailures: 1 });
    expect(local.state).toBe("closed");
    expect(new CircuitBreakerRegistry({ maxFailures: 2 }).getOrCreate("r").state).toBe("closed");
    const given: Array<[keyof CircuitBreakerOptions<never>, unknown]> = [
      ["refreshMs", 200],
      ["storeTimeoutMs", 100],
      ["quorum", 3],
      ["quorumWindowMs", 5_000],
      ["bestEffort", true],
    ];
    for (const [key, value] of given) {
      const error = thrown(() => new CircuitBreaker({ [key]: value }));
      expect(error.issues).toEqual([{ field: key, value, allowed: "set only with 'store' (it tunes the shared state)" }]);
    }
  });

  it("a quorumWindowMs given with a store needs a quorum: given here, or configured", () => {
    const store = new MemoryStore();
    expect(thrown(() => new CircuitBreaker({ name: "w", store, quorumWindowMs: 5_000 })).issues.map((i) => i.field)).toEqual([
      "quorumWindowMs",
    ]);
    configure({ circuitBreaker: { quorum: 2 } });
    expect(new CircuitBreaker({ name: "w", store, quorumWindowMs: 5_000 }).options).toMatchObject({ quorum: 2, quorumWindowMs: 5_000 });
  });

  it("bad configured values are refused with the constructor's messages, naming the field; the previous defaults stay", () => {
    configure({ circuitBreaker: { refreshMs: 300 } });
    const store = new MemoryStore();
    const bad = { refreshMs: 0, storeTimeoutMs: -1, quorum: 0, quorumWindowMs: Number.NaN, bestEffort: "yes" };
    const fromConfigure = thrown(() => configure({ circuitBreaker: bad as unknown as NonNullable<Defaults["circuitBreaker"]> }));
    const fromConstructor = thrown(() => new CircuitBreaker({ name: "x", store, ...bad } as unknown as CircuitBreakerOptions<never>));
    expect(fromConfigure.issues.map((i) => i.field).sort()).toEqual(
      ["bestEffort", "quorum", "quorumWindowMs", "refreshMs", "storeTimeoutMs"].map((key) => `circuitBreaker.${key}`),
    );
    for (const issue of fromConfigure.issues) {
      const key = issue.field.slice("circuitBreaker.".length);
      const same = fromConstructor.issues.find((i) => i.field === key);
      expect(same?.allowed).toBe(issue.allowed);
      expect(Object.is(same?.value, issue.value)).toBe(true);
    }
    expect(fromConfigure.message).toContain("'circuitBreaker.quorum' must be an integer from 1 to 1000: current value is 0");
    expect(new CircuitBreaker({ name: "y", store }).options.refreshMs).toBe(300);
    // A config file goes through the same check.
    expect(thrown(() => validateDefaults({ circuitBreaker: { quorum: 1.5 } }, "bulwark.config.json")).issues[0]?.field).toBe(
      "circuitBreaker.quorum",
    );
    // No default store, no default waitUntil: not configurable.
    const unknown = thrown(() =>
      configure({ circuitBreaker: { store: {} as Store, waitUntil: () => {} } } as unknown as Defaults)
    ).issues.map((i) => i.field).sort();
    expect(unknown).toEqual(["circuitBreaker.store", "circuitBreaker.waitUntil"]);
  });
});
