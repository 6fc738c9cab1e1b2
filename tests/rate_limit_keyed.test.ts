import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AlgorithmLimiter,
  type AlgorithmOptions,
  ConfigError,
  createAlgorithm,
  InvalidArgumentError,
  KeyedRateLimiter,
  RateLimitExceededError,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { thrown } from "./_support/thrown.ts";

describe("KeyedRateLimiter", () => {
  it("keeps one limit per key", () => {
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 2, perMs: 1_000, clock: new ManualClock() });
    expect([limiter.tryAcquire("alice"), limiter.tryAcquire("alice"), limiter.tryAcquire("alice")]).toEqual([
      true,
      true,
      false,
    ]);
    expect(limiter.tryAcquire("bob")).toBe(true);
    expect(limiter.available("bob")).toBe(1);
    expect(limiter.size).toBe(2);
    expect(limiter.consume("alice").retryAfterMs).toBe(500);
  });

  it("holds at most maxKeys, evicting the least recently used first", () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 5, windowMs: 1_000, maxKeys: 3, clock });
    for (const key of ["a", "b", "c"]) limiter.tryAcquire(key);
    limiter.tryAcquire("a"); // a is now the most recent; b the least
    limiter.tryAcquire("d");
    expect(["a", "b", "c", "d"].map((key) => limiter.has(key))).toEqual([true, false, true, true]);
    for (let i = 0; i < 10_000; i++) limiter.tryAcquire(`user-${i}`);
    expect(limiter.size).toBe(3);
    expect(limiter.stats.evictedKeys).toBe(10_001);
  });

  it("evicts keys idle for idleMs when new keys arrive, or on sweep()", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "gcra", rate: 10, perMs: 1_000, idleMs: 5_000, clock });
    limiter.tryAcquire("old");
    await clock.advance(3_000);
    limiter.tryAcquire("recent");
    await clock.advance(2_000);
    limiter.tryAcquire("new");
    expect([limiter.has("old"), limiter.has("recent"), limiter.has("new")]).toEqual([false, true, true]);
    await clock.advance(5_000);
    expect(limiter.sweep()).toBe(2);
    expect(limiter.size).toBe(0);
  });

  it("defaults idleMs to the time a drained limit takes to refill", () => {
    const bucket = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 10, perMs: 1_000, burst: 50 });
    expect(bucket.idleMs).toBe(5_000);
    expect(new KeyedRateLimiter({ algorithm: "sliding-window", limit: 3, windowMs: 700 }).idleMs).toBe(700);
  });

  const algorithms: AlgorithmOptions[] = [
    { algorithm: "token-bucket", rate: 3, perMs: 1_000, burst: 5 },
    { algorithm: "gcra", rate: 3, perMs: 1_000, burst: 5 },
    { algorithm: "sliding-window", limit: 5, windowMs: 1_000 },
    { algorithm: "sliding-window", limit: 5, windowMs: 1_000, approximate: true },
    { algorithm: "fixed-window", limit: 5, windowMs: 1_000 },
  ];

  for (const options of algorithms) {
    const label = `${options.algorithm}${"approximate" in options && options.approximate ? " (approximate)" : ""}`;

    it(`${label}: a key evicted while exhausted gets no fresh burst`, async () => {
      const clock = new ManualClock({ now: 10_000 });
      const limiter = new KeyedRateLimiter({ ...options, maxKeys: 2, clock });
      while (limiter.tryAcquire("victim"));
      const wait = limiter.timeUntilAvailable("victim");
      expect(wait).toBeGreaterThan(0);
      // Other keys push it out (CLOCK passes over it once: it was used).
      for (let i = 0; i < 10 && limiter.has("victim"); i++) limiter.tryAcquire(`other-${i}`);
      expect(limiter.has("victim")).toBe(false);
      expect(limiter.tryAcquire("victim")).toBe(false);
      expect(limiter.timeUntilAvailable("victim")).toBeGreaterThan(wait - 1e-9);
    });

    it(`${label}: under eviction pressure, a key never exceeds its limit`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ dt: fc.integer({ min: 0, max: 300 }), flood: fc.boolean(), cost: fc.integer({ min: 1, max: 3 }) }), {
            maxLength: 80,
          }),
          async (steps) => {
            const clock = new ManualClock();
            const limiter = new KeyedRateLimiter({ ...options, maxKeys: 4, idleMs: 10, clock });
            const granted: Array<[number, number]> = [];
            let other = 0;
            for (const { dt, flood, cost } of steps) {
              await clock.advance(dt);
              if (flood) for (let i = 0; i < 5; i++) limiter.tryAcquire(`other-${other++}`);
              if (limiter.tryAcquire("key", cost)) granted.push([clock.now(), cost]);
            }
            if (options.algorithm === "token-bucket" || options.algorithm === "gcra") {
              let units = 0;
              for (const [time, cost] of granted) {
                units += cost;
                expect(units).toBeLessThanOrEqual(5 + (3 * time) / 1_000 + 1e-9);
              }
            } else {
              // At most `limit` units in any window of windowMs (fixed: per aligned window).
              for (const [start] of granted) {
                const inWindow = options.algorithm === "fixed-window"
                  ? granted.filter(([t]) => Math.floor(t / 1_000) === Math.floor(start / 1_000))
                  : granted.filter(([t]) => t >= start && t - start < 1_000);
                const units = inWindow.reduce((sum, [, cost]) => sum + cost, 0);
                // The approximate counter may admit up to twice the limit across two windows, never more.
                expect(units).toBeLessThanOrEqual("approximate" in options && options.approximate ? 10 : 5);
              }
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it("never evicts a key with callers waiting", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 1, perMs: 1_000, maxKeys: 2, clock });
    limiter.tryAcquire("busy");
    const waiting = limiter.acquire("busy");
    for (let i = 0; i < 100; i++) limiter.tryAcquire(`k${i}`);
    expect(limiter.has("busy")).toBe(true);
    await clock.advance(1_000);
    await waiting;
    expect(limiter.stats.totalWaitedMs).toBe(1_000);
  });

  it("waits per key, FIFO, with timeouts decided up front", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 10, perMs: 1_000, burst: 1, clock });
    limiter.tryAcquire("a");
    const order: string[] = [];
    const waits = [limiter.acquire("a").then(() => order.push("a1")), limiter.acquire("a").then(() => order.push("a2"))];
    expect(limiter.tryAcquire("b")).toBe(true);
    const late = limiter.acquire("a", { timeoutMs: 250 });
    await expect(late).rejects.toBeInstanceOf(RateLimitExceededError);
    await clock.advance(200);
    await Promise.all(waits);
    expect(order).toEqual(["a1", "a2"]);
  });

  it("stays bounded with 200,000 distinct keys", () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 5, maxKeys: 1_000, clock });
    for (let i = 0; i < 200_000; i++) {
      limiter.tryAcquire(`ip-${i}`);
      if (limiter.size > 1_000) throw new Error(`size ${limiter.size} at ${i}`);
    }
    expect(limiter.size).toBe(1_000);
  });

  it("rejects a non-string key with an InvalidArgumentError naming it, and bad options with a ConfigError", async () => {
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 1, windowMs: 1_000 });
    const error = thrown(() => limiter.tryAcquire(42 as never)) as InvalidArgumentError;
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect([error.target, error.argument, error.value]).toEqual(["KeyedRateLimiter.tryAcquire", "key", 42]);
    await expect(limiter.acquire({} as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    const config = thrown(() =>
      new KeyedRateLimiter({ algorithm: "token-bucket", rate: 0, maxKeys: 0, maxkeys: 3 } as never)
    ) as ConfigError;
    expect(config).toBeInstanceOf(ConfigError);
    expect(config.issues.map((i) => i.field).sort()).toEqual(["maxKeys", "maxkeys", "rate"]);
    expect(thrown(() => limiter.tryAcquire("k", 2))).toBeInstanceOf(InvalidArgumentError);
  });

  it("reset(key) is the administrative way to a fresh limit", () => {
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 1, windowMs: 1_000, clock: new ManualClock() });
    limiter.tryAcquire("k");
    expect(limiter.tryAcquire("k")).toBe(false);
    limiter.reset("k");
    expect(limiter.tryAcquire("k")).toBe(true);
  });
});

