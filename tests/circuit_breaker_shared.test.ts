// Shared circuit breakers (issue 9): instances of one breaker sharing their
// state through a store, on a ManualClock. Each `CircuitBreaker` below is
// one instance of the fleet (an isolate, a process); they share a
// MemoryStore, counted by CountingStore, broken by FaultyStore.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitBreakerRegistry,
  CircuitOpenError,
  type CircuitStoreErrorEvent,
  ConfigError,
  MemoryStore,
  type SharedCircuitRecord,
  type Store,
  StoreError,
} from "../mod.ts";
import { mergeShared, type SharedIntent } from "../src/breaker/shared.ts";
import { CountingStore, FaultyStore, ManualClock } from "../src/testing/mod.ts";
import { onWorkersNow } from "./_support/user_agent.ts";

/** A few macrotask turns: store promises (and their continuations) settle. */
async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

const onWorkers = onWorkersNow();
const boom = () => Promise.reject(new Error("down"));
const ok = () => "ok";

/** A store that declares `capabilities` over another's (KV-like limits on a MemoryStore). */
function withCapabilities(store: Store, overrides: Partial<Store["capabilities"]>): CountingStore {
  const counting = new CountingStore(store);
  Object.defineProperty(counting, "capabilities", { value: { ...store.capabilities, ...overrides } });
  return counting;
}

function fleet(count: number, options: Partial<CircuitBreakerOptions<never>> = {}) {
  const clock = new ManualClock();
  const store = new CountingStore(new MemoryStore({ clock }));
  const make = (extra: Partial<CircuitBreakerOptions<never>> = {}) =>
    new CircuitBreaker({
      name: "payments",
      store,
      clock,
      maxFailures: 2,
      resetTimeoutMs: 10_000,
      refreshMs: 1_000,
      storeTimeoutMs: 500,
      ...options,
      ...extra,
    });
  return { clock, store, breakers: Array.from({ length: count }, () => make()), make };
}

async function trip(breaker: CircuitBreaker): Promise<void> {
  await breaker.execute(boom).catch(() => {});
  await breaker.execute(boom).catch(() => {});
  await drain();
}

