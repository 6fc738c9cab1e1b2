import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  idempotent,
  IdempotencyConflictError,
  type IdempotencyClaim,
  IdempotencyStore,
  InvalidArgumentError,
  MemoryIdempotencyStore,
  MemoryStore,
  ResilienceError,
  sha256Fingerprint,
  type Store,
  StoreError,
} from "../mod.ts";
import { CountingStore, ManualClock } from "../src/testing/mod.ts";
import { type IdempotencyEnv, idempotencyScenarios, macrotask } from "./_support/idempotency_scenarios.ts";

function memoryEnv(): IdempotencyEnv {
  const clock = new ManualClock();
  return { clock, makeStore: () => new MemoryStore({ clock }), advance: (ms) => clock.advance(ms) };
}

/** A store that declares itself like Workers KV: not atomic, eventually consistent. */
function eventualStore(): Store {
  const store = new MemoryStore();
  Object.defineProperty(store, "capabilities", {
    value: { ...store.capabilities, atomic: false, consistency: "eventual" },
  });
  return store;
}

describe("idempotency scenarios on MemoryStore", () => {
  for (const [name, scenario] of Object.entries(idempotencyScenarios)) {
    it(name, async () => {
      const env = memoryEnv();
      await scenario(env);
      expect((env.clock as ManualClock).pending).toBe(0);
    });
  }
});