describe("KeyedRateLimiter: memory bounded in bytes, fair to newcomers", () => {
  const algorithms: AlgorithmOptions[] = [
    { algorithm: "token-bucket", rate: 5, perMs: 60_000, burst: 5 },
    { algorithm: "gcra", rate: 5, perMs: 60_000, burst: 5 },
    { algorithm: "sliding-window", limit: 5, windowMs: 60_000 },
    { algorithm: "sliding-window", limit: 5, windowMs: 60_000, approximate: true },
    { algorithm: "fixed-window", limit: 5, windowMs: 60_000 },
  ];
  const labelOf = (options: AlgorithmOptions): string =>
    `${options.algorithm}${"approximate" in options && options.approximate ? " (approximate)" : ""}`;

  it("defaults to the token bucket, as RateLimiter does", () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ rate: 2, perMs: 1_000, clock });
    expect(limiter.algorithm.kind).toBe("token-bucket");
    expect([limiter.tryAcquire("k"), limiter.tryAcquire("k"), limiter.tryAcquire("k")]).toEqual([true, true, false]);
    expect(limiter.consume("k").retryAfterMs).toBe(500);
    const defaults = new KeyedRateLimiter();
    expect(defaults.algorithm.kind).toBe("token-bucket");
    expect(defaults.algorithm.limit).toBe(10);
    expect(thrown(() => new KeyedRateLimiter({ limit: 5, windowMs: 1_000 } as never))).toBeInstanceOf(ConfigError);
  });

  it("a lightly used exact log stays small however large its limit", () => {
    const limiter = new KeyedRateLimiter({
      algorithm: "sliding-window",
      limit: 10_000,
      windowMs: 60_000,
      clock: new ManualClock(),
    });
    for (let i = 0; i < 1_000; i++) limiter.tryAcquire(`user-${i}`);
    // 8 times per key, not 10,000.
    expect(limiter.stats.logEntries).toBe(8_000);
  });

  it("holds at most maxLogEntries times in all exact logs together", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            key: fc.integer({ min: 0, max: 20 }),
            cost: fc.integer({ min: 1, max: 10 }),
            dt: fc.integer({ min: 0, max: 400 }),
          }),
          { maxLength: 150 },
        ),
        async (calls) => {
          const clock = new ManualClock();
          const limiter = new KeyedRateLimiter({
            algorithm: "sliding-window",
            limit: 10,
            windowMs: 1_000,
            maxKeys: 8,
            maxLogEntries: 30,
            clock,
          });
          for (const { key, cost, dt } of calls) {
            await clock.advance(dt);
            limiter.tryAcquire(`k${key}`, cost);
            expect(limiter.stats.logEntries).toBeLessThanOrEqual(30);
            expect(limiter.size).toBeLessThanOrEqual(8);
          }
        },
      ),
      { numRuns: 100 },
    );
    const error = thrown(() =>
      new KeyedRateLimiter({ algorithm: "sliding-window", limit: 100, windowMs: 1_000, maxLogEntries: 99 })
    ) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues.map((issue) => issue.field)).toEqual(["maxLogEntries"]);
  });

  it("holds at most maxKeys keys of every algorithm, whatever the traffic", async () => {
    for (const options of [...algorithms, { algorithm: "sliding-window", limit: 50, windowMs: 1_000 } as const]) {
      const clock = new ManualClock();
      const limiter = new KeyedRateLimiter({ ...options, maxKeys: 50, clock });
      for (let i = 0; i < 5_000; i++) {
        limiter.tryAcquire(`k${(i * 7919) % 900}`, 1 + (i % 5));
        if (i % 100 === 0) await clock.advance(37);
        if (limiter.size > 50) throw new Error(`${labelOf(options)}: ${limiter.size} keys at ${i}`);
      }
      expect(limiter.size).toBe(50);
    }
  });

  for (const options of algorithms) {
    const label = labelOf(options);

    it(`${label}: brand-new keys are admitted under a flood of new keys (no shared slots)`, () => {
      for (const take of [1, 5]) {
        const clock = new ManualClock({ now: 1_000 });
        const limiter = new KeyedRateLimiter({ ...options, maxKeys: 100, clock });
        let refused = 0;
        for (let i = 0; i < 20_000; i++) {
          if (i % 10 === 9) {
            if (!limiter.tryAcquire(`newcomer-${i}`)) refused++;
          } else {
            limiter.tryAcquire(`flood-${i}`, take);
          }
        }
        // Documented bound: a newcomer matches an unrelated summary with odds of 8 in 2³².
        expect(refused).toBe(0);
        expect(limiter.stats.evictedKeys).toBeGreaterThan(19_000);
      }
    });

    it(`${label}: an evicted key comes back with what it had left, never more`, () => {
      const clock = new ManualClock({ now: 1_000 });
      const limiter = new KeyedRateLimiter({ ...options, maxKeys: 100, clock });
      limiter.tryAcquire("light", 2);
      while (limiter.tryAcquire("drained"));
      for (let i = 0; limiter.has("light") || limiter.has("drained"); i++) limiter.tryAcquire(`other-${i}`);
      expect(limiter.available("drained")).toBeLessThan(1e-9);
      expect(limiter.tryAcquire("drained")).toBe(false);
      const left = limiter.available("light");
      expect(left).toBeLessThanOrEqual(3 + 1e-9);
      // Exact for the token bucket, GCRA and fixed window; the windows keep all 3 too.
      expect(left).toBeGreaterThanOrEqual(3 - 1e-6);
      expect(limiter.stats.tombstonesDropped).toBe(0);
    });

    it(`${label}: a drained key evicted by a flood gets no fresh burst unless its summary was dropped`, () => {
      const clock = new ManualClock({ now: 1_000 });
      const limiter = new KeyedRateLimiter({ ...options, maxKeys: 100, clock });
      // 150 drained keys through 100 slots: the table (1,024 summaries) has ample room.
      for (let i = 0; i < 150; i++) limiter.tryAcquire(`flood-${i}`, 5);
      let fresh = 0;
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 150; i++) if (limiter.tryAcquire(`flood-${i}`)) fresh++;
      }
      expect(limiter.stats.tombstonesDropped).toBe(0);
      expect(fresh).toBe(0);
    });
  }

  it("a flood larger than the table drops summaries, counts them, and still spares newcomers", () => {
    const clock = new ManualClock({ now: 1_000 });
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 5, windowMs: 60_000, maxKeys: 10, clock });
    for (let i = 0; i < 5_000; i++) limiter.tryAcquire(`flood-${i}`, 5);
    let fresh = 0;
    for (let i = 0; i < 5_000; i++) if (limiter.tryAcquire(`flood-${i}`)) fresh++;
    const dropped = limiter.stats.tombstonesDropped;
    expect(dropped).toBeGreaterThan(0);
    // Only a key whose summary was dropped can start full again.
    expect(fresh).toBeGreaterThan(0);
    expect(fresh).toBeLessThanOrEqual(dropped);
    expect(limiter.tryAcquire("newcomer")).toBe(true);
  });

  it("CLOCK keeps a key in use through a flood of keys seen once", () => {
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 1e9, windowMs: 1_000, maxKeys: 10, clock: new ManualClock() });
    for (let i = 0; i < 10_000; i++) {
      limiter.tryAcquire("hot");
      limiter.tryAcquire(`once-${i}`);
      expect(limiter.has("hot")).toBe(true);
    }
    expect(limiter.size).toBe(10);
  });

  it("evicts an idle key within a pass of the idle hand (two keys checked per new key)", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 5, windowMs: 1_000, clock });
    for (let i = 0; i < 100; i++) limiter.tryAcquire(`old-${i}`);
    await clock.advance(1_000);
    for (let i = 0; i < 50; i++) limiter.tryAcquire(`new-${i}`);
    expect(limiter.size).toBe(50);
    expect(limiter.stats.tombstonesDropped).toBe(0);
  });
});