describe("shared circuit breakers: options", () => {
  it("a store needs a name; the shared options need a store; each bad field is named", () => {
    const store = new MemoryStore();
    const thrown = (options: CircuitBreakerOptions<never>): ConfigError => {
      try {
        new CircuitBreaker(options);
      } catch (error) {
        return error as ConfigError;
      }
      throw new Error("expected a ConfigError");
    };
    expect(thrown({ store }).issues.map((issue) => issue.field)).toEqual(["name"]);
    expect(thrown({ refreshMs: 100, quorum: 2 }).issues.map((issue) => issue.field).sort()).toEqual(["quorum", "refreshMs"]);
    const bad = thrown({ name: "x", store, refreshMs: -1, storeTimeoutMs: 0, quorum: 0, waitUntil: 3 as never });
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.issues.map((issue) => issue.field).sort()).toEqual(["quorum", "refreshMs", "storeTimeoutMs", "waitUntil"]);
    expect(thrown({ name: "x", store, quorumWindowMs: 5 }).issues.map((issue) => issue.field)).toEqual(["quorumWindowMs"]);
    expect(thrown({ name: "x", store: {} as Store }).issues.map((issue) => issue.field)).toEqual(["store"]);
  });

  it("a store without atomic operations (Workers KV) needs bestEffort: true", () => {
    const kvLike = withCapabilities(new MemoryStore(), { atomic: false, consistency: "eventual", minWriteIntervalMs: 1_000 });
    let error: unknown;
    try {
      new CircuitBreaker({ name: "x", store: kvLike });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toContain("bestEffort");
    expect(new CircuitBreaker({ name: "x", store: kvLike, bestEffort: true }).state).toBe("closed");
  });

  it("a Store of one's own that does not extend StoreAdapter is refused on 'store', saying what to do; wrapped by CountingStore it shares", async () => {
    // The sharing code comes with StoreAdapter (src/breaker/sharing.ts): a
    // bare object implementing the interface does not carry it.
    const inner = new MemoryStore();
    const bare: Store = {
      name: "mine",
      capabilities: inner.capabilities,
      get: (key, options) => inner.get(key, options),
      set: (key, value, options) => inner.set(key, value, options),
      delete: (key, options) => inner.delete(key, options),
      insertIfAbsent: (key, value, options) => inner.insertIfAbsent(key, value, options),
      compareAndSet: (key, expected, value, options) => inner.compareAndSet(key, expected, value, options),
      update: (key, transition, input, options) => inner.update(key, transition, input, options),
    };
    let error: unknown;
    try {
      new CircuitBreaker({ name: "x", store: bare });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([{
      field: "store",
      value: "mine",
      allowed: "a Store that can share a breaker's state: a StoreAdapter (MemoryStore, RedisStore, KvStore, " +
        "DurableObjectStore, ...); a store of your own extends StoreAdapter (docs/stores.md)",
    }]);
    // The testing wrappers carry the sharing code themselves, whatever they wrap.
    const a = new CircuitBreaker({ name: "x", store: new CountingStore(bare), maxFailures: 1 });
    const b = new CircuitBreaker({ name: "x", store: new CountingStore(bare), maxFailures: 1 });
    await a.execute(ok);
    await b.execute(ok);
    await a.execute(boom).catch(() => {});
    await drain();
    expect(((await inner.get("breaker:x"))?.value as unknown as SharedCircuitRecord).state).toBe("open");
  });

  it("the constructor does no store I/O", () => {
    const { store } = fleet(3);
    expect(store.total).toBe(0);
  });

  it("a registry passes its store to the breakers it creates", async () => {
    const clock = new ManualClock();
    const store = new CountingStore(new MemoryStore({ clock }));
    const a = new CircuitBreakerRegistry({ store, clock, maxFailures: 1 });
    const b = new CircuitBreakerRegistry({ store, clock, maxFailures: 1 });
    expect(a.getOrCreate("db").options.store).toBe(store);
    await a.getOrCreate("db").execute(boom).catch(() => {});
    await drain();
    let called = false;
    const refused = await b.getOrCreate("db").execute(() => {
      called = true;
    }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(called).toBe(false);
  });
});

describe("shared circuit breakers: round trips", () => {
  it("the first call reads once; healthy calls after it make no store I/O at all", async () => {
    const { store, breakers: [a] } = fleet(1);
    expect(await a!.execute(ok)).toBe("ok");
    expect(store.counts.get).toBe(1);
    for (let i = 0; i < 1_000; i++) await a!.execute(ok);
    await a!.execute(boom).catch(() => {});
    await a!.execute(ok);
    await drain();
    expect(store.total).toBe(1);
  });

  it("reads at most once per refresh interval, however many calls", async () => {
    const { clock, store, breakers: [a] } = fleet(1);
    await a!.execute(ok);
    for (let interval = 1; interval <= 5; interval++) {
      await clock.advance(999);
      await Promise.all(Array.from({ length: 100 }, () => a!.execute(ok)));
      await drain();
      expect(store.counts.get).toBe(interval);
      await clock.advance(1);
      await Promise.all(Array.from({ length: 100 }, () => a!.execute(ok)));
      await drain();
      expect(store.counts.get).toBe(interval + 1);
    }
  });

  // On Workers a timer may not outlive its request: calls find the refresh due by the clock instead.
  (onWorkers ? it.skip : it)("while calls come, a timer reads every refreshMs; idle for an interval, no timer is left", async () => {
    const { clock, store, breakers: [a] } = fleet(1);
    await a!.execute(ok);
    await drain();
    expect(clock.pending).toBe(1);
    for (let i = 0; i < 3; i++) {
      await a!.execute(ok);
      await clock.advance(1_000);
      await drain();
    }
    expect(store.counts.get).toBe(4);
    // No call in the last interval: the timer fires once more, reads nothing, and is gone.
    await clock.advance(1_000);
    await drain();
    expect(clock.pending).toBe(0);
    expect(store.counts.get).toBe(4);
    await clock.advance(60_000);
    // Back after an idle minute: the first call reads at once (in the background) and re-arms.
    await a!.execute(ok);
    await drain();
    expect(store.counts.get).toBe(5);
    expect(clock.pending).toBe(1);
  });

  it("writes on transitions only, and never the state the store already holds", async () => {
    const { clock, store, breakers: [a, b] } = fleet(2);
    await a!.execute(ok);
    await b!.execute(ok);
    store.reset();
    await trip(a!);
    expect(store.counts.compareAndSet).toBe(1);
    // Rejections, reads of the state: no writes.
    for (let i = 0; i < 100; i++) await a!.execute(ok).catch(() => {});
    expect(a!.state).toBe("open");
    // B adopts the opening and does not write it back.
    await clock.advance(1_000);
    await a!.execute(ok).catch(() => {});
    await b!.execute(ok).catch(() => {});
    await drain();
    expect(b!.state).toBe("open");
    expect(store.counts.compareAndSet).toBe(1);
    // One read each in that interval (both had calls), none more.
    expect(store.counts.get).toBe(2);
  });

  it("coalesces writes to one key to one per minWriteIntervalMs (Workers KV: 1 s)", async () => {
    const clock = new ManualClock();
    const store = withCapabilities(new MemoryStore({ clock }), { minWriteIntervalMs: 1_000 });
    const breaker = new CircuitBreaker({ name: "kv", store, clock, maxFailures: 1 });
    await breaker.execute(ok);
    for (const step of [() => breaker.forceOpen(), () => breaker.reset(), () => breaker.forceOpen(), () => breaker.reset()]) {
      step();
      await clock.advance(100);
    }
    breaker.forceOpen();
    await drain();
    expect(store.counts.compareAndSet).toBe(1);
    await clock.advance(599);
    await drain();
    expect(store.counts.compareAndSet).toBe(1);
    await clock.advance(1);
    await drain();
    // The latest state, once.
    expect(store.counts.compareAndSet).toBe(2);
    expect(((await store.inner.get("breaker:kv"))?.value as unknown as SharedCircuitRecord).state).toBe("forced-open");
    await clock.advance(5_000);
    await drain();
    expect(store.counts.compareAndSet).toBe(2);
  });

  it("a transition made while a write is in flight is written right after it", async () => {
    const clock = new ManualClock();
    const store = new FaultyStore(new MemoryStore({ clock }), { clock, timeoutMs: 60_000 });
    const breaker = new CircuitBreaker({ name: "w", store, clock, maxFailures: 1, storeTimeoutMs: 500 });
    await breaker.execute(ok);
    store.inject("compareAndSet", { kind: "late", delayMs: 100 });
    breaker.forceOpen();
    breaker.reset();
    await clock.advance(100);
    await drain();
    store.inject("compareAndSet", undefined);
    await clock.advance(100);
    await drain();
    expect(((await store.inner.get("breaker:w"))?.value as unknown as SharedCircuitRecord).state).toBe("closed");
  });

  it("property: whatever the transitions, two writes of the state key are never closer than the interval", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom("fail", "ok", "force", "reset", "wait"), fc.integer({ min: 0, max: 1_500 })), {
          maxLength: 30,
        }),
        async (steps) => {
          const clock = new ManualClock();
          const inner = new MemoryStore({ clock });
          const writes: number[] = [];
          const store = withCapabilities(inner, { minWriteIntervalMs: 1_000 });
          const compareAndSet = store.compareAndSet.bind(store);
          store.compareAndSet = ((...args: Parameters<Store["compareAndSet"]>) => {
            if (args[0] === "breaker:p") writes.push(clock.now());
            return compareAndSet(...args);
          }) as Store["compareAndSet"];
          const breaker = new CircuitBreaker({ name: "p", store, clock, maxFailures: 1, resetTimeoutMs: 500 });
          for (const [step, ms] of steps) {
            if (step === "fail") await breaker.execute(boom).catch(() => {});
            else if (step === "ok") await breaker.execute(ok).catch(() => {});
            else if (step === "force") breaker.forceOpen();
            else if (step === "reset") breaker.reset();
            else await clock.advance(ms);
            await drain();
          }
          for (let i = 1; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBeGreaterThanOrEqual(1_000);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("shared circuit breakers: propagation", () => {
  it("an instance that trips opens the circuit for a fresh instance's very first call", async () => {
    const { make, breakers: [a] } = fleet(1);
    await trip(a!);
    const fresh = make();
    let called = 0;
    const refused = await fresh.execute(() => called++).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(called).toBe(0);
    expect(fresh.state).toBe("open");
    expect(fresh.remainingMs).toBe(a!.remainingMs);
  });

  it("a running instance sees the opening within one refresh interval, and the close after the probe", async () => {
    const { clock, breakers: [a, b] } = fleet(2);
    await a!.execute(ok);
    await b!.execute(ok);
    await trip(a!);
    // B stays busy: its calls run on its local state, and its refresh (a timer, or on Workers the call finding it due) reads in the background.
    await clock.advance(500);
    expect(await b!.execute(ok)).toBe("ok");
    await clock.advance(500);
    // On Workers the call that finds the refresh due starts it and goes on; the read lands before the next.
    await b!.execute(ok).catch(() => {});
    await drain();
    let called = 0;
    expect(await b!.execute(() => called++).catch((error: unknown) => error)).toBeInstanceOf(CircuitOpenError);
    expect(called).toBe(0);
    // A probes after the reset timeout and closes the circuit for everyone.
    await clock.advance(9_000);
    expect(await a!.execute(ok)).toBe("ok");
    await drain();
    expect(a!.state).toBe("closed");
    await clock.advance(1_000);
    await b!.execute(ok).catch(() => {});
    await drain();
    expect(b!.state).toBe("closed");
    expect(await b!.execute(ok)).toBe("ok");
  });

  it("a store that lost its data: the next opening still counts up from what the instances saw", async () => {
    const { clock, store, breakers: [a, b] } = fleet(2);
    await a!.execute(ok);
    await b!.execute(ok);
    await trip(a!);
    await clock.advance(10_000);
    await a!.execute(ok);
    await b!.execute(ok).catch(() => {});
    await drain();
    expect(a!.state).toBe("closed");
    expect(b!.state).toBe("closed");
    // The engine restarts empty (redis-server without persistence).
    await store.inner.delete("breaker:payments");
    await trip(a!);
    expect(((await store.inner.get("breaker:payments"))?.value as unknown as SharedCircuitRecord).seq).toBe(3);
    await clock.advance(1_000);
    await b!.execute(ok).catch(() => {});
    await drain();
    expect(b!.state).toBe("open");
  });

  it("forceOpen and reset reach every instance", async () => {
    const { clock, breakers: [a, b] } = fleet(2);
    await a!.execute(ok);
    await b!.execute(ok);
    a!.forceOpen();
    await drain();
    await clock.advance(1_000);
    await b!.execute(ok).catch(() => {});
    await drain();
    expect(b!.state).toBe("forced-open");
    a!.reset();
    await drain();
    await clock.advance(1_000);
    await b!.execute(ok).catch(() => {});
    await drain();
    expect(b!.state).toBe("closed");
  });

  it("a transition's write is handed to waitUntil, and completes after the call answered", async () => {
    const clock = new ManualClock();
    const store = new CountingStore(new MemoryStore({ clock }));
    const handed: Promise<unknown>[] = [];
    const breaker = new CircuitBreaker({ name: "w", store, clock, maxFailures: 1, waitUntil: (p) => handed.push(p) });
    await breaker.execute(ok);
    const before = handed.length;
    await breaker.execute(boom).catch(() => {});
    expect(handed.length).toBe(before + 1);
    await Promise.all(handed);
    expect(((await store.inner.get("breaker:w"))?.value as unknown as SharedCircuitRecord).state).toBe("open");
  });
});

describe("shared circuit breakers: convergence", () => {
  it("property: whatever the instances did, once calls flow every instance agrees with the store, and the store's seq only grows", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom("fail", "ok", "force", "reset", "disable", "wait"), fc.integer({ min: 0, max: 1_500 })),
          { maxLength: 25 },
        ),
        async (steps) => {
          const { clock, store, breakers } = fleet(3, { maxFailures: 1, resetTimeoutMs: 500 });
          const seqs: number[] = [];
          const record = async () => (await store.inner.get("breaker:payments"))?.value as unknown as SharedCircuitRecord | undefined;
          for (const [i, step, ms] of steps) {
            const breaker = breakers[i]!;
            if (step === "fail") await breaker.execute(boom).catch(() => {});
            else if (step === "ok") await breaker.execute(ok).catch(() => {});
            else if (step === "force") breaker.forceOpen();
            else if (step === "reset") breaker.reset();
            else if (step === "disable") breaker.disable();
            else await clock.advance(ms);
            await drain();
            const current = await record();
            if (current !== undefined) seqs.push(current.seq);
          }
          // Calls flow for a few intervals (probes succeed, refreshes land).
          for (let round = 0; round < 4; round++) {
            await clock.advance(1_000);
            for (const breaker of breakers) await breaker.execute(ok).catch(() => {});
            await drain();
          }
          const final = await record();
          if (final !== undefined) seqs.push(final.seq);
          for (let k = 1; k < seqs.length; k++) expect(seqs[k]!).toBeGreaterThanOrEqual(seqs[k - 1]!);
          // Probes succeed once calls flow: an opening ends closed, everywhere.
          const expected = final?.state ?? "closed";
          expect(expected).not.toBe("open");
          for (const breaker of breakers) expect(breaker.state).toBe(expected);
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);
});

describe("shared circuit breakers: one probe fleet-wide", () => {
  it("200 concurrent calls across 4 instances in half-open: exactly one reaches the dependency", async () => {
    const { clock, breakers } = fleet(4);
    for (const breaker of breakers) await breaker.execute(ok);
    await trip(breakers[0]!);
    await clock.advance(1_000);
    for (const breaker of breakers) await breaker.execute(ok).catch(() => {});
    await drain();
    for (const breaker of breakers) expect(breaker.state).toBe("open");
    await clock.advance(9_000);
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const results = Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        breakers[i % 4]!.execute(async () => {
          calls++;
          await gate;
          return "probe";
        })),
    );
    await drain();
    expect(calls).toBe(1);
    release();
    const settled = await results;
    expect(settled.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of settled) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(CircuitOpenError);
  });

  it("a prober that dies does not wedge the breaker: its lease expires after halfOpenMaxWaitMs", async () => {
    const { clock, breakers: [a, b] } = fleet(2, { halfOpenMaxWaitMs: 5_000 });
    await a!.execute(ok);
    await b!.execute(ok);
    await trip(a!);
    await clock.advance(1_000);
    await b!.execute(ok).catch(() => {});
    await drain();
    await clock.advance(9_000);
    // A takes the lease and its probe never answers (the process died).
    void a!.execute(() => new Promise(() => {}));
    await drain();
    let calls = 0;
    const refused = await b!.execute(() => calls++).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).remainingMs).toBe(5_000);
    await clock.advance(4_999);
    await b!.execute(() => calls++).catch(() => {});
    await drain();
    expect(calls).toBe(0);
    await clock.advance(1);
    expect(await b!.execute(() => ++calls)).toBe(1);
    await drain();
    expect(b!.state).toBe("closed");
  });
});

