import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  decodeEnvelope,
  encodeEnvelope,
  envelopeOverheadBytes,
  InvalidArgumentError,
  type Json,
  MAX_UPDATE_ATTEMPTS,
  MemoryStore,
  requireStore,
  type RawEntry,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreCapabilities,
  StoreError,
  type Transition,
  UNCHANGED,
  utf8ByteLength,
  versionSource,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { onWorkersNow, withUserAgent } from "./_support/user_agent.ts";

/** An engine over a Map that answers a microtask later, with switches for tests. */
class AsyncMapStore extends StoreAdapter {
  readonly name = "async-map";
  readonly capabilities: StoreCapabilities;
  readonly data = new Map<string, RawEntry>();
  readonly writes: RawWrite[] = [];
  rawCalls = 0;
  hang = false;
  failWith: unknown = undefined;
  /** Called inside compareAndSetRaw before it compares: lets a test write in between. */
  beforeCompare: ((key: string) => void) | undefined;

  constructor(options: StoreAdapterOptions = {}, capabilities: Partial<StoreCapabilities> = {}) {
    super("AsyncMapStore", options);
    this.capabilities = {
      atomic: true,
      consistency: "strong",
      maxKeyBytes: 64,
      maxValueBytes: 128,
      minTtlMs: 0,
      minWriteIntervalMs: 0,
      runsTransitions: false,
      ...capabilities,
    };
  }

  async #engine<T>(work: () => T): Promise<T> {
    this.rawCalls++;
    await undefined;
    if (this.hang) return new Promise<T>(() => {});
    if (this.failWith !== undefined) throw this.failWith;
    return work();
  }

  protected getRaw(key: string): Promise<RawEntry | undefined> {
    return this.#engine(() => this.data.get(key));
  }

  protected setRaw(key: string, write: RawWrite): Promise<string> {
    return this.#engine(() => this.#put(key, write));
  }

  protected deleteRaw(key: string, _options: unknown, nowMs: number): Promise<boolean> {
    return this.#engine(() => {
      const found = this.data.get(key);
      this.data.delete(key);
      return found !== undefined && (found.expiresAt === undefined || found.expiresAt > nowMs);
    });
  }

  protected insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    return this.#engine((): RawWriteResult => {
      const found = this.data.get(key);
      if (found !== undefined && (found.expiresAt === undefined || found.expiresAt > write.nowMs)) return { ok: false, current: found };
      return { ok: true, version: this.#put(key, write) };
    });
  }

  protected compareAndSetRaw(key: string, expected: string, write: RawWrite): Promise<RawWriteResult> {
    return this.#engine((): RawWriteResult => {
      this.beforeCompare?.(key);
      const found = this.data.get(key);
      if (found?.version !== expected) return { ok: false, current: found };
      return { ok: true, version: this.#put(key, write) };
    });
  }

  protected compareAndDeleteRaw(key: string, expected: string): Promise<boolean> {
    return this.#engine(() => this.data.get(key)?.version === expected && this.data.delete(key));
  }

  #put(key: string, write: RawWrite): string {
    this.writes.push(write);
    this.data.set(key, { value: JSON.parse(write.json) as Json, version: write.version, expiresAt: write.expiresAt });
    return write.version;
  }
}

/** A signal-shaped object that counts its listeners. */
function countingSignal() {
  const listeners = new Set<() => void>();
  return {
    aborted: false,
    reason: undefined as unknown,
    addEventListener: (_type: string, listener: () => void) => listeners.add(listener),
    removeEventListener: (_type: string, listener: () => void) => listeners.delete(listener),
    get listeners() {
      return listeners.size;
    },
    abort(reason: unknown) {
      this.aborted = true;
      this.reason = reason;
      for (const listener of [...listeners]) listener();
    },
  };
}

const increment: Transition<number, number> = {
  name: "inc",
  apply: (current, input) => {
    const next = (typeof current === "number" ? current : 0) + input;
    return { next, output: next };
  },
};

