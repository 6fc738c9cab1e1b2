import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AlgorithmOptions,
  ConfigError,
  DistributedRateLimiter,
  InvalidArgumentError,
  KeyedRateLimiter,
  MemoryStore,
  RATE_LIMIT_TRANSITIONS,
  rateLimitHeaders,
  type Json,
  type RawWrite,
  type RawWriteResult,
  type Store,
  StoreAdapter,
  type StoreCapabilities,
  StoreError,
  type Transition,
  UNCHANGED,
} from "../mod.ts";
import { CountingStore, FaultyStore, ManualClock } from "../src/testing/mod.ts";
import { admittedOf, algorithmsWithLimit, label } from "./_support/distributed_limit_scenarios.ts";
import { thrown } from "./_support/thrown.ts";
import { onWorkersNow } from "./_support/user_agent.ts";

/** A store that runs on `clock` (its wallNow is the engine's time). */
function memory(clock: ManualClock): MemoryStore {
  return new MemoryStore({ clock });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("DistributedRateLimiter", () => {
  it("decides each algorithm on the store's time: fixed window", async () => {
    const clock = new ManualClock({ wallNow: 10_000 });
    const limiter = new DistributedRateLimiter({ store: memory(clock), algorithm: "fixed-window", limit: 2, windowMs: 1_000, clock });
    const first = await limiter.limit("k");
    expect(first).toEqual({ allowed: true, cost: 1, limit: 2, windowMs: 1_000, remaining: 1, retryAfterMs: 0, resetMs: 1_000, source: "store" });
    await clock.advance(400);
    expect((await limiter.limit("k")).remaining).toBe(0);
    const refused = await limiter.limit("k");
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 600, resetMs: 600, source: "store" });
    await clock.advance(600);
    expect((await limiter.limit("k")).allowed).toBe(true);
  });

  it("token bucket, GCRA and both sliding windows refuse with the wait their in-process twins give", async () => {
    const cases: [AlgorithmOptions, number][] = [
      [{ algorithm: "token-bucket", rate: 2, perMs: 1_000 }, 500],
      [{ algorithm: "gcra", rate: 2, perMs: 1_000 }, 500],
      [{ algorithm: "sliding-window", limit: 2, windowMs: 1_000 }, 1_000],
      // The counter weighs the first window fully until 1000, then fades it: 2 × (1 − f) + 1 <= 2 at f = 0.5.
      [{ algorithm: "sliding-window", limit: 2, windowMs: 1_000, approximate: true }, 1_500],
    ];
    for (const [options, wait] of cases) {
      const clock = new ManualClock({ wallNow: 0 });
      const limiter = new DistributedRateLimiter({ ...options, store: memory(clock), clock });
      expect((await limiter.limit("k", { cost: 2 })).allowed).toBe(true);
      const refused = await limiter.limit("k");
      expect({ [label(options)]: refused.allowed }).toEqual({ [label(options)]: false });
      expect(refused.retryAfterMs).toBeCloseTo(wait, 6);
      await clock.advance(wait);
      expect({ [label(options)]: (await limiter.limit("k")).allowed }).toEqual({ [label(options)]: true });
    }
  });

  it("its decisions feed rateLimitHeaders()", async () => {
    const clock = new ManualClock({ wallNow: 0 });
    const limiter = new DistributedRateLimiter({ store: memory(clock), algorithm: "fixed-window", limit: 1, windowMs: 60_000, clock });
    await limiter.limit("k");
    expect(rateLimitHeaders(await limiter.limit("k"))).toEqual({
      "RateLimit-Policy": '"default";q=1;w=60',
      RateLimit: '"default";r=0;t=60',
      "Retry-After": "60",
    });
  });

  it("one store operation per decision, none for a key known blocked until its retryAfterMs has passed", async () => {
    const clock = new ManualClock({ wallNow: 0 });
    const store = new CountingStore(memory(clock));
    const limiter = new DistributedRateLimiter({ store, algorithm: "gcra", rate: 10, perMs: 1_000, burst: 3, clock });
    for (let i = 0; i < 4; i++) await limiter.limit("k");
    expect(store.counts.update).toBe(4);
    expect(store.total).toBe(4);
    // Hammering: answered locally, with the wait still due.
    await clock.advance(40);
    const local = await limiter.limit("k");
    expect(local).toMatchObject({ allowed: false, retryAfterMs: 60, source: "cache" });
    for (let i = 0; i < 100; i++) await limiter.limit("k");
    expect(store.total).toBe(4);
    expect(limiter.stats).toMatchObject({ decisions: 105, allowed: 3, denied: 102, storeCalls: 4, cacheHits: 101, blockedKeys: 1 });
    // A smaller cost, or the wait over: the store decides.
    await clock.advance(60);
    expect(await limiter.limit("k")).toMatchObject({ allowed: true, source: "store" });
    expect(store.total).toBe(5);
  });

  it("the cache refuses locally only what the store refused: a smaller cost still asks", async () => {
    const clock = new ManualClock({ wallNow: 0 });
    const store = new CountingStore(memory(clock));
    const limiter = new DistributedRateLimiter({ store, algorithm: "fixed-window", limit: 3, windowMs: 1_000, clock });
    await limiter.limit("k", { cost: 2 });
    expect((await limiter.limit("k", { cost: 2 })).allowed).toBe(false);
    expect(await limiter.limit("k", { cost: 3 })).toMatchObject({ allowed: false, source: "cache" });
    expect(await limiter.limit("k", { cost: 1 })).toMatchObject({ allowed: true, source: "store" });
    expect(store.total).toBe(3);
  });

  it("keeps at most maxBlockedKeys blocked keys, and none with 0", async () => {
    const clock = new ManualClock({ wallNow: 0 });
    const limiter = new DistributedRateLimiter({ store: memory(clock), algorithm: "fixed-window", limit: 1, windowMs: 1_000, maxBlockedKeys: 3, clock });
    for (let i = 0; i < 10; i++) {
      await limiter.limit(`k${i}`);
      await limiter.limit(`k${i}`);
    }
    expect(limiter.stats.blockedKeys).toBe(3);
    const off = new DistributedRateLimiter({ store: memory(clock), algorithm: "fixed-window", limit: 1, windowMs: 1_000, maxBlockedKeys: 0, clock });
    await off.limit("k");
    await off.limit("k");
    expect((await off.limit("k")).source).toBe("store");
    expect(off.stats.blockedKeys).toBe(0);
  });

  it("clients whose clocks disagree agree on the limit: the store's time decides", async () => {
    const engine = new ManualClock({ wallNow: 50_000 });
    const store = memory(engine);
    const ahead = new ManualClock({ wallNow: 50_000 + 45_000 });
    const behind = new ManualClock({ wallNow: 50_000 - 45_000 });
    const options = { store, algorithm: "fixed-window" as const, limit: 4, windowMs: 60_000, maxBlockedKeys: 0 };
    const a = new DistributedRateLimiter({ ...options, clock: ahead });
    const b = new DistributedRateLimiter({ ...options, clock: behind });
    const decisions = [await a.limit("k"), await b.limit("k"), await a.limit("k"), await b.limit("k"), await a.limit("k"), await b.limit("k")];
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
    expect(decisions[4]!.retryAfterMs).toBe(decisions[5]!.retryAfterMs);
  });

  for (const options of algorithmsWithLimit(50)) {
    it(`${label(options)}: 200 concurrent calls admit exactly the limit`, async () => {
      expect(await admittedOf(new MemoryStore(), options, "k", 200)).toBe(50);
    });
  }

  it("never admits more than the limit per window (fast-check, against counting by hand)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 700 }), cost: fc.integer({ min: 1, max: 3 }) }), { maxLength: 40 }),
        async (limit, calls) => {
          const clock = new ManualClock({ wallNow: 0 });
          const windowMs = 1_000;
          const limiters = [
            new DistributedRateLimiter({ store: memory(clock), algorithm: "fixed-window", limit, windowMs, clock }),
            new DistributedRateLimiter({ store: memory(clock), algorithm: "sliding-window", limit, windowMs, clock }),
          ];
          const admitted: [number, number][][] = [[], []];
          for (const { gap, cost } of calls) {
            await clock.advance(gap);
            const now = clock.wallNow();
            for (const [i, limiter] of limiters.entries()) {
              if (cost > limit) continue;
              const decision = await limiter.limit("k", { cost });
              if (decision.allowed) admitted[i]!.push([now, cost]);
            }
          }
          // Fixed window: per aligned window. Sliding: per any window ending at an admission.
          const fixed = new Map<number, number>();
          for (const [at, cost] of admitted[0]!) fixed.set(Math.floor(at / windowMs), (fixed.get(Math.floor(at / windowMs)) ?? 0) + cost);
          for (const used of fixed.values()) expect(used).toBeLessThanOrEqual(limit);
          for (const [end] of admitted[1]!) {
            const used = admitted[1]!.filter(([at]) => at > end - windowMs && at <= end).reduce((sum, [, cost]) => sum + cost, 0);
            expect(used).toBeLessThanOrEqual(limit);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  describe("when the store fails", () => {
    const setup = (policy: "allow" | "deny" | "local") => {
      const clock = new ManualClock({ wallNow: 0 });
      const inner = memory(clock);
      const store = new FaultyStore(inner, { clock, timeoutMs: 60_000 });
      const limiter = new DistributedRateLimiter({
        store,
        algorithm: "fixed-window",
        limit: 2,
        windowMs: 1_000,
        timeoutMs: 100,
        onStoreError: policy,
        clock,
      });
      const events: { key: string; timedOut: boolean; policy: string; error: unknown }[] = [];
      limiter.on("storeError", (event) => events.push(event));
      return { clock, inner, store, limiter, events };
    };

    it("a failing store: allow admits, deny refuses, each reported through storeError and stats", async () => {
      const allow = setup("allow");
      allow.store.inject("update", { kind: "fail" });
      expect(await allow.limiter.limit("k")).toMatchObject({ allowed: true, source: "policy" });
      expect(allow.events).toHaveLength(1);
      expect(allow.events[0]).toMatchObject({ key: "k", timedOut: false, policy: "allow" });
      expect(allow.events[0]!.error).toBeInstanceOf(StoreError);
      const deny = setup("deny");
      deny.store.inject("update", { kind: "fail" });
      expect(await deny.limiter.limit("k")).toMatchObject({ allowed: false, source: "policy", retryAfterMs: 500 });
      expect(deny.limiter.stats).toMatchObject({ storeErrors: 1, timeouts: 0, decisions: 1, denied: 1 });
    });

    it("local falls back to an in-process limiter of the same algorithm", async () => {
      const { store, limiter } = setup("local");
      store.inject("update", { kind: "fail" });
      const decisions = [await limiter.limit("k"), await limiter.limit("k"), await limiter.limit("k")];
      expect(decisions.map((d) => [d.allowed, d.source])).toEqual([[true, "policy"], [true, "policy"], [false, "policy"]]);
    });

    it("a hanging store: no call waits past timeoutMs, and nothing is left pending", async () => {
      const { clock, store, limiter, events } = setup("deny");
      store.inject("update", { kind: "hang" });
      const started = clock.now();
      const pending = Promise.all([limiter.limit("a"), limiter.limit("b")]);
      await clock.advance(100);
      const decisions = await pending;
      expect(clock.now() - started).toBe(100);
      expect(decisions.map((d) => d.source)).toEqual(["policy", "policy"]);
      expect(events.map((e) => e.timedOut)).toEqual([true, true]);
      expect(limiter.stats.timeouts).toBe(2);
      expect(clock.pending).toBe(0);
    });

    for (const wrapped of [false, true]) {
      const how = wrapped
        ? "a store that is not a StoreAdapter: on one timer of the limiter's (and an abort signal)"
        : "a StoreAdapter with a longer timeoutMs bounds each call by the limiter's: on one timer of the store's";
      it(`hanging decisions started at different times: each answered by the policy exactly timeoutMs after it started; ${how}`, async () => {
        const { clock, store, limiter: direct } = setup("deny");
        // CountingStore is a plain Store (no StoreAdapter member, no timeoutMs): the limiter bounds the wait itself.
        const limiter = wrapped
          ? new DistributedRateLimiter({
            store: new CountingStore(store),
            algorithm: "fixed-window",
            limit: 2,
            windowMs: 1_000,
            timeoutMs: 100,
            onStoreError: "deny",
            clock,
          })
          : direct;
        const onWorkers = onWorkersNow();
        store.inject("update", { kind: "hang" });
        const answered: string[] = [];
        const ask = (key: string) => limiter.limit(key).then((d) => answered.push(`${key}:${d.source}@${clock.now()}`));
        const all = [ask("a")];
        await clock.advance(40);
        all.push(ask("b"));
        await clock.advance(40);
        all.push(ask("c"));
        // Wrapped: the limiter's one timer and the store's one (its timeoutMs is longer); else the store's
        // one timer of 100 ms. On Workers, one each per call.
        expect(clock.pending).toBe(wrapped ? (onWorkers ? 6 : 2) : (onWorkers ? 3 : 1));
        await clock.advance(19);
        expect(answered).toEqual([]);
        await clock.advance(1);
        expect(answered).toEqual(["a:policy@100"]);
        await clock.advance(40);
        expect(answered).toEqual(["a:policy@100", "b:policy@140"]);
        await clock.advance(40);
        await Promise.all(all);
        expect(answered).toEqual(["a:policy@100", "b:policy@140", "c:policy@180"]);
        expect(limiter.stats.timeouts).toBe(3);
        await clock.flush();
        expect(clock.pending).toBe(0);
        // Decisions one after another keep one timer, and leave none.
        store.inject("update", undefined);
        for (let i = 0; i < 5; i++) expect((await limiter.limit(`d${i}`)).source).toBe("store");
        await clock.flush();
        expect(clock.pending).toBe(0);
      });
    }

    it("a store whose own timeoutMs is no longer than the limiter's bounds the wait itself: the limiter arms no timer", async () => {
      const clock = new ManualClock({ wallNow: 0 });
      const store = new FaultyStore(memory(clock), { clock, timeoutMs: 80 });
      const limiter = new DistributedRateLimiter({ store, algorithm: "gcra", rate: 1, perMs: 1_000, timeoutMs: 100, onStoreError: "deny", clock });
      expect((await limiter.limit("k")).allowed).toBe(true);
      await clock.flush(); // the store's timer goes once no operation follows
      expect(clock.pending).toBe(0);
      store.inject("update", { kind: "hang" });
      const decision = limiter.limit("other");
      expect(clock.pending).toBe(1); // the store's, not ours
      await clock.advance(80);
      expect(await decision).toMatchObject({ allowed: false, source: "policy" });
      expect(limiter.stats.timeouts).toBe(1);
      expect(clock.pending).toBe(0);
    });

    it("a late store: the unit it took after the timeout stays counted once, and the call was answered by the policy", async () => {
      const { clock, store, inner, limiter } = setup("deny");
      store.inject("update", { kind: "late", delayMs: 500 });
      const decision = limiter.limit("k");
      await clock.advance(100);
      expect(await decision).toMatchObject({ allowed: false, source: "policy" });
      await clock.advance(400);
      // The engine applied it exactly once, and nobody retried it.
      expect((await inner.get("rl:fixed-window:k"))?.value).toMatchObject({ count: 1 });
      store.inject("update", undefined);
      expect(await limiter.limit("k")).toMatchObject({ allowed: true, remaining: 0, source: "store" });
      expect(await limiter.limit("k")).toMatchObject({ allowed: false, source: "store" });
    });

    it("a store that reads stale data: a compare-and-set loop never admits on it, and no unit is lost or counted twice", async () => {
      // A compare-and-set store (no transitions inside) over a FaultyStore whose reads can lag one write behind.
      const clock = new ManualClock({ wallNow: 0 });
      const inner = memory(clock);
      const faulty = new FaultyStore(inner, { clock });
      class CompareAndSetOver extends StoreAdapter {
        readonly name = "cas-over-faulty";
        readonly capabilities: StoreCapabilities = { ...inner.capabilities, runsTransitions: false };
        constructor() {
          super("CompareAndSetOver", { prefix: "", clock, timeoutMs: 60_000 });
        }
        protected getRaw(key: string) {
          return faulty.get(key);
        }
        protected async setRaw(key: string, write: RawWrite) {
          return (await faulty.set(key, write.value)).version;
        }
        protected deleteRaw(key: string) {
          return faulty.delete(key);
        }
        protected async insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
          const result = await faulty.insertIfAbsent(key, write.value, { ttlMs: 60_000 });
          return result.ok ? { ok: true, version: result.entry.version } : { ok: false, current: result.current };
        }
        protected async compareAndSetRaw(key: string, expected: string, write: RawWrite): Promise<RawWriteResult> {
          const result = await faulty.compareAndSet(key, expected, write.value, { ttlMs: 60_000 });
          return result.ok ? { ok: true, version: result.entry.version } : { ok: false, current: result.current };
        }
        protected async compareAndDeleteRaw() {
          return false;
        }
      }
      const store = new CompareAndSetOver();
      const limiter = new DistributedRateLimiter({
        store,
        algorithm: "fixed-window",
        limit: 3,
        windowMs: 3_600_000,
        timeoutMs: 100,
        onStoreError: "deny",
        maxBlockedKeys: 0,
        clock,
      });
      expect((await limiter.limit("k")).allowed).toBe(true);
      expect((await limiter.limit("k")).allowed).toBe(true);
      // Reads now answer the state before the last write (count 1): trusting it would admit two more.
      faulty.inject("get", { kind: "stale" });
      const decision = limiter.limit("k");
      await clock.advance(100);
      expect(await decision).toMatchObject({ allowed: false, source: "policy" });
      expect((await inner.get("rl:fixed-window:k"))?.value).toMatchObject({ count: 2 });
      faulty.inject("get", undefined);
      expect(await limiter.limit("k")).toMatchObject({ allowed: true, remaining: 0, source: "store" });
      expect(await limiter.limit("k")).toMatchObject({ allowed: false, source: "store" });
      expect((await inner.get("rl:fixed-window:k"))?.value).toMatchObject({ count: 3 });
      await clock.flush(); // the store's timer goes once no operation follows
      expect(clock.pending).toBe(0);
    });
  });

  describe("with the default timeouts (the store's 5000 ms, the limiter's 1000 ms)", () => {
    /** Over a MemoryStore: `update` is one engine call (as Redis, D1) or, with `loop`, the default compare-and-set loop. */
    class Engine extends StoreAdapter {
      readonly name = "engine";
      readonly capabilities: StoreCapabilities;
      readonly inner: MemoryStore;
      /** The signal each raw call received from the caller. */
      readonly signals: (AbortSignal | undefined)[] = [];
      /** The engine never answers `update` (one call), or its conditional writes always lose (loop). */
      stuck = false;
      reads = 0;
      readonly #loop: boolean;
      readonly #values = new Map<string, Json>();
      constructor(clock: ManualClock, loop: boolean) {
        super("Engine", { prefix: "", clock });
        this.inner = memory(clock);
        this.#loop = loop;
        this.capabilities = { ...this.inner.capabilities, runsTransitions: !loop };
      }
      protected override runsInOneCall(): boolean {
        return !this.#loop;
      }
      protected override updateRaw<I extends Json, O extends Json>(
        key: string,
        transition: Transition<I, O>,
        input: I,
        options: { signal: AbortSignal | undefined },
        cancelled: AbortSignal,
      ): O | PromiseLike<O> {
        if (this.#loop) return super.updateRaw(key, transition, input, options, cancelled);
        this.signals.push(options.signal);
        if (this.stuck) return new Promise<O>(() => {});
        // Decided here, as an engine would (MemoryStore's update would make a controller of its own for its loop).
        const result = this.applyTransition(transition, this.#values.get(key), input, this.clock.wallNow());
        if (result.next === undefined) this.#values.delete(key);
        else if (result.next !== UNCHANGED) this.#values.set(key, result.next);
        return Promise.resolve(result.output);
      }
      protected async getRaw(key: string, options: { signal: AbortSignal | undefined }) {
        this.reads++;
        this.signals.push(options.signal);
        return this.inner.get(key);
      }
      protected async setRaw(key: string, write: RawWrite) {
        return (await this.inner.set(key, write.value)).version;
      }
      protected deleteRaw(key: string) {
        return this.inner.delete(key);
      }
      protected async insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
        if (this.stuck) return { ok: false, current: undefined };
        const result = await this.inner.insertIfAbsent(key, write.value, { ttlMs: 60_000 });
        return result.ok ? { ok: true, version: result.entry.version } : { ok: false, current: result.current };
      }
      protected async compareAndSetRaw(key: string, expected: string, write: RawWrite): Promise<RawWriteResult> {
        if (this.stuck) return { ok: false, current: undefined };
        const result = await this.inner.compareAndSet(key, expected, write.value, { ttlMs: 60_000 });
        return result.ok ? { ok: true, version: result.entry.version } : { ok: false, current: result.current };
      }
      protected async compareAndDeleteRaw() {
        return false;
      }
    }

    /** Runs `body` counting the AbortControllers made meanwhile (the global swapped for a counting subclass). */
    async function countingControllers(body: () => Promise<void>): Promise<number> {
      const Original = globalThis.AbortController;
      let made = 0;
      globalThis.AbortController = class extends Original {
        constructor() {
          super();
          made++;
        }
      };
      try {
        await body();
      } finally {
        globalThis.AbortController = Original;
      }
      return made;
    }

    const setup = (loop: boolean) => {
      const clock = new ManualClock({ wallNow: 0 });
      const store = new Engine(clock, loop);
      const limiter = new DistributedRateLimiter({ store, algorithm: "fixed-window", limit: 1_000, windowMs: 60_000, onStoreError: "deny", clock });
      expect([store.timeoutMs, limiter.timeoutMs]).toEqual([5_000, 1_000]);
      const events: { timedOut: boolean; error: unknown }[] = [];
      limiter.on("storeError", (event) => events.push(event));
      return { clock, store, limiter, events };
    };

    it("a hanging decision is answered by the policy exactly the limiter's timeoutMs after it started, on one timer of the store's, and nothing is left", async () => {
      const { clock, store, limiter, events } = setup(false);
      store.stuck = true;
      let answeredAt: number | undefined;
      const decision = limiter.limit("k").then((d) => {
        answeredAt = clock.now();
        return d;
      });
      // The store's timer for the limiter's bound: not one for its own 5000 ms, none of the limiter's.
      expect(clock.pending).toBe(1);
      await clock.advance(999);
      expect(answeredAt).toBeUndefined();
      await clock.advance(1);
      expect(await decision).toMatchObject({ allowed: false, source: "policy" });
      expect(answeredAt).toBe(1_000);
      expect(limiter.stats).toMatchObject({ decisions: 1, storeCalls: 1, storeErrors: 1, timeouts: 1 });
      expect(events).toHaveLength(1);
      expect(events[0]!.timedOut).toBe(true);
      const error = events[0]!.error as StoreError;
      expect(error).toBeInstanceOf(StoreError);
      expect([error.code, error.operation, error.timeoutMs]).toEqual(["ERR_STORE_TIMEOUT", "update", 1_000]);
      expect(error.message).toContain("1000 ms");
      // The store's entry went with the answer: no timer left, nothing expires at the store's own 5000 ms.
      await clock.flush();
      expect(clock.pending).toBe(0);
      await clock.advance(10_000);
      expect(events).toHaveLength(1);
      expect(limiter.stats.timeouts).toBe(1);
      // No signal reached the engine: the limiter made no controller for it.
      expect(store.signals).toEqual([undefined]);
    });

    it("no AbortController, signal or timer of the limiter's per decision", async () => {
      const { clock, store, limiter } = setup(false);
      const made = await countingControllers(async () => {
        const decisions = await Promise.all(Array.from({ length: 50 }, (_, i) => limiter.limit(`k${i % 5}`)));
        expect(decisions.every((d) => d.allowed && d.source === "store")).toBe(true);
        for (let i = 0; i < 20; i++) expect((await limiter.limit("one")).source).toBe("store");
      });
      expect(made).toBe(0);
      expect(store.signals).toHaveLength(70);
      expect(store.signals.every((signal) => signal === undefined)).toBe(true);
      expect(limiter.stats).toMatchObject({ decisions: 70, storeCalls: 70, timeouts: 0 });
      await clock.flush();
      expect(clock.pending).toBe(0);
    });

    it("a compare-and-set loop that keeps losing stops at the limiter's timeoutMs; only the store's own controller per call", async () => {
      const { clock, store, limiter, events } = setup(true);
      store.stuck = true;
      let decision: Promise<unknown> | undefined;
      const made = await countingControllers(async () => {
        decision = limiter.limit("k");
        await clock.advance(999);
      });
      // The loop's cancellation is the store's, one per update; the limiter adds none.
      expect(made).toBe(1);
      await clock.advance(1);
      expect(await decision).toMatchObject({ allowed: false, source: "policy" });
      expect(limiter.stats).toMatchObject({ storeErrors: 1, timeouts: 1 });
      expect((events[0]!.error as StoreError).code).toBe("ERR_STORE_TIMEOUT");
      expect(store.reads).toBeGreaterThan(2);
      const rounds = store.reads;
      await clock.advance(60_000);
      expect(store.reads).toBe(rounds);
      expect(store.signals.every((signal) => signal === undefined)).toBe(true);
      await clock.flush();
      expect(clock.pending).toBe(0);
      // Healthy again: the next caller's turn is not held up.
      store.stuck = false;
      expect(await limiter.limit("k")).toMatchObject({ allowed: true, source: "store" });
      await clock.flush();
      expect(clock.pending).toBe(0);
    });

    it("limiters with different timeouts on one store: each decision bounded by its own limiter, one timer per duration", async () => {
      const clock = new ManualClock({ wallNow: 0 });
      const store = new Engine(clock, false);
      const options = { store, algorithm: "gcra", rate: 10, perMs: 1_000, onStoreError: "deny", clock } as const;
      const fast = new DistributedRateLimiter({ ...options, timeoutMs: 100 });
      const slow = new DistributedRateLimiter({ ...options, timeoutMs: 300 });
      const onWorkers = onWorkersNow();
      store.stuck = true;
      const answered: string[] = [];
      const all = [
        ...[fast, slow, fast, slow].map((limiter, i) => limiter.limit(`k${i}`).then(() => answered.push(`${i}@${clock.now()}`))),
      ];
      expect(clock.pending).toBe(onWorkers ? 4 : 2);
      await clock.advance(300);
      await Promise.all(all);
      expect(answered).toEqual(["0@100", "2@100", "1@300", "3@300"]);
      expect([fast.stats.timeouts, slow.stats.timeouts]).toEqual([2, 2]);
      await clock.flush();
      expect(clock.pending).toBe(0);
    });
    it("a StoreAdapter subclass's own update is still called, and bounded by the limiter's timeoutMs", async () => {
      const clock = new ManualClock({ wallNow: 0 });
      class Logged extends Engine {
        readonly calls: string[] = [];
        override update<I extends Json, O extends Json>(key: string, transition: Transition<I, O>, input: I): Promise<O> {
          this.calls.push(key);
          return super.update(key, transition, input);
        }
      }
      const store = new Logged(clock, false);
      const limiter = new DistributedRateLimiter({ store, algorithm: "gcra", rate: 10, perMs: 1_000, onStoreError: "deny", clock });
      expect((await limiter.limit("k")).source).toBe("store");
      store.stuck = true;
      let answeredAt: number | undefined;
      const decision = limiter.limit("k").then((d) => {
        answeredAt = clock.now();
        return d;
      });
      await clock.advance(1_000);
      expect(await decision).toMatchObject({ allowed: false, source: "policy" });
      expect(answeredAt).toBe(1_000);
      expect(store.calls).toEqual(["rl:gcra:k", "rl:gcra:k"]);
      expect(limiter.stats.timeouts).toBe(1);
      // The store's own bound of the call it still holds ends at its timeoutMs; then nothing is left.
      await clock.advance(4_000);
      await clock.flush();
      expect(clock.pending).toBe(0);
    });
  });

  it("refuses a store without atomic operations (Workers KV), saying why", () => {
    const kvLike = new MemoryStore();
    Object.defineProperty(kvLike, "capabilities", { value: { ...kvLike.capabilities, atomic: false, consistency: "eventual" } });
    const error = thrown(() => new DistributedRateLimiter({ store: kvLike, algorithm: "fixed-window", limit: 1, windowMs: 1_000 }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("both take the last unit");
    expect(() => new DistributedRateLimiter({ store: kvLike, algorithm: "fixed-window", limit: 1, windowMs: 1_000, bestEffort: true })).not
      .toThrow();
  });

  it("refuses bad options with one ConfigError naming each field", () => {
    const error = thrown(() =>
      new DistributedRateLimiter({
        store: new MemoryStore(),
        algorithm: "fixed-window",
        limit: 0,
        windowMs: 1_000,
        onStoreError: "maybe" as never,
        timeoutMs: -1,
      })
    );
    expect(error).toBeInstanceOf(ConfigError);
    for (const field of ["limit", "onStoreError", "timeoutMs"]) expect((error as Error).message).toContain(field);
    expect(thrown(() => new DistributedRateLimiter({ store: {} as Store, algorithm: "gcra" }))).toBeInstanceOf(ConfigError);
    expect(thrown(() => new DistributedRateLimiter(3 as never))).toBeInstanceOf(InvalidArgumentError);
  });

  it("options of the other algorithms name the algorithm in force (the default token bucket included)", () => {
    // A newcomer's `{ store, limit, windowMs }` without `algorithm` runs the default token bucket.
    const noAlgorithm = thrown(() => new DistributedRateLimiter({ store: new MemoryStore(), limit: 5, windowMs: 1_000 } as never));
    expect(noAlgorithm).toBeInstanceOf(ConfigError);
    expect((noAlgorithm as ConfigError).issues.map((issue) => issue.field)).toEqual(["limit", "windowMs"]);
    expect((noAlgorithm as Error).message).toContain('only with algorithm "fixed-window" or "sliding-window"');
    expect((noAlgorithm as Error).message).toContain('algorithm "token-bucket", the default, takes rate, perMs and burst');
    const window = thrown(() => new DistributedRateLimiter({ store: new MemoryStore(), algorithm: "fixed-window", limit: 5, windowMs: 1_000, rate: 5 } as never));
    expect((window as ConfigError).issues.map((issue) => issue.field)).toEqual(["rate"]);
    expect((window as Error).message).toContain('only with algorithm "token-bucket" or "gcra"');
    expect((window as Error).message).toContain('algorithm "fixed-window" takes limit and windowMs');
    // The in-process limiters share the schema.
    expect((thrown(() => new KeyedRateLimiter({ algorithm: "gcra", rate: 5, limit: 5 } as never)) as Error).message).toContain(
      'algorithm "gcra" takes rate, perMs and burst',
    );
  });

  it("limit() rejects misuse with InvalidArgumentError before touching the store", async () => {
    const store = new CountingStore(new MemoryStore());
    const limiter = new DistributedRateLimiter({ store, algorithm: "sliding-window", limit: 3, windowMs: 1_000 });
    for (const call of [
      () => limiter.limit(42 as never),
      () => limiter.limit("k", 2 as never),
      () => limiter.limit("k", { cost: "2" as never }),
      () => limiter.limit("k", { cost: 0 }),
      () => limiter.limit("k", { cost: 4 }),
      () => limiter.limit("k", { cost: 1.5 }),
    ]) {
      const error = await rejection(call());
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain("DistributedRateLimiter.limit");
    }
    expect(store.total).toBe(0);
    expect(limiter.stats.decisions).toBe(0);
  });

  it("RATE_LIMIT_TRANSITIONS decide like the limiter, from the input's parameters (what a Durable Object runs)", () => {
    const names = RATE_LIMIT_TRANSITIONS.map((t) => t.name);
    expect(names).toEqual([
      "bulwark.rate-limit.fixed-window",
      "bulwark.rate-limit.sliding-window",
      "bulwark.rate-limit.sliding-window-counter",
      "bulwark.rate-limit.token-bucket",
      "bulwark.rate-limit.gcra",
    ]);
    const gcra = RATE_LIMIT_TRANSITIONS[4]!;
    const first = gcra.apply(undefined, { r: 2, p: 1_000, b: 1, c: 1 }, 0);
    expect(first.output).toEqual({ a: true, r: 0, t: 0, s: 500 });
    expect(first.ttlMs).toBe(500);
    const refused = gcra.apply(first.next as never, { r: 2, p: 1_000, b: 1, c: 1 }, 100).output as { a: boolean; r: number; t: number; s: number };
    expect([refused.a, refused.t, refused.s]).toEqual([false, 400, 400]);
    expect(refused.r).toBeCloseTo(0.2, 9);
    expect(() => gcra.apply(undefined, { nope: 1 }, 0)).toThrow(TypeError);
  });
});