describe("shared circuit breakers: quorum", () => {
  it("opens the shared circuit only once N distinct instances tripped within the window", async () => {
    const { clock, breakers: [a, b, c] } = fleet(3, { quorum: 2, quorumWindowMs: 30_000 });
    for (const breaker of [a, b, c]) await breaker!.execute(ok);
    await trip(a!);
    expect(a!.state).toBe("open");
    // One instance is not a quorum: C stays closed.
    await clock.advance(1_000);
    expect(await c!.execute(ok)).toBe("ok");
    await drain();
    expect(await c!.execute(ok)).toBe("ok");
    // A trips again (its own vote counts once), B trips: two distinct instances.
    await clock.advance(10_000);
    await a!.execute(boom).catch(() => {});
    await trip(b!);
    await clock.advance(1_000);
    await c!.execute(ok).catch(() => {});
    await drain();
    expect(c!.state).toBe("open");
  });

  it("votes older than the window do not count", async () => {
    const { clock, breakers: [a, b, c] } = fleet(3, { quorum: 2, quorumWindowMs: 5_000, resetTimeoutMs: 1_000 });
    for (const breaker of [a, b, c]) await breaker!.execute(ok);
    await trip(a!);
    await clock.advance(6_000);
    await trip(b!);
    await clock.advance(1_000);
    await c!.execute(ok).catch(() => {});
    await drain();
    expect(c!.state).toBe("closed");
  });

  it("property: the shared circuit opens exactly when the reference count of distinct recent voters reaches the quorum", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d", "e"), fc.integer({ min: 0, max: 3_000 })), { maxLength: 20 }),
        (quorum, trips) => {
          const windowMs = 5_000;
          let record: SharedCircuitRecord | undefined;
          let now = 0;
          const recent = new Map<string, number>();
          for (const [id, gap] of trips) {
            now += gap;
            if (record?.state === "open") break;
            const intent: SharedIntent = { kind: "trip", state: "open", openedAt: now, openPeriodMs: 1_000, openings: 1, basisSeq: record?.seq ?? 0, basisGen: "" };
            const next = mergeShared(record, intent, { id, now, quorum, quorumWindowMs: windowMs });
            recent.set(id, now);
            for (const [voter, at] of recent) if (at <= now - windowMs) recent.delete(voter);
            expect(next).toBeDefined();
            expect(next!.seq).toBe((record?.seq ?? 0) + 1);
            expect(next!.state).toBe(recent.size >= quorum ? "open" : "closed");
            if (next!.state === "closed") expect(new Set(next!.votes.map((v) => v.id)).size).toBe(next!.votes.length);
            record = next;
          }
        },
      ),
    );
  });

  it("instance ids are random UUIDs, distinct per instance", async () => {
    const { clock, store, breakers: [a, b] } = fleet(2, { quorum: 3 });
    await a!.execute(ok);
    await b!.execute(ok);
    await trip(a!);
    await clock.advance(1_000);
    await b!.execute(ok);
    await drain();
    await trip(b!);
    const record = (await store.inner.get("breaker:payments"))!.value as unknown as SharedCircuitRecord;
    expect(record.votes).toHaveLength(2);
    for (const vote of record.votes) expect(vote.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(record.votes[0]!.id).not.toBe(record.votes[1]!.id);
  });
});

