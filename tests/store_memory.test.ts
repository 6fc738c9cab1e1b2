import { describe, expect, it } from "vitest";
import {
  InvalidArgumentError,
  type Json,
  MemoryStore,
  type Store,
  type StoreEntry,
  StoreError,
  type StoreOperationOptions,
  type StoreWriteOptions,
  type StoreWriteResult,
  type Transition,
} from "../mod.ts";
import { CountingStore, FaultyStore, ManualClock, runStoreConformance } from "../src/testing/mod.ts";
import { reportConformance } from "./_support/conformance.ts";

function memory(clock: ManualClock) {
  return new MemoryStore({ clock, maxValueBytes: 64 * 1024, maxKeyBytes: 512 });
}

function hanging(clock: ManualClock) {
  const store = new FaultyStore(memory(clock), { clock, timeoutMs: 100 });
  store.inject("all", { kind: "hang" });
  return store;
}

describe("runStoreConformance on MemoryStore", () => {
  it("conformance[memory] passes every check, timeouts and abort included, leaving no timer", async () => {
    const clock = new ManualClock();
    const report = reportConformance(
      "memory",
      await runStoreConformance(() => memory(clock), {
        advance: (ms) => clock.advance(ms),
        makeHangingStore: () => hanging(clock),
      }),
    );
    expect(report.failed.map((f) => `${f.name}: ${String(f.error)}`)).toEqual([]);
    expect(report.skipped).toEqual([]);
    expect(report.passed.length).toBe(21);
    expect(clock.pending).toBe(0);
  });

  it("passes through FaultyStore and CountingStore with no fault injected", async () => {
    const clock = new ManualClock();
    const report = await runStoreConformance(
      () => new CountingStore(new FaultyStore(memory(clock), { clock, timeoutMs: 100 })),
      { advance: (ms) => clock.advance(ms), makeHangingStore: () => hanging(clock) },
    );
    expect(report.failed.map((f) => `${f.name}: ${String(f.error)}`)).toEqual([]);
  });
});

/** A Store that delegates to a MemoryStore, with one behaviour broken. */
class Broken implements Store {
  readonly name = "broken";
  readonly inner: MemoryStore;
  readonly prefix: string;
  constructor(readonly clock: ManualClock, readonly overrides: Partial<Store> & { capabilities?: Store["capabilities"] } = {}) {
    this.inner = memory(clock);
    this.prefix = this.inner.prefix;
  }
  get capabilities() {
    return this.overrides.capabilities ?? this.inner.capabilities;
  }
  get(key: string, options?: StoreOperationOptions): Promise<StoreEntry | undefined> {
    return this.overrides.get ? this.overrides.get(key, options) : this.inner.get(key, options);
  }
  set<V extends Json>(key: string, value: V, options?: StoreWriteOptions): Promise<StoreEntry<V>> {
    return this.overrides.set ? this.overrides.set(key, value, options) : this.inner.set(key, value, options);
  }
  delete(key: string, options?: StoreOperationOptions): Promise<boolean> {
    return this.inner.delete(key, options);
  }
  insertIfAbsent<V extends Json>(key: string, value: V, options?: StoreWriteOptions): Promise<StoreWriteResult<V>> {
    return this.overrides.insertIfAbsent
      ? this.overrides.insertIfAbsent(key, value, options)
      : this.inner.insertIfAbsent(key, value, options);
  }
  compareAndSet<V extends Json>(key: string, expected: string | undefined, value: V, options?: StoreWriteOptions) {
    return this.overrides.compareAndSet
      ? this.overrides.compareAndSet(key, expected, value, options)
      : this.inner.compareAndSet(key, expected, value, options);
  }
  update<I extends Json, O extends Json>(key: string, transition: Transition<I, O>, input: I, options?: StoreOperationOptions) {
    return this.overrides.update ? this.overrides.update(key, transition, input, options) : this.inner.update(key, transition, input, options);
  }
}

