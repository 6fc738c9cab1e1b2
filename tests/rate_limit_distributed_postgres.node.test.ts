// Distributed rate limits on a real PostgreSQL (started once for this file),
// through pg: every decision one statement (the table's _rate_limit
// function, on the server's clock); 200 concurrent calls admit exactly the
// limit, from one process and from two.
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromPg, PostgresStore, type SqlQuery } from "../adapters/postgres/mod.ts";
import { DistributedRateLimiter, type Json, RATE_LIMIT_TRANSITIONS, UNCHANGED } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { startContender } from "./_support/child_process.ts";
import { admittedOf, algorithmsWithLimit, label } from "./_support/distributed_limit_scenarios.ts";
import { type PostgresServer, startPostgres } from "./_support/servers.ts";

const SERVER_START_MS = 60_000;
const SLOW_TEST_MS = 60_000;

let server: PostgresServer | undefined;
let pool: pg.Pool | undefined;
let unique = 0;
const freshPrefix = () => `rl${unique++}:`;

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 10 });
  pool.on("error", () => {});
}, SERVER_START_MS);
afterAll(async () => {
  await pool?.end();
  await server?.close();
}, SERVER_START_MS);

/** pg, with every statement counted. */
function counting(): { query: SqlQuery; statements: string[] } {
  const inner = fromPg(pool!);
  const statements: string[] = [];
  return { statements, query: (sql, params) => (statements.push(sql), inner(sql, params)) };
}

const store = (prefix = freshPrefix(), query: SqlQuery = fromPg(pool!)) => new PostgresStore({ query, prefix, timeoutMs: 30_000 });

describe("DistributedRateLimiter on PostgresStore (real PostgreSQL, pg)", () => {
  it("migrates on first use, then decides in one statement", async () => {
    const { query, statements } = counting();
    const limiter = new DistributedRateLimiter({ store: store(freshPrefix(), query), algorithm: "fixed-window", limit: 2, windowMs: 60_000 });
    await limiter.limit("k");
    statements.length = 0;
    expect((await limiter.limit("k")).allowed).toBe(true);
    expect((await limiter.limit("k")).allowed).toBe(false);
    expect(statements).toHaveLength(2);
    expect(statements[0]).toContain("_rate_limit");
  }, SLOW_TEST_MS);

  for (const options of algorithmsWithLimit(50)) {
    it(`${label(options)}: 200 concurrent calls admit exactly the limit, one statement each`, async () => {
      const { query, statements } = counting();
      const s = store(freshPrefix(), query);
      await s.get("warm-up");
      statements.length = 0;
      expect(await admittedOf(s, options, "k", 200)).toBe(50);
      expect(statements).toHaveLength(200);
    }, SLOW_TEST_MS);
  }

  it("the function answers exactly what each TypeScript transition answers, at the same time (fast-check)", async () => {
    const s = store();
    await s.get("warm-up");
    const inputs: Record<string, (cost: number) => Json> = {
      "bulwark.rate-limit.fixed-window": (c) => ({ l: 5, w: 1_000, c }),
      "bulwark.rate-limit.sliding-window": (c) => ({ l: 5, w: 1_000, c }),
      "bulwark.rate-limit.sliding-window-counter": (c) => ({ l: 5, w: 1_000, c }),
      "bulwark.rate-limit.token-bucket": (c) => ({ r: 3, p: 700, b: 5, c }),
      "bulwark.rate-limit.gcra": (c) => ({ r: 3, p: 700, b: 5, c }),
    };
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 900 }), cost: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 20 }),
        async (calls) => {
          run++;
          for (const transition of RATE_LIMIT_TRANSITIONS) {
            const key = `equivalence:${run}:${transition.name}`;
            const kind = transition.name.slice("bulwark.rate-limit.".length);
            let state: Json | undefined;
            // The server's time a year from now, so the rows outlive the test's calls.
            let now = Date.now() + 31_536_000_000 + run * 1_000_003;
            for (const { gap, cost } of calls) {
              now += gap;
              const input = inputs[transition.name]!(cost);
              const { rows } = await pool!.query("SELECT bulwark_store_rate_limit($1, $2, $3, $4) AS out", [key, kind, JSON.stringify(input), now]);
              const ts = transition.apply(state, input, now);
              if (ts.next !== UNCHANGED) state = ts.next as Json;
              expect({ kind, now, cost, output: JSON.parse(rows[0].out) }).toEqual({ kind, now, cost, output: ts.output });
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  }, SLOW_TEST_MS);

  it("clients whose clocks are an hour apart agree: the server's clock decides", async () => {
    const prefix = freshPrefix();
    const options = { algorithm: "fixed-window" as const, limit: 4, windowMs: 60_000, maxBlockedKeys: 0 };
    const at = (offsetMs: number) => new PostgresStore({ query: fromPg(pool!), prefix, clock: new ManualClock({ wallNow: Date.now() + offsetMs }) });
    const ahead = new DistributedRateLimiter({ ...options, store: at(3_600_000) });
    const behind = new DistributedRateLimiter({ ...options, store: at(-3_600_000) });
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await ahead.limit("k"), await behind.limit("k"));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
  }, SLOW_TEST_MS);

  it("two processes on one server: 2 × 100 concurrent calls admit exactly the limit of 50, for every algorithm", async () => {
    const prefix = freshPrefix();
    const here = store(prefix);
    await here.get("warm-up");
    const child = await startContender(["postgres-pg", server!.url, prefix, "50", "100"], "distributed_limit_child.ts");
    child.go();
    const [, mine] = await Promise.all([
      child.done,
      Promise.all(algorithmsWithLimit(50).map(async (options) => [label(options), await admittedOf(here, options, label(options), 100)] as const)),
    ]);
    const theirs = JSON.parse(/admitted:(.*)\n/.exec(child.output)![1]!) as Record<string, number>;
    expect(Object.fromEntries(mine.map(([name, count]) => [name, count + theirs[name]!]))).toEqual(
      Object.fromEntries(mine.map(([name]) => [name, 50])),
    );
  }, SLOW_TEST_MS);
});