describe("StoreAdapter", () => {
  it("removes its listener when an operation settles, and its timer once no operation follows (a few microtask turns)", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock });
    const signal = countingSignal();
    const pending = store.set("k", 1, { signal: signal as unknown as AbortSignal });
    expect(clock.pending).toBe(1);
    expect(signal.listeners).toBe(1);
    await pending;
    expect(signal.listeners).toBe(0);
    // The store's one timer waits a few turns for a next operation (deadline_list.ts), then goes.
    await clock.flush();
    expect(clock.pending).toBe(0);
  });

  it("times out after timeoutMs exactly, with the numbers, and the listener removed", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock, timeoutMs: 250 });
    store.hang = true;
    const signal = countingSignal();
    let outcome: unknown = "pending";
    void store.get("k", { signal: signal as unknown as AbortSignal }).catch((e: unknown) => {
      outcome = e;
    });
    await clock.advance(249);
    expect(outcome).toBe("pending");
    await clock.advance(1);
    expect(outcome).toBeInstanceOf(StoreError);
    expect(outcome).toMatchObject({ code: "ERR_STORE_TIMEOUT", timeoutMs: 250, store: "async-map", operation: "get", key: "k" });
    expect(signal.listeners).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it("rejects with the signal's reason on abort, timer cleared", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock });
    store.hang = true;
    const signal = countingSignal();
    const reason = new Error("stop");
    const pending = store.update("k", increment, 1, { signal: signal as unknown as AbortSignal }).catch((e: unknown) => e);
    signal.abort(reason);
    expect(await pending).toBe(reason);
    expect(signal.listeners).toBe(0);
    await clock.flush();
    expect(clock.pending).toBe(0);
  });

  it("wraps the engine's errors into StoreError ERR_STORE with the cause and the unprefixed key", async () => {
    const store = new AsyncMapStore({ prefix: "app:" });
    const cause = new TypeError("connection reset");
    store.failWith = cause;
    const error = await store.set("user:1", { a: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: "ERR_STORE", operation: "set", key: "user:1", cause });
    expect((error as Error).message).toContain("connection reset");
  });

  it("checks arguments and limits before any I/O, timer or listener", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock, prefix: "p:" });
    const signal = countingSignal();
    const s = signal as unknown as AbortSignal;
    const loose = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const calls: Array<[() => Promise<unknown>, new (...args: never[]) => Error]> = [
      [() => loose.get!(1, { signal: s }), InvalidArgumentError],
      [() => loose.set!("k", Symbol("x"), { signal: s }), InvalidArgumentError],
      [() => store.set("k", 1, { ttlMs: 0, signal: s }), InvalidArgumentError],
      [() => loose.update!("k", { name: "n" }, 1, { signal: s }), InvalidArgumentError],
      [() => store.get("k".repeat(63), { signal: s }), StoreError],
      [() => store.set("k", "v".repeat(127), { signal: s }), StoreError],
    ];
    for (const [call, type] of calls) await expect(call()).rejects.toBeInstanceOf(type);
    expect(store.rawCalls).toBe(0);
    expect(clock.pending).toBe(0);
    expect(signal.listeners).toBe(0);
    const limit = await store.get("é".repeat(40)).catch((e: unknown) => e);
    expect(limit).toMatchObject({ code: "ERR_STORE_LIMIT", limit: 64, actual: 82 });
    expect((limit as Error).message).toContain("key is 82 bytes (prefix included); async-map allows at most 64");
  });

  it("keeps a TTL shorter than the engine's minimum as an expiry checked on read", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock }, { minTtlMs: 60_000 });
    const written = await store.set("k", 1, { ttlMs: 1_000 });
    expect(written.expiresAt).toBe(clock.wallNow() + 1_000);
    expect(store.writes[0]).toMatchObject({ nativeTtlMs: 60_000, expiresAt: clock.wallNow() + 1_000 });
    await clock.advance(1_000);
    expect(store.data.has("bulwark:k")).toBe(true);
    expect(await store.get("k")).toBeUndefined();
    expect((await store.insertIfAbsent("k", 2)).ok).toBe(true);
  });

  it("update loops on compare-and-set: conflicts counted, backoff on the clock, then success", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock });
    await store.set("n", 0);
    let interference = 3;
    store.beforeCompare = (key) => {
      if (interference-- > 0) {
        const found = store.data.get(key)!;
        store.data.set(key, { ...found, version: `other-${interference}` });
      }
    };
    const result = store.update("n", increment, 1);
    await clock.advance(1_000);
    expect(await result).toBe(1);
    expect(store.conflicts).toBe(3);
    expect(clock.pending).toBe(0);
  });

  it("update gives up after MAX_UPDATE_ATTEMPTS lost races with ERR_STORE", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock, timeoutMs: 1_000_000 });
    await store.set("n", 0);
    store.beforeCompare = (key) => {
      const found = store.data.get(key)!;
      store.data.set(key, { ...found, version: Math.random().toString() });
    };
    let outcome: unknown = "pending";
    void store.update("n", increment, 1).catch((e: unknown) => {
      outcome = e;
    });
    for (let i = 0; i < 200 && outcome === "pending"; i++) await clock.advance(100);
    expect(outcome).toMatchObject({ code: "ERR_STORE" });
    expect(String((outcome as Error).message)).toContain(`${MAX_UPDATE_ATTEMPTS}`);
    expect(store.conflicts).toBe(MAX_UPDATE_ATTEMPTS);
  });

  it("update stops looping once the caller stopped waiting (timeout)", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock, timeoutMs: 50 });
    await store.set("n", 0);
    store.beforeCompare = (key) => {
      const found = store.data.get(key)!;
      store.data.set(key, { ...found, version: Math.random().toString() });
    };
    const outcome = store.update("n", increment, 1).catch((e: unknown) => e);
    await clock.advance(50);
    expect(await outcome).toMatchObject({ code: "ERR_STORE_TIMEOUT" });
    const calls = store.rawCalls;
    await clock.advance(10_000);
    expect(store.rawCalls).toBeLessThanOrEqual(calls + 2);
    expect(clock.pending).toBe(0);
  });

  it("update: callers in one process take turns per key, so they never make each other retry (except on Workers)", async () => {
    const store = new AsyncMapStore();
    const outputs = await Promise.all(Array.from({ length: 50 }, (_, i) => store.update(`k${i % 2}`, increment, 1)));
    expect(outputs.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => Math.floor(i / 2) + 1));
    if (!onWorkersNow()) expect(store.conflicts).toBe(0);
  });

  it("update on Workers: each caller runs its own loop (no request starts I/O from another's promise), the sum stays exact", async () => {
    const store = new AsyncMapStore();
    let first: Promise<number> | undefined;
    // The choice is made on the first update; where the runtime will not let the test pose as Workers, only workerd checks it.
    if (!withUserAgent("Cloudflare-Workers", () => void (first = store.update("k", increment, 1))) && !onWorkersNow()) return;
    first ??= store.update("k", increment, 1);
    const outputs = await Promise.all([first, ...Array.from({ length: 19 }, () => store.update("k", increment, 1))]);
    expect(outputs.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(store.conflicts).toBeGreaterThan(0);
  });

  it("update: a hung turn holds the next caller up no longer than its own timeout", async () => {
    const clock = new ManualClock();
    const store = new AsyncMapStore({ clock, timeoutMs: 100 });
    store.hang = true;
    const first = store.update("k", increment, 1).catch((e: unknown) => e);
    await clock.advance(10);
    store.hang = false;
    const second = store.update("k", increment, 1);
    await clock.advance(90);
    expect(await first).toMatchObject({ code: "ERR_STORE_TIMEOUT" });
    expect(await second).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("update: UNCHANGED writes nothing, undefined deletes at the version read, a throwing transition's error is kept", async () => {
    const store = new AsyncMapStore();
    await store.set("k", 5);
    const writes = store.writes.length;
    expect(await store.update("k", { name: "peek", apply: (c) => ({ next: UNCHANGED, output: c ?? null }) }, null)).toBe(5);
    expect(store.writes.length).toBe(writes);
    await store.update("k", { name: "del", apply: () => ({ next: undefined, output: null }) }, null);
    expect(store.data.size).toBe(0);
    const boom = new RangeError("bad state");
    await expect(store.update("k", { name: "boom", apply: () => { throw boom; } }, null)).rejects.toBe(boom);
    const big = { name: "big", apply: () => ({ next: "x".repeat(200), output: null }) };
    await expect(store.update("k", big, null)).rejects.toMatchObject({ code: "ERR_STORE_LIMIT" });
  });

  it("validates the common options in one ConfigError", () => {
    let error: unknown;
    try {
      new AsyncMapStore({ prefix: 1, timeoutMs: 0, clock: {}, extra: true } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.field).sort()).toEqual(["clock", "extra", "prefix", "timeoutMs"]);
    expect((error as ConfigError).message).toContain("a finite number of milliseconds > 0");
  });
});

describe("store helpers", () => {
  it("utf8ByteLength agrees with TextEncoder, lone surrogates included", () => {
    const encoder = new TextEncoder();
    const units = fc.array(fc.integer({ min: 0, max: 0xffff })).map((codes) => String.fromCharCode(...codes));
    const astral = fc.array(fc.integer({ min: 0, max: 0x10ffff })).map((points) => String.fromCodePoint(...points));
    fc.assert(
      // Code units (lone surrogates too), and whole code points across every plane.
      fc.property(fc.oneof(units, astral), (text) => utf8ByteLength(text) === encoder.encode(text).length),
      { numRuns: 300 },
    );
  });

  it("envelopes round trip every JSON value, within the declared overhead", () => {
    const next = versionSource();
    fc.assert(
      fc.property(fc.jsonValue(), fc.option(fc.integer({ min: 0, max: 8_640_000_000_000_000 }), { nil: undefined }), (value, expiresAt) => {
        const json = JSON.stringify(value);
        const version = next();
        const text = encodeEnvelope(json, version, expiresAt);
        const entry = decodeEnvelope(text);
        expect(JSON.stringify(entry.value)).toBe(json);
        expect(entry.version).toBe(version);
        expect(entry.expiresAt).toBe(expiresAt);
        expect(utf8ByteLength(text) - utf8ByteLength(json)).toBeLessThanOrEqual(envelopeOverheadBytes(utf8ByteLength(version)));
      }),
    );
  });

  it("versions never repeat within a source or across sources", () => {
    const seen = new Set<string>();
    for (let s = 0; s < 20; s++) {
      const next = versionSource();
      for (let i = 0; i < 100; i++) seen.add(next());
    }
    expect(seen.size).toBe(2_000);
  });
});

describe("MemoryStore against a model", () => {
  it("behaves like a Map with versions, under any sequence of operations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            op: fc.constantFrom("get", "set", "delete", "insert", "cas", "casStale", "inc"),
            key: fc.constantFrom("a", "b", "c"),
            value: fc.integer({ min: 0, max: 9 }),
          }),
          { maxLength: 40 },
        ),
        async (ops) => {
          const store = new MemoryStore({ maxEntries: 10 });
          const model = new Map<string, number>();
          for (const { op, key, value } of ops) {
            const current = await store.get(key);
            expect(current?.value).toBe(model.get(key));
            if (op === "set") {
              await store.set(key, value);
              model.set(key, value);
            } else if (op === "delete") {
              expect(await store.delete(key)).toBe(model.has(key));
              model.delete(key);
            } else if (op === "insert") {
              const result = await store.insertIfAbsent(key, value);
              expect(result.ok).toBe(!model.has(key));
              if (result.ok) model.set(key, value);
            } else if (op === "cas") {
              const result = await store.compareAndSet(key, current?.version, value);
              expect(result.ok).toBe(true);
              model.set(key, value);
            } else if (op === "casStale" && current !== undefined) {
              await store.set(key, model.get(key)!);
              expect((await store.compareAndSet(key, current.version, value)).ok).toBe(false);
            } else if (op === "inc") {
              expect(await store.update(key, increment, value)).toBe((model.get(key) ?? 0) + value);
              model.set(key, (model.get(key) ?? 0) + value);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("requireStore", () => {
  const needs = { atomic: true, strong: true, why: "two instances could both take the last token" };
  const eventual = { ...new MemoryStore().capabilities, atomic: false, consistency: "eventual" as const };

  it("accepts a store that has what is needed, and anything with bestEffort", () => {
    requireStore("Limiter", new MemoryStore(), needs);
    const weak = Object.assign(new MemoryStore(), { name: "kv" });
    Object.defineProperty(weak, "capabilities", { value: eventual });
    requireStore("Limiter", weak, needs, true);
  });

  it("refuses the others with a ConfigError that names the store, what is missing and why", () => {
    const weak = Object.assign(new MemoryStore(), { name: "workers-kv" });
    Object.defineProperty(weak, "capabilities", { value: eventual });
    let error: unknown;
    try {
      requireStore("Limiter", weak, needs);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain("'store' must be a store with atomic operations");
    expect(message).toContain("strong consistency");
    expect(message).toContain("two instances could both take the last token");
    expect(message).toContain("bestEffort: true");
    expect(message).toContain('current value is "workers-kv"');
    expect(() => requireStore("Limiter", 42, needs, true)).toThrow(ConfigError);
  });
});