describe("IdempotencyStore", () => {
  it("claims with one store.update per decision (one round trip where the engine runs transitions)", async () => {
    const counting = new CountingStore(new MemoryStore());
    const store = new IdempotencyStore({ store: counting });
    const claim = await store.acquire("k");
    expect(claim.outcome).toBe("acquired");
    if (claim.outcome === "acquired") await store.complete("k", claim.token, 1);
    expect((await store.acquire("k")).outcome).toBe("completed");
    expect(counting.counts.update).toBe(3);
    expect(counting.counts.get + counting.counts.compareAndSet + counting.counts.insertIfAbsent).toBe(0);
  });

  it("keeps completed records for ttlMs and claims for inProgressTtlMs", async () => {
    const clock = new ManualClock();
    const store = new IdempotencyStore({ store: new MemoryStore({ clock }), ttlMs: 500, inProgressTtlMs: 100 });
    const claim = await store.acquire("k", { fingerprint: "f" });
    expect(claim.record).toMatchObject({ key: "k", status: "in-progress", fingerprint: "f" });
    expect(claim.record.expiresAt - claim.record.createdAt).toBe(100);
    if (claim.outcome !== "acquired") throw new Error("acquired");
    await clock.advance(50);
    expect(await store.complete("k", claim.token, { id: 1 })).toBe(true);
    const record = await store.getRecord("k");
    expect(record).toMatchObject({ status: "completed", fingerprint: "f", result: { id: 1 }, createdAt: claim.record.createdAt });
    expect(record!.expiresAt).toBe(clock.wallNow() + 500);
    await clock.advance(499);
    expect(await store.get("k")).toEqual({ id: 1 });
    await clock.advance(1);
    expect(await store.get("k")).toBeUndefined();
    expect((await store.acquire("k")).outcome).toBe("acquired");
  });

  it("namespaces keys with keyPrefix", async () => {
    const raw = new MemoryStore({ prefix: "" });
    const a = new IdempotencyStore({ store: raw, keyPrefix: "a:" });
    const b = new IdempotencyStore({ store: raw, keyPrefix: "b:" });
    await a.set("k", 1);
    expect(await b.get("k")).toBeUndefined();
    expect((await raw.get("a:k"))?.value).toMatchObject({ s: "c", r: 1 });
    expect(await a.delete("k")).toBe(true);
    expect(await a.delete("k")).toBe(false);
  });

  it("refuses an eventually consistent store (Workers KV) unless allowEventualConsistency", () => {
    let error: unknown;
    try {
      new IdempotencyStore({ store: eventualStore() });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]!.field).toBe("store");
    expect((error as Error).message).toMatch(/two regions, within its propagation window/);
    expect((error as Error).message).toMatch(/atomic operations/);
    expect(new IdempotencyStore({ store: eventualStore(), allowEventualConsistency: true }).keyPrefix).toBe("idempotency:");
  });

  it("the refusal names the option that accepts such a store: allowEventualConsistency (IdempotencyStore has no bestEffort)", () => {
    const message = (() => {
      try {
        new IdempotencyStore({ store: eventualStore() });
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })();
    expect(message).toContain("allowEventualConsistency: true");
    expect(message).not.toContain("bestEffort");
    // What the message says to do, done, is accepted; what it used to say is refused.
    expect(() => new IdempotencyStore({ store: eventualStore(), bestEffort: true } as never)).toThrow(ConfigError);
  });

  it("MemoryIdempotencyStore refuses a store it would ignore, and names itself for every bad field", () => {
    // A store given here used to be dropped silently: records stayed in this process, not the fleet's store.
    const given = (() => {
      try {
        new MemoryIdempotencyStore({ store: new MemoryStore() } as never);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(given).toBeInstanceOf(ConfigError);
    expect((given as ConfigError).issues.map((issue) => issue.field)).toEqual(["store"]);
    let error: unknown;
    try {
      new MemoryIdempotencyStore({ ttlMs: -1, maxEntries: 0, allowEventualConsistency: true } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^Invalid MemoryIdempotencyStore options/);
    expect((error as ConfigError).issues.map((issue) => issue.field).sort()).toEqual(["allowEventualConsistency", "maxEntries", "ttlMs"]);
  });

  it("validates its options, naming every bad field", () => {
    let error: unknown;
    try {
      new IdempotencyStore({ store: new MemoryStore(), ttlMs: 0, inProgressTtlMs: -1, keyPrefix: "é" } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.field).sort()).toEqual(["inProgressTtlMs", "keyPrefix", "ttlMs"]);
    expect(() => new IdempotencyStore({} as never)).toThrow(ConfigError);
    expect(() => new IdempotencyStore(42 as never)).toThrow(InvalidArgumentError);
    expect(() => new MemoryIdempotencyStore({ maxEntries: 0 })).toThrow(/maxEntries/);
  });

  it("rejects bad arguments of its methods, touching nothing", async () => {
    const store = new MemoryIdempotencyStore();
    await expect(store.acquire("k", { inProgressTtlMs: 0 })).rejects.toThrow(ConfigError);
    await expect(store.acquire("k", "f" as never)).rejects.toThrow(InvalidArgumentError);
    await expect(store.acquire("k", { signal: "s" as never })).rejects.toThrow(InvalidArgumentError);
    await expect(store.complete("k", 1 as never, 1)).rejects.toThrow(InvalidArgumentError);
    expect(await store.count()).toBe(0);
  });
});

describe("MemoryIdempotencyStore", () => {
  it("evicts the oldest written record beyond maxEntries", async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c", "d"]) await store.set(key, key);
    expect(await store.exists("a")).toBe(false);
    expect(await store.exists("d")).toBe(true);
    expect(await store.count()).toBe(3);
    expect(store.maxEntries).toBe(3);
  });

  it("expires without a timer, counts and purges expired records", async () => {
    const clock = new ManualClock();
    const store = new MemoryIdempotencyStore({ clock, ttlMs: 100, inProgressTtlMs: 10 });
    await store.set("done", 1);
    await store.acquire("claimed");
    expect(clock.pending).toBe(0);
    expect(await store.stats()).toEqual({ total: 2, active: 2, expired: 0 });
    await clock.advance(10);
    expect(await store.stats()).toEqual({ total: 2, active: 1, expired: 1 });
    expect(await store.exists("claimed")).toBe(false);
    await clock.advance(90);
    expect(store.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await store.stats()).toEqual({ total: 0, active: 0, expired: 0 });
    await store.set("x", 1);
    store.clear();
    expect(await store.count()).toBe(0);
  });
});

describe("idempotent", () => {
  it("returns a function of the same arguments that replays the first result", async () => {
    let runs = 0;
    const add = idempotent(async (a: number, b: number) => {
      runs++;
      return a + b;
    }, { store: new MemoryIdempotencyStore(), key: (a, b) => `add-${a}-${b}` });
    expect(await add(1, 2)).toBe(3);
    expect(await add(1, 2)).toBe(3);
    expect(await add(2, 2)).toBe(4);
    expect(runs).toBe(2);
  });

  it("accepts any atomic Store directly", async () => {
    let runs = 0;
    const run = idempotent(() => ++runs, { store: new MemoryStore(), key: "once" });
    expect(await run()).toBe(1);
    expect(await run()).toBe(1);
  });

  it("throws IdempotencyConflictError at once with onConflict: throw", async () => {
    const store = new MemoryIdempotencyStore();
    let release!: () => void;
    const run = idempotent(() => new Promise<string>((resolve) => (release = () => resolve("first"))), {
      store,
      key: "k",
      onConflict: "throw",
    });
    const first = run();
    for (let i = 0; i < 5; i++) await macrotask();
    const error = await run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(error).toBeInstanceOf(ResilienceError);
    expect((error as IdempotencyConflictError).waitedMs).toBe(0);
    release();
    expect(await first).toBe("first");
    expect(await run()).toBe("first");
  });

  it("aborts a wait through the signal taken from the arguments, leaving no timer", async () => {
    const clock = new ManualClock();
    const store = new IdempotencyStore({ store: new MemoryStore({ clock }) });
    const run = idempotent((_signal?: AbortSignal) => new Promise<number>(() => {}), {
      store,
      key: "hang",
      clock,
      fingerprint: false,
      signal: (signal) => signal,
    });
    void run(undefined);
    for (let i = 0; i < 5; i++) await macrotask();
    const controller = new AbortController();
    const waiting = run(controller.signal).catch((e: unknown) => e);
    for (let i = 0; i < 5; i++) await macrotask();
    expect(clock.pending).toBe(1);
    controller.abort(new Error("client gone"));
    expect(String(await waiting)).toMatch(/client gone/);
    expect(clock.pending).toBe(0);
  });

  it("a store that fails to record a failure (storeFailures) still lets the caller see fn's own error", async () => {
    const inner = new MemoryStore();
    let storeDown = false;
    const store: Store = Object.assign(Object.create(inner) as Store, {
      update(...args: Parameters<Store["update"]>) {
        if (storeDown && args[1].name === "bulwark.idempotency.finish") {
          return Promise.reject(new StoreError("ERR_STORE", "memory", "update", args[0], "connection lost"));
        }
        return inner.update(...args);
      },
    });
    const declined = idempotent(async (_id: string) => {
      storeDown = true;
      throw new RangeError("card declined");
    }, { store, key: (id) => id, storeFailures: true, fingerprint: false });
    const error = await declined("d-1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe("card declined");
  });

  it("refuses bad arguments synchronously, before any state", () => {
    const store = new MemoryIdempotencyStore();
    expect(() => idempotent("f" as never, { store, key: "k" })).toThrow(InvalidArgumentError);
    expect(() => idempotent(() => 1, 5 as never)).toThrow(InvalidArgumentError);
    expect(() => idempotent(() => 1, undefined as never)).toThrow(InvalidArgumentError);
    expect(() => idempotent(() => 1, { store, key: "" })).toThrow(ConfigError);
    expect(() => idempotent(() => 1, { key: "k" } as never)).toThrow(/'store' must be an IdempotencyStore or a Store/);
    expect(() => idempotent(() => 1, { store, key: "k", onConflict: "queue" as never })).toThrow(/onConflict/);
    expect(() => idempotent(() => 1, { store: eventualStore(), key: "k" })).toThrow(/propagation window/);
  });

  it("fingerprints with SHA-256 of the arguments' JSON by default", async () => {
    expect(await sha256Fingerprint([])).toBe("4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945");
    const store = new MemoryIdempotencyStore();
    const run = idempotent((n: number) => n, { store, key: "fp" });
    await run(1);
    expect((await store.getRecord("fp"))?.fingerprint).toBe(await sha256Fingerprint([1]));
  });
});

describe("the claim state machine, against a model", () => {
  type Command =
    | { kind: "acquire"; key: string; fingerprint: string | undefined }
    | { kind: "complete"; claim: number }
    | { kind: "release"; claim: number }
    | { kind: "advance"; ms: number };
  interface ModelRecord {
    status: "in-progress" | "completed";
    fingerprint: string | undefined;
    claim: number | undefined;
    expiresAt: number;
  }
  const command: fc.Arbitrary<Command> = fc.oneof(
    fc.record({
      kind: fc.constant("acquire" as const),
      key: fc.constantFrom("a", "b"),
      fingerprint: fc.constantFrom("x", "y", undefined),
    }),
    fc.record({ kind: fc.constant("complete" as const), claim: fc.nat(7) }),
    fc.record({ kind: fc.constant("release" as const), claim: fc.nat(7) }),
    fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 150 }) }),
  );

  it("claim, complete, release and expiry agree with the model", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 40 }), async (commands) => {
        const clock = new ManualClock();
        const store = new IdempotencyStore({ store: new MemoryStore({ clock }), ttlMs: 300, inProgressTtlMs: 100 });
        const model = new Map<string, ModelRecord>();
        const claims: { key: string; token: string }[] = [];
        const live = (key: string) => {
          const record = model.get(key);
          return record !== undefined && record.expiresAt > clock.wallNow() ? record : undefined;
        };
        for (const step of commands) {
          if (step.kind === "advance") {
            await clock.advance(step.ms);
          } else if (step.kind === "acquire") {
            const claim: IdempotencyClaim = await store.acquire(step.key, step.fingerprint === undefined ? {} : { fingerprint: step.fingerprint });
            const current = live(step.key);
            if (current === undefined) {
              expect(claim.outcome).toBe("acquired");
              if (claim.outcome === "acquired") claims.push({ key: step.key, token: claim.token });
              model.set(step.key, {
                status: "in-progress",
                fingerprint: step.fingerprint,
                claim: claims.length - 1,
                expiresAt: clock.wallNow() + 100,
              });
            } else if (step.fingerprint !== undefined && current.fingerprint !== undefined && current.fingerprint !== step.fingerprint) {
              expect(claim.outcome).toBe("fingerprint-mismatch");
            } else {
              expect(claim.outcome).toBe(current.status);
            }
          } else {
            const target = claims[step.claim];
            if (target === undefined) continue;
            const done = step.kind === "complete"
              ? await store.complete(target.key, target.token, step.claim)
              : await store.release(target.key, target.token);
            const current = live(target.key);
            const owns = current?.status === "in-progress" && current.claim === step.claim;
            expect(done).toBe(owns);
            if (owns && step.kind === "complete") {
              model.set(target.key, { ...current!, status: "completed", claim: undefined, expiresAt: clock.wallNow() + 300 });
            } else if (owns) {
              model.delete(target.key);
            }
          }
          for (const key of ["a", "b"]) {
            const record = await store.getRecord(key);
            const expected = live(key);
            expect(record?.status).toBe(expected?.status);
            expect(record?.expiresAt).toBe(expected?.expiresAt);
            expect(record?.fingerprint).toBe(expected?.fingerprint);
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
