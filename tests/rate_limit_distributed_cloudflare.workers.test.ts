// Distributed rate limits on workerd: a real SQLite-backed Durable Object
// (each decision one RPC call, the transition run inside the object on its
// own clock) and local D1 (one batch per decision, decided in SQLite on its
// clock, every algorithm). Concurrent calls admit exactly the limit.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { D1Store, type D1DatabaseLike, type D1PreparedStatementLike, DurableObjectStore } from "../adapters/cloudflare/mod.ts";
import { rateLimitParameters, rateLimitStatements } from "../adapters/cloudflare/d1_rate_limit_sql.ts";
import { DistributedRateLimiter, type Json, KeyedRateLimiter, RATE_LIMIT_TRANSITIONS, UNCHANGED } from "../mod.ts";
import { CountingStore, ManualClock } from "../src/testing/mod.ts";
import { admittedOf, algorithmsWithLimit, label } from "./_support/distributed_limit_scenarios.ts";
import { skewed } from "./_support/skewed_clock.ts";

const SLOW_TEST_MS = 60_000;

let unique = 0;
function prefix(): string {
  return `rl${Date.now().toString(36)}${(unique++).toString(36)}:`;
}

const objects = () => env.STATE_OBJECTS;
/** Local D1 has batch(). */
const database = () => env.STATE_DB as D1DatabaseLike & Required<Pick<D1DatabaseLike, "batch">>;

describe("DistributedRateLimiter on DurableObjectStore (workerd)", () => {
  for (const options of algorithmsWithLimit(50)) {
    it(`${label(options)}: 200 concurrent calls admit exactly the limit, one RPC call each`, async () => {
      const store = new CountingStore(new DurableObjectStore(objects, { prefix: prefix(), timeoutMs: 30_000 }));
      expect(await admittedOf(store, options, "k", 200)).toBe(50);
      expect(store.total).toBe(200);
      expect(store.counts.update).toBe(200);
    }, SLOW_TEST_MS);
  }

  it("a client whose clock is an hour ahead agrees with one an hour behind: the object's clock decides", async () => {
    const p = prefix();
    const options = { algorithm: "fixed-window" as const, limit: 4, windowMs: 60_000, maxBlockedKeys: 0 };
    const ahead = new DistributedRateLimiter({ ...options, store: new DurableObjectStore(objects, { prefix: p, clock: skewed(3_600_000) }) });
    const behind = new DistributedRateLimiter({ ...options, store: new DurableObjectStore(objects, { prefix: p, clock: skewed(-3_600_000) }) });
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await ahead.limit("k"), await behind.limit("k"));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
  }, SLOW_TEST_MS);
});

/** The D1 binding with every call that reaches the database counted: statements run alone, and batches. */
function counted(): { database: D1DatabaseLike; calls: { statements: number; batches: number } } {
  const calls = { statements: 0, batches: 0 };
  type Wrapped = D1PreparedStatementLike & { inner: D1PreparedStatementLike };
  const wrap = (inner: D1PreparedStatementLike): Wrapped => ({
    inner,
    bind: (...values) => wrap(inner.bind(...values)),
    first: <T>() => (calls.statements++, inner.first<T>()),
    run: () => (calls.statements++, inner.run()),
  });
  return {
    calls,
    database: {
      prepare: (query) => wrap(database().prepare(query)),
      batch: (statements) => (calls.batches++, database().batch(statements.map((statement) => (statement as Wrapped).inner))),
    },
  };
}

/**
 * The D1 binding with SQLite's clock set to `wallNow()`: the rate-limit
 * statements take the tests' time as `?5` (else NULL: `julianday('now')`).
 */
function engineTime(wallNow: () => number): D1DatabaseLike {
  return {
    prepare(query) {
      const statement = database().prepare(query);
      if (!query.includes("julianday('now')")) return statement;
      return {
        bind: (...values: unknown[]) => statement.bind(...values.map((value, i) => i === 4 ? wallNow() : value)),
        first: () => statement.first(),
        run: () => statement.run(),
      } as D1PreparedStatementLike;
    },
    batch: (statements) => database().batch(statements),
  };
}