describe("KeyedRateLimiter: each key is exactly its own limiter", () => {
  const algorithms: AlgorithmOptions[] = [
    { algorithm: "token-bucket", rate: 3, perMs: 1_000, burst: 4 },
    { algorithm: "gcra", rate: 3, perMs: 1_000, burst: 4 },
    { algorithm: "sliding-window", limit: 4, windowMs: 1_000 },
    { algorithm: "sliding-window", limit: 4, windowMs: 1_000, approximate: true },
    { algorithm: "fixed-window", limit: 4, windowMs: 1_000 },
  ];
  const op = fc.record({
    dt: fc.integer({ min: 0, max: 400 }),
    key: fc.integer({ min: 0, max: 3 }),
    kind: fc.constantFrom("try", "consume", "wait", "available", "acquire", "acquireTimeout", "reset"),
    cost: fc.integer({ min: 1, max: 3 }),
  });

  for (const options of algorithms) {
    const label = `${options.algorithm}${"approximate" in options && options.approximate ? " (approximate)" : ""}`;
    for (const wakeMode of ["handover", "self"] as const) {
      it(`${label}, ${wakeMode}: every call answers as a separate limiter per key would, waiters included`, async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
            const clock = new ManualClock({ now: 5_000 });
            // No eviction: every key's state stays in the limiter.
            const keyed = new KeyedRateLimiter({ ...options, clock, wakeMode, idleMs: 1e12 });
            const own = new Map<number, AlgorithmLimiter<object>>();
            const single = (key: number): AlgorithmLimiter<object> => {
              let limiter = own.get(key);
              if (limiter === undefined) {
                limiter = new AlgorithmLimiter(createAlgorithm(options), { clock, wakeMode });
                own.set(key, limiter);
              }
              return limiter;
            };
            const settled: Array<[string, string]> = [];
            const track = (promise: Promise<void>, side: string, index: number) =>
              promise.then(
                () => settled.push([`${side} ${index}`, `granted at ${clock.now()}`]),
                (error: unknown) => settled.push([`${side} ${index}`, `${(error as Error).name} at ${clock.now()}`]),
              );
            const pending: Promise<unknown>[] = [];
            for (const [index, { dt, key, kind, cost }] of ops.entries()) {
              await clock.advance(dt);
              const name = `key-${key}`;
              const reference = single(key);
              switch (kind) {
                case "try":
                  expect(keyed.tryAcquire(name, cost)).toBe(reference.tryAcquire(cost));
                  break;
                case "consume":
                  expect(keyed.consume(name, cost)).toEqual(reference.consume(cost));
                  break;
                case "wait":
                  expect(keyed.timeUntilAvailable(name, cost)).toBe(reference.timeUntilAvailable(cost));
                  break;
                case "available":
                  expect(keyed.available(name)).toBe(reference.available);
                  break;
                case "acquire":
                case "acquireTimeout": {
                  const timeoutMs = kind === "acquire" ? undefined : 300;
                  pending.push(track(keyed.acquire(name, { cost, timeoutMs }), "keyed", index));
                  pending.push(track(reference.acquire({ cost, timeoutMs }), "own", index));
                  break;
                }
                case "reset":
                  keyed.reset(name);
                  reference.reset();
                  break;
              }
            }
            await clock.advance(1e6);
            await Promise.all(pending);
            const outcome = (side: string) =>
              settled.filter(([who]) => who.startsWith(side)).map(([who, what]) => `${who.slice(side.length)}: ${what}`).sort();
            expect(outcome("keyed")).toEqual(outcome("own"));
            const total = [...own.values()].reduce((sum, limiter) => sum + limiter.stats.totalAcquired, 0);
            expect(keyed.stats.totalAcquired).toBe(total);
          }),
          { numRuns: 40 },
        );
      });
    }
  }

  it("a key whose callers waited keeps its state after they are served, through reset, eviction and return", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 1, perMs: 1_000, burst: 2, maxKeys: 2, clock });
    expect([limiter.tryAcquire("k"), limiter.tryAcquire("k")]).toEqual([true, true]);
    const waited = limiter.acquire("k");
    expect(limiter.tryAcquire("k")).toBe(false);
    await clock.advance(1_000);
    await waited;
    // Served: drained again, a token due in 1 s.
    expect(limiter.timeUntilAvailable("k")).toBe(1_000);
    expect(limiter.tryAcquire("k")).toBe(false);
    limiter.reset("k");
    expect(limiter.available("k")).toBe(2);
    expect([limiter.tryAcquire("k", 2), limiter.tryAcquire("k")]).toEqual([true, false]);
    // Evicted drained by two other keys, it comes back drained (its summary), not full.
    for (let i = 0; i < 6 && limiter.has("k"); i++) limiter.tryAcquire(`other-${i}`);
    expect(limiter.has("k")).toBe(false);
    expect(limiter.tryAcquire("k")).toBe(false);
    expect(limiter.timeUntilAvailable("k")).toBe(1_000);
    // Rows are reused: the newcomers start full.
    expect(limiter.available("fresh")).toBe(2);
  });
});