async function failuresOf(make: (clock: ManualClock) => Store): Promise<string[]> {
  const clock = new ManualClock();
  const report = await runStoreConformance(() => make(clock), { advance: (ms) => clock.advance(ms), checkTimeoutMs: 2_000 });
  return report.failed.map((f) => f.name);
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("runStoreConformance catches broken stores", () => {
  it("a compare-and-set that reads, then writes later (not atomic)", async () => {
    const failed = await failuresOf((clock) => {
      const store: Broken = new Broken(clock, {
        async insertIfAbsent(key, value, options) {
          const current = await store.inner.get(key);
          await tick();
          if (current !== undefined) return { ok: false, current };
          return { ok: true, entry: await store.inner.set(key, value, options) };
        },
        async compareAndSet(key, expected, value, options) {
          const current = await store.inner.get(key);
          await tick();
          if (current?.version !== expected) return { ok: false, current };
          return { ok: true, entry: await store.inner.set(key, value, options) };
        },
        async update(key, transition, input) {
          const current = await store.inner.get(key);
          await tick();
          const result = transition.apply(current?.value, input, clock.wallNow());
          if (typeof result.next !== "symbol" && result.next !== undefined) await store.inner.set(key, result.next);
          return result.output;
        },
      });
      return store;
    });
    expect(failed).toContain("insertIfAbsent: concurrent contenders, exactly one winner");
    expect(failed).toContain("compareAndSet: concurrent contenders on one version, exactly one winner");
    expect(failed).toContain("update: concurrent increments sum exactly");
  });

  it("versions that do not change when an equal value is written", async () => {
    const failed = await failuresOf((clock) => {
      const store: Broken = new Broken(clock, {
        async set(key, value, options) {
          const entry = await store.inner.set(key, value, options);
          return { ...entry, version: JSON.stringify(value) };
        },
        async get(key, options) {
          const entry = await store.inner.get(key, options);
          return entry && { ...entry, version: JSON.stringify(entry.value) };
        },
      });
      return store;
    });
    expect(failed).toContain("versions change on every write, even of an equal value");
  });

  it("values silently truncated to 1000 characters", async () => {
    const failed = await failuresOf((clock) => {
      const store: Broken = new Broken(clock, {
        set(key, value, options) {
          return store.inner.set(key, (typeof value === "string" ? value.slice(0, 1000) : value) as typeof value, options);
        },
      });
      return store;
    });
    expect(failed).toContain("value at the size limit round trips; one byte over fails with ERR_STORE_LIMIT and writes nothing");
  });

  it("a store that writes a value in two steps (readers see it torn)", async () => {
    const failed = await failuresOf((clock) => {
      const store: Broken = new Broken(clock, {
        async set(key, value, options) {
          if (typeof value === "object" && value !== null && "body" in value) {
            await store.inner.set(key, { ...value, tail: -1 }, options);
            await tick();
          }
          return store.inner.set(key, value, options);
        },
      });
      return store;
    });
    expect(failed).toContain("readers never see a torn value during concurrent writes");
  });

  it("limits declared but not enforced, TTL ignored, errors untyped", async () => {
    const failed = await failuresOf((clock) => {
      const loose = new MemoryStore({ clock, maxValueBytes: 1 << 20 });
      const store: Broken = new Broken(clock, {
        capabilities: { ...loose.capabilities, maxValueBytes: 64 * 1024 },
        async set(key, value, options) {
          if (typeof key !== "string") throw new TypeError("bad key");
          return loose.set(key, value, { signal: options?.signal });
        },
        get: (key, options) => loose.get(key, options),
      });
      return store;
    });
    expect(failed).toContain("value at the size limit round trips; one byte over fails with ERR_STORE_LIMIT and writes nothing");
    expect(failed).toContain("TTL: entries expire; a write without TTL clears it");
    expect(failed).toContain("bad arguments reject with InvalidArgumentError");
  });
});

describe("MemoryStore", () => {
  it("evicts expired entries first, then the least recently written", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock, maxEntries: 3 });
    await store.set("old", 1);
    await store.set("short", 2, { ttlMs: 10 });
    await store.set("newer", 3);
    await clock.advance(10);
    await store.set("fourth", 4);
    expect((await store.get("old"))?.value).toBe(1);
    await store.set("old", 11);
    await store.set("fifth", 5);
    expect(store.size).toBe(3);
    expect(await store.get("newer")).toBeUndefined();
    expect((await store.get("old"))?.value).toBe(11);
  });

  it("stays bounded under a flood of keys, and arms no timer", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock, maxEntries: 100 });
    for (let i = 0; i < 5_000; i++) await store.set(`k${i}`, i, i % 2 === 0 ? { ttlMs: 5 } : {});
    expect(store.size).toBeLessThanOrEqual(100);
    expect(clock.pending).toBe(0);
  });

  it("sweeps expired entries as it writes, without a timer", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock, maxEntries: 1_000 });
    for (let i = 0; i < 100; i++) await store.set(`t${i}`, i, { ttlMs: 5 });
    await clock.advance(5);
    for (let i = 0; i < 100; i++) await store.set("live", i);
    expect(store.size).toBe(1);
  });

  it("hands out copies: mutating a value read or written changes nothing stored", async () => {
    const store = new MemoryStore();
    const value = { list: [1] };
    await store.set("k", value);
    value.list.push(2);
    const read = (await store.get("k"))!.value as { list: number[] };
    read.list.push(3);
    expect((await store.get("k"))?.value).toEqual({ list: [1] });
  });

  it("refuses bad options with a ConfigError naming each field", () => {
    expect(() => new MemoryStore({ maxEntries: 0, timeoutMs: -1, prefx: "a" } as never)).toThrow(
      /maxEntries|timeoutMs|prefx/,
    );
    let error: unknown;
    try {
      new MemoryStore({ maxEntries: 0, timeoutMs: -1 });
    } catch (e) {
      error = e;
    }
    expect((error as { issues: { field: string }[] }).issues.map((i) => i.field).sort()).toEqual(["maxEntries", "timeoutMs"]);
    expect(() => new MemoryStore(42 as never)).toThrow(InvalidArgumentError);
  });

  it("runs update in one step: a throwing transition rejects with its own error and writes nothing", async () => {
    const store = new MemoryStore();
    const boom = new Error("boom");
    const failing: Transition<null, null> = { name: "t", apply: () => { throw boom; } };
    await expect(store.update("k", failing, null)).rejects.toBe(boom);
    const bad = { name: "t", apply: () => ({ next: () => 1, output: null }) } as unknown as Transition<null, null>;
    await expect(store.update("k", bad, null)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.get("k")).toBeUndefined();
  });
});