describe("DistributedRateLimiter on D1Store (workerd, local D1)", () => {
  for (const options of algorithmsWithLimit(50)) {
    it(`${label(options)}: 200 concurrent calls through two stores admit exactly the limit, one D1 batch each`, async () => {
      const { database: db, calls } = counted();
      const p = prefix();
      const stores = [new D1Store(db, { prefix: p, timeoutMs: 30_000 }), new D1Store(db, { prefix: p, timeoutMs: 30_000 })];
      await stores[0]!.migrate();
      await stores[1]!.migrate();
      calls.statements = 0;
      expect(await admittedOf(stores, options, "k", 200)).toBe(50);
      // One round trip per decision, the exact log included: no read, no compare-and-set.
      expect(calls).toEqual({ statements: 0, batches: 200 });
      expect(stores.map((store) => store.conflicts)).toEqual([0, 0]);
    }, SLOW_TEST_MS);
  }

  it("each statement decides and writes exactly what its TypeScript transition does, at the same time (fast-check)", async () => {
    const table = "rl_equivalence";
    await new D1Store(database, { table }).migrate();
    const statements = rateLimitStatements(table);
    const inputs: Record<string, (cost: number) => Json> = {
      "bulwark.rate-limit.fixed-window": (c) => ({ l: 5, w: 1_000, c }),
      "bulwark.rate-limit.sliding-window-counter": (c) => ({ l: 5, w: 1_000, c }),
      "bulwark.rate-limit.token-bucket": (c) => ({ r: 3, p: 700, b: 5, c }),
      "bulwark.rate-limit.gcra": (c) => ({ r: 3, p: 700, b: 5, c }),
      // A limit past the ring's starting 8 slots and a window ~10 calls long: the ring grows (8, 16,
      // then 20), fills, refuses, wraps, and shrinks back once the window empties.
      "bulwark.rate-limit.sliding-window": (c) => ({ l: 20, w: 5_000, c }),
    };
    const ported = RATE_LIMIT_TRANSITIONS.filter((transition) => statements.has(transition.name));
    expect(ported.map((transition) => transition.name).sort()).toEqual(Object.keys(inputs).sort());
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 900 }), cost: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 20 }),
        async (calls) => {
          run++;
          for (const transition of ported) {
            const { read, decide } = statements.get(transition.name)!;
            const key = `equivalence:${run}:${transition.name}`;
            let state: Json | undefined;
            let now = 1_764_000_000_000 + run * 1_000_003;
            for (const { gap, cost } of calls) {
              now += gap;
              const input = inputs[transition.name]!(cost) as Record<string, number>;
              const parameters = rateLimitParameters(key, "v", input, now);
              const db = database();
              const [before, decided] = await db.batch([db.prepare(read).bind(...parameters), db.prepare(decide).bind(...parameters)]);
              const ts = transition.apply(state, input, now);
              if (ts.next !== UNCHANGED) state = ts.next as Json;
              const after = await db.prepare(`SELECT value, expires_at FROM ${table} WHERE key = ?`).bind(key).first<{ value: string; expires_at: number }>();
              const held = after === null ? undefined : JSON.parse(after.value) as Json;
              expect({
                transition: transition.name,
                now,
                cost,
                time: [(before!.results![0] as { now: number }).now, ...(decided!.results! as { now: number }[]).map((row) => row.now)],
                allowed: decided!.results!.length === 1,
                state: held,
                expiresAt: after?.expires_at,
              }).toEqual({
                transition: transition.name,
                now,
                cost,
                time: ts.next === UNCHANGED ? [now] : [now, now],
                allowed: (ts.output as { a: boolean }).a,
                state,
                expiresAt: state === undefined ? undefined : after!.expires_at,
              });
              if (ts.next !== UNCHANGED) expect(after!.expires_at).toBe(now + Math.max(1, Math.ceil(ts.ttlMs!)));
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  }, SLOW_TEST_MS);

  it("the exact log answers as the in-process sliding window does, for the same calls at the same times (fast-check)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 600 }), cost: fc.integer({ min: 1, max: 6 }) }), { minLength: 1, maxLength: 30 }),
        async (calls) => {
          // The engine's clock is the ManualClock's wall time, from a start of its own each run.
          const clock = new ManualClock({ wallNow: 1_764_000_000_000 + run++ * 1_000_003 });
          const options = { algorithm: "sliding-window" as const, limit: 12, windowMs: 1_000 };
          const store = new D1Store(engineTime(() => clock.wallNow()), { prefix: prefix() });
          const shared = new DistributedRateLimiter({ ...options, store, clock, maxBlockedKeys: 0, onStoreError: "deny" });
          const local = new KeyedRateLimiter({ ...options, clock });
          const answers = [];
          for (const { gap, cost } of calls) {
            await clock.advance(gap);
            const { source, ...answer } = await shared.limit("k", { cost });
            answers.push({ source, answer, local: local.consume("k", cost) });
          }
          expect(answers.map(({ source }) => source)).toEqual(answers.map(() => "store"));
          expect(answers.map(({ answer }) => answer)).toEqual(answers.map(({ local }) => local));
        },
      ),
      { numRuns: 30 },
    );
  }, SLOW_TEST_MS);

  it("decides on D1's clock: clients an hour apart agree", async () => {
    const p = prefix();
    const options = { algorithm: "fixed-window" as const, limit: 4, windowMs: 60_000, maxBlockedKeys: 0 };
    const ahead = new DistributedRateLimiter({ ...options, store: new D1Store(database, { prefix: p, clock: skewed(3_600_000) }) });
    const behind = new DistributedRateLimiter({ ...options, store: new D1Store(database, { prefix: p, clock: skewed(-3_600_000) }) });
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await ahead.limit("k"), await behind.limit("k"));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
    expect(decisions[4]!.retryAfterMs).toBeGreaterThan(0);
    expect(decisions[4]!.retryAfterMs).toBeLessThanOrEqual(60_000);
  }, SLOW_TEST_MS);
});