describe("KeyedRateLimiter: the key index", () => {
  it("finds every key it holds, through any churn of inserts and evictions, each with its own state", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 60 }), dt: fc.integer({ min: 0, max: 150 }), sweep: fc.boolean() }), {
          maxLength: 300,
        }),
        async (calls) => {
          const clock = new ManualClock();
          // Few rows, short idle time: keys come and go through every path (CLOCK, idle hand, sweep).
          const limit = 1e9;
          const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit, windowMs: 1e12, maxKeys: 12, idleMs: 200, clock });
          const calledFor = new Map<string, number>();
          for (const { key, dt, sweep } of calls) {
            await clock.advance(dt);
            if (sweep) limiter.sweep();
            const name = `k${key}`;
            expect(limiter.tryAcquire(name)).toBe(true);
            calledFor.set(name, (calledFor.get(name) ?? 0) + 1);
            // Held all along or evicted and back (its summary, exact for a fixed window): its own count.
            expect(limiter.available(name)).toBe(limit - calledFor.get(name)!);
            let found = 0;
            for (let k = 0; k <= 60; k++) if (limiter.has(`k${k}`)) found++;
            expect(found).toBe(limiter.size);
            expect(limiter.size).toBeLessThanOrEqual(12);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("tells apart keys that differ in one unit, empty and long keys, and holds 50,000 of them", () => {
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 2, windowMs: 1_000, clock: new ManualClock() });
    const keys = ["", "a", "b", "ab", "ba", "\u0000", "\uffff", "é", "e\u0301", "x".repeat(10_000), "x".repeat(10_001)];
    for (const key of keys) expect(limiter.tryAcquire(key)).toBe(true);
    for (const key of keys) expect(limiter.available(key)).toBe(1);
    expect(limiter.size).toBe(keys.length);
    for (let i = 0; i < 50_000; i++) limiter.tryAcquire(`user-${i}`);
    for (let i = 0; i < 50_000; i += 997) expect(limiter.available(`user-${i}`)).toBe(1);
    expect(limiter.size).toBe(keys.length + 50_000);
    expect(limiter.has("user-50000")).toBe(false);
    expect(limiter.has(42 as never)).toBe(false);
  });

  it("works before randomness may be drawn (Workers' global scope), and draws its salt once it may", () => {
    const crypto = globalThis.crypto;
    const draw = crypto.getRandomValues;
    let refused = 0;
    const refuse = (): never => {
      refused++;
      throw new Error("Disallowed operation called within global scope");
    };
    try {
      Object.defineProperty(crypto, "getRandomValues", { value: refuse, configurable: true, writable: true });
    } catch {
      return; // This runtime's crypto cannot be patched: nothing to simulate.
    }
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 1, windowMs: 1_000, clock: new ManualClock() });
    try {
      for (let i = 0; i < 40; i++) expect(limiter.tryAcquire(`early-${i}`)).toBe(true);
    } finally {
      Object.defineProperty(crypto, "getRandomValues", { value: draw, configurable: true, writable: true });
    }
    expect(refused).toBeGreaterThan(0);
    // The next new key draws the salt and rebuilds the index: every key is still found with its state.
    expect(limiter.tryAcquire("late")).toBe(true);
    for (let i = 0; i < 40; i++) expect(limiter.tryAcquire(`early-${i}`)).toBe(false);
    expect(limiter.size).toBe(41);
  });
});