describe("fault injection through FaultyStore", () => {
  it("every fault on every operation settles by timeoutMs, typed, with nothing left armed", async () => {
    const clock = new ManualClock();
    const inner = new MemoryStore({ clock });
    const store = new FaultyStore(inner, { clock, timeoutMs: 100 });
    const increment: Transition<number, number> = {
      name: "inc",
      apply: (current, input) => ({ next: ((current as number | undefined) ?? 0) + input, output: 0 }),
    };
    const calls: Array<() => Promise<unknown>> = [
      () => store.get("k"),
      () => store.set("k", 1),
      () => store.delete("k"),
      () => store.insertIfAbsent("k", 1),
      () => store.compareAndSet("k", "v", 1),
      () => store.update("k", increment, 1),
    ];
    for (const fault of [{ kind: "fail" }, { kind: "hang" }, { kind: "late", delayMs: 500 }, { kind: "late", delayMs: 50 }] as const) {
      store.inject("all", fault);
      const settled = calls.map((call) => call().then((value) => ({ value }), (error: unknown) => ({ error })));
      await clock.advance(100);
      const outcomes = await Promise.race([Promise.all(settled), clock.flush().then(() => "pending" as const)]);
      expect(outcomes).not.toBe("pending");
      for (const outcome of outcomes as Array<{ value?: unknown; error?: unknown }>) {
        if (fault.kind === "late" && fault.delayMs < 100) expect(outcome.error).toBeUndefined();
        else {
          expect(outcome.error).toBeInstanceOf(StoreError);
          expect((outcome.error as StoreError).code).toBe(fault.kind === "fail" ? "ERR_STORE" : "ERR_STORE_TIMEOUT");
        }
      }
      // Late answers arrive after the timeout and are dropped quietly.
      await clock.advance(1_000);
      expect(clock.pending).toBe(0);
    }
    expect(store.injected).toBe(24);
  });

  it("stale reads answer one write behind, until switched off", async () => {
    const clock = new ManualClock();
    const store = new FaultyStore(new MemoryStore({ clock }), { clock });
    await store.set("k", 1);
    await store.set("k", 2);
    store.inject("get", { kind: "stale" });
    expect((await store.get("k"))?.value).toBe(1);
    store.inject("get", undefined);
    expect((await store.get("k"))?.value).toBe(2);
  });

  it("an abort while hanging rejects with the reason, listener removed", async () => {
    const clock = new ManualClock();
    const store = new FaultyStore(new MemoryStore({ clock }), { clock, timeoutMs: 100 });
    store.inject("set", { kind: "hang" });
    const controller = new AbortController();
    const reason = new Error("stop");
    const pending = store.set("k", 1, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(reason);
    expect(await pending).toBe(reason);
    // The store's one timer goes once no operation follows, a few microtask turns on.
    await clock.flush();
    expect(clock.pending).toBe(0);
  });

  it("CountingStore counts round trips per operation", async () => {
    const store = new CountingStore(new MemoryStore());
    const increment: Transition<number, number> = { name: "inc", apply: (c, i) => ({ next: ((c as number) ?? 0) + i, output: 0 }) };
    await store.update("n", increment, 1);
    await store.insertIfAbsent("n", 1);
    await store.delete("n");
    expect(store.counts).toEqual({ get: 0, set: 0, delete: 1, insertIfAbsent: 1, compareAndSet: 0, update: 1 });
    store.reset();
    expect(store.total).toBe(0);
  });
});

describe("MemoryStore option messages", () => {
  // Pinned word for word: these schemas were rebuilt from the validation
  // helpers (rather than z.number/z.string checks) to shrink every bundle.
  const messageOf = (options: unknown): string => {
    try {
      new MemoryStore(options as never);
    } catch (error) {
      return (error as Error).message;
    }
    return "no error";
  };

  it("states each bad field and what is allowed, as before", () => {
    expect(messageOf({ maxEntries: 0, maxKeyBytes: 1.5, maxValueBytes: 2 ** 53, prefix: 1 })).toBe(
      "Invalid MemoryStore options:\n" +
        "  - 'prefix' must be a string: current value is 1\n" +
        "  - 'maxEntries' must be an integer >= 1: current value is 0\n" +
        "  - 'maxKeyBytes' must be an integer >= 1: current value is 1.5\n" +
        "  - 'maxValueBytes' must be an integer >= 1: current value is 9007199254740992",
    );
    expect(messageOf({ timeoutMs: 2 ** 31, clock: { now: () => 0 } })).toBe(
      "Invalid MemoryStore options:\n" +
        "  - 'timeoutMs' must be a finite number of milliseconds > 0: current value is 2147483648\n" +
        "  - 'clock' must be a Clock (an object with now, wallNow, sleep and schedule): current value is {}",
    );
    expect(messageOf({ timeoutMs: 2 ** 31 - 1, maxEntries: 2 ** 53 - 1 })).toBe("no error");
  });
});