describe("shared circuit breakers: the store is never the weak link", () => {
  function faulty(options: Partial<CircuitBreakerOptions<never>> = {}) {
    const clock = new ManualClock();
    const shared = new MemoryStore({ clock });
    // The store's own bound is far away: the breaker's storeTimeoutMs must act first.
    const store = new FaultyStore(shared, { clock, timeoutMs: 60_000 });
    const errors: CircuitStoreErrorEvent[] = [];
    const make = (on: Store = store) => {
      const breaker = new CircuitBreaker({
        name: "db",
        store: on,
        clock,
        maxFailures: 1,
        resetTimeoutMs: 10_000,
        refreshMs: 1_000,
        storeTimeoutMs: 200,
        ...options,
      });
      breaker.on("storeError", (event) => errors.push(event));
      return breaker;
    };
    return { clock, shared, store, errors, make };
  }

  it("a hanging store delays a fresh instance's first call by storeTimeoutMs at most, then the call runs", async () => {
    const { clock, store, errors, make } = faulty();
    store.inject("get", { kind: "hang" });
    const breaker = make();
    let settled = false;
    const call = breaker.execute(ok).then((value) => {
      settled = true;
      return value;
    });
    await clock.advance(199);
    await drain();
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await call).toBe("ok");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: "db", operation: "read" });
    expect(errors[0]!.error).toBeInstanceOf(StoreError);
    expect((errors[0]!.error as StoreError).code).toBe("ERR_STORE_TIMEOUT");
    // Later calls do not wait at all, even while the store still hangs.
    await clock.advance(1_000);
    let answered = false;
    void breaker.execute(ok).then(() => (answered = true));
    await drain();
    expect(answered).toBe(true);
  });

  it("a failing store: the breaker trips locally, reports it, and writes once the store is back", async () => {
    const { clock, shared, store, errors, make } = faulty();
    const a = make();
    await a.execute(ok);
    store.inject("all", { kind: "fail" });
    await a.execute(boom).catch(() => {});
    await drain();
    expect(a.state).toBe("open");
    expect(errors.map((e) => e.operation)).toEqual(["write"]);
    expect(await shared.get("breaker:db")).toBeUndefined();
    store.inject("all", undefined);
    await clock.advance(1_000);
    await a.execute(ok).catch(() => {});
    await drain();
    expect(((await shared.get("breaker:db"))?.value as unknown as SharedCircuitRecord).state).toBe("open");
    // A healthy instance on the same data sees it.
    const b = make(new MemoryStore({ clock }) as Store);
    expect(b.state).toBe("closed");
    const c = make(shared);
    expect(await c.execute(ok).catch((error: unknown) => error)).toBeInstanceOf(CircuitOpenError);
  });

  it("a store that answers late or hangs on the lease: the probe goes ahead on local state within storeTimeoutMs", async () => {
    const { clock, store, errors, make } = faulty();
    const a = make();
    await a.execute(ok);
    await a.execute(boom).catch(() => {});
    await drain();
    await clock.advance(10_000);
    store.inject("insertIfAbsent", { kind: "late", delayMs: 5_000 });
    let settled = false;
    const probe = a.execute(() => "probed").then((value) => {
      settled = true;
      return value;
    });
    await clock.advance(199);
    await drain();
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await probe).toBe("probed");
    expect(errors.some((e) => e.operation === "lease")).toBe(true);
    expect(a.state).toBe("closed");
  });

  it("stale reads never move an instance back to an older state, and it catches up when they stop", async () => {
    const { clock, shared, store, make } = faulty();
    const writer = make(shared);
    const reader = make();
    await writer.execute(ok);
    await reader.execute(ok);
    await writer.execute(boom).catch(() => {});
    await drain();
    await clock.advance(1_000);
    await reader.execute(ok).catch(() => {});
    await drain();
    expect(reader.state).toBe("open");
    // From now on reads lag one write behind (what this wrapper saw written before: nothing).
    store.inject("get", { kind: "stale" });
    for (let i = 0; i < 5; i++) {
      await clock.advance(1_000);
      await reader.execute(ok).catch(() => {});
      await drain();
      expect(reader.state).toBe("open");
    }
    store.inject("get", undefined);
    await clock.advance(10_000);
    await writer.execute(ok);
    await drain();
    await clock.advance(1_000);
    await reader.execute(ok).catch(() => {});
    await drain();
    expect(reader.state).toBe("closed");
  });

  it("a listener that throws on storeError changes nothing", async () => {
    const { clock, store, make } = faulty();
    store.inject("get", { kind: "fail" });
    const breaker = make();
    breaker.on("storeError", () => {
      throw new Error("listener bug");
    });
    const call = breaker.execute(ok);
    await clock.advance(0);
    expect(await call).toBe("ok");
  });
});
