import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  type CircuitBreakerSnapshot,
  CircuitOpenError,
  ConfigError,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

describe("CircuitBreakerRegistry", () => {
  it("creates a breaker once per name, from its defaults under the given options", () => {
    const clock = new ManualClock();
    const registry = new CircuitBreakerRegistry({ maxFailures: 2, resetTimeoutMs: 500, clock });
    expect(registry.get("db")).toBeUndefined();
    const db = registry.getOrCreate("db", { resetTimeoutMs: 100 });
    expect(db).toBeInstanceOf(CircuitBreaker);
    expect(db.name).toBe("db");
    expect(db.options).toMatchObject({ maxFailures: 2, resetTimeoutMs: 100, clock });
    expect(registry.getOrCreate("db", { resetTimeoutMs: 1 })).toBe(db);
    expect(registry.getOrCreate("cache", { maxFailures: undefined }).options.maxFailures).toBe(2);
    expect(registry.get("db")).toBe(db);
    expect(registry.has("db")).toBe(true);
  });

  it("lists, resets, forces open and reports stats by name", async () => {
    const clock = new ManualClock();
    const registry = new CircuitBreakerRegistry({ maxFailures: 1, resetTimeoutMs: 1_000, clock });
    const a = registry.getOrCreate("a");
    registry.getOrCreate("b");
    await a.execute(() => Promise.reject(new Error("down"))).catch(() => {});
    await clock.advance(250);
    expect(registry.list()).toEqual([
      {
        name: "a",
        state: "open",
        failureCount: 1,
        remainingMs: 750,
        stats: { totalCalls: 1, successfulCalls: 0, failedCalls: 1, ignoredCalls: 0, rejectedCalls: 0, slowCalls: 0, stateChanges: 1 },
      },
      {
        name: "b",
        state: "closed",
        failureCount: 0,
        remainingMs: 0,
        stats: { totalCalls: 0, successfulCalls: 0, failedCalls: 0, ignoredCalls: 0, rejectedCalls: 0, slowCalls: 0, stateChanges: 0 },
      },
    ]);
    expect(registry.reset("a")).toBe(true);
    expect(a.state).toBe("closed");
    expect(registry.forceOpen("b")).toBe(true);
    expect(registry.get("b")!.state).toBe("forced-open");
    expect(registry.stats("a")?.failedCalls).toBe(1);
    expect(registry.reset("missing")).toBe(false);
    expect(registry.forceOpen("missing")).toBe(false);
    expect(registry.stats("missing")).toBeUndefined();
    registry.resetAll();
    expect(registry.list().map((info) => info.state)).toEqual(["closed", "closed"]);
  });

  it("wraps functions so that those sharing a name share a breaker", async () => {
    const registry = new CircuitBreakerRegistry({ maxFailures: 1 });
    const read = registry.wrap("store", async (key: string) => key.toUpperCase());
    const write = registry.wrap("store", async (_key: string): Promise<void> => {
      throw new Error("disk full");
    });
    expect(await read("k")).toBe("K");
    await expect(write("k")).rejects.toThrow("disk full");
    await expect(read("k")).rejects.toBeInstanceOf(CircuitOpenError);
    expect(read.breaker).toBe(write.breaker);
  });

  it("forwards every breaker's transitions, with a snapshot to persist", async () => {
    const clock = new ManualClock();
    const registry = new CircuitBreakerRegistry({ maxFailures: 1, clock });
    const store = new Map<string, CircuitBreakerSnapshot>();
    registry.on("stateChange", ({ name, snapshot }) => store.set(name, snapshot));
    registry.getOrCreate("x").recordFailure();
    registry.forceOpen("x");
    expect(store.get("x")?.state).toBe("forced-open");
    // Another registry (another process) hydrates from the store.
    const other = new CircuitBreakerRegistry({ clock });
    expect(other.getOrCreate("x", { initialState: store.get("x")! }).state).toBe("forced-open");
    // A deleted breaker no longer reports to the registry.
    const x = registry.get("x")!;
    expect(registry.delete("x")).toBe(true);
    store.clear();
    x.reset();
    registry.getOrCreate("y").recordFailure();
    expect([...store.keys()]).toEqual(["y"]);
  });

  it("rejects invalid defaults at construction and a conflicting name", () => {
    expect(() => new CircuitBreakerRegistry({ maxFailures: 0 })).toThrow(ConfigError);
    const registry = new CircuitBreakerRegistry();
    expect(() => registry.getOrCreate("a", { name: "b" })).toThrow(ConfigError);
    expect(registry.has("a")).toBe(false);
  });
});
