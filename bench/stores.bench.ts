// Latency and round trips per Store operation, per engine, on loopback:
// MemoryStore, RedisStore through node-redis and ioredis, PostgresStore
// through pg and postgres.js. Starts its own redis-server and PostgreSQL
// (tests/_support/servers.ts) and stops them.
//
//   npm run bench -- stores
//
// Each operation runs ROUNDS times in sequence (one caller: latency, not
// throughput) after a warm-up; the table shows the median and the 99th
// percentile in µs, and the round trips (script calls or statements) per
// operation, counted at the client.
import process from "node:process";
import { Redis } from "ioredis";
import pg from "pg";
import postgres from "postgres";
import { createClient } from "redis";
import { MemoryStore, type Store, type Transition } from "../mod.ts";
import { fromPg, fromPostgresJs, PostgresStore, type SqlQuery } from "../adapters/postgres/mod.ts";
import { fromIoRedis, fromNodeRedis, type RedisScriptClient, RedisStore } from "../adapters/redis/mod.ts";
import { startPostgres, startRedis } from "../tests/_support/servers.ts";

const ROUNDS = 400;
const WARMUP = 100;

const increment: Transition<number, number> = {
  name: "bench.increment",
  apply: (current, by) => {
    const next = (typeof current === "number" ? current : 0) + by;
    return { next, output: next };
  },
};

interface Engine {
  name: string;
  store: Store;
  /** Round trips so far (undefined: in-process). */
  trips: () => number | undefined;
}

function countingClient(client: RedisScriptClient): { client: RedisScriptClient; trips: () => number } {
  let calls = 0;
  return {
    client: {
      evalsha: (sha1, keys, args) => (calls++, client.evalsha(sha1, keys, args)),
      eval: (script, keys, args) => (calls++, client.eval(script, keys, args)),
    },
    trips: () => calls,
  };
}

function countingQuery(query: SqlQuery): { query: SqlQuery; trips: () => number } {
  let calls = 0;
  return { query: (sql, params) => (calls++, query(sql, params)), trips: () => calls };
}

type Operation = { name: string; run: (store: Store, i: number) => Promise<unknown> };

/** Each operation on its own keys, so that none sees another's leftovers. */
function operations(): Operation[] {
  const versions = new Map<Store, string | undefined>();
  return [
    { name: "get (hit)", run: (s) => s.get("hot") },
    { name: "get (miss)", run: (s, i) => s.get(`missing:${i}`) },
    { name: "set", run: (s, i) => s.set(`set:${i % 50}`, { n: i, tag: "bench" }) },
    { name: "set with ttlMs", run: (s, i) => s.set(`ttl:${i % 50}`, { n: i }, { ttlMs: 60_000 }) },
    { name: "insertIfAbsent (wins)", run: (s, i) => s.insertIfAbsent(`ins:${i}:${Math.random()}`, i) },
    { name: "insertIfAbsent (loses)", run: (s) => s.insertIfAbsent("hot", 0) },
    {
      name: "compareAndSet (wins)",
      run: async (s, i) => {
        const result = await s.compareAndSet("cas", versions.get(s), i);
        versions.set(s, result.ok ? result.entry.version : result.current?.version);
      },
    },
    { name: "update (increment)", run: (s) => s.update("counter", increment, 1) },
    { name: "delete", run: (s, i) => s.delete(`set:${i % 50}`) },
  ];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function measure(engine: Engine, operation: Operation): Promise<string> {
  for (let i = 0; i < WARMUP; i++) await operation.run(engine.store, i);
  const before = engine.trips();
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    await operation.run(engine.store, WARMUP + i);
    samples.push((performance.now() - started) * 1000);
  }
  const after = engine.trips();
  samples.sort((a, b) => a - b);
  const trips = before === undefined || after === undefined ? "0" : ((after - before) / ROUNDS).toFixed(2).replace(/\.00$/, "");
  const us = (n: number) => n.toFixed(n < 10 ? 1 : 0);
  return `| ${engine.name} | ${operation.name} | ${us(percentile(samples, 0.5))} | ${us(percentile(samples, 0.99))} | ${trips} |`;
}

const redis = await startRedis();
const pgServer = await startPostgres();
const closers: Array<() => Promise<unknown>> = [];
try {
  const nodeRedis = await createClient({ url: redis.url }).connect();
  closers.push(() => nodeRedis.quit());
  const ioredis = new Redis(redis.url);
  closers.push(() => ioredis.quit());
  const pool = new pg.Pool({ connectionString: pgServer.url, max: 4 });
  closers.push(() => pool.end());
  const sql = postgres(pgServer.url, { max: 4, onnotice: () => {} });
  closers.push(() => sql.end());

  const viaNodeRedis = countingClient(fromNodeRedis(nodeRedis));
  const viaIoredis = countingClient(fromIoRedis(ioredis));
  const viaPg = countingQuery(fromPg(pool));
  const viaPostgresJs = countingQuery(fromPostgresJs(sql));
  const engines: Engine[] = [
    { name: "memory", store: new MemoryStore(), trips: () => undefined },
    { name: "redis (node-redis)", store: new RedisStore({ client: viaNodeRedis.client, prefix: "a:" }), trips: viaNodeRedis.trips },
    { name: "redis (ioredis)", store: new RedisStore({ client: viaIoredis.client, prefix: "b:" }), trips: viaIoredis.trips },
    { name: "postgres (pg)", store: new PostgresStore({ query: viaPg.query, table: "bench_pg" }), trips: viaPg.trips },
    { name: "postgres (postgres.js)", store: new PostgresStore({ query: viaPostgresJs.query, table: "bench_js" }), trips: viaPostgresJs.trips },
  ];
  for (const engine of engines) {
    await engine.store.set("hot", { n: 0, tag: "bench" });
  }
  console.log(`${ROUNDS} sequential calls per row after ${WARMUP} warm-up calls; µs per call; round trips counted at the client.\n`);
  console.log("| engine | operation | median µs | p99 µs | round trips |");
  console.log("|---|---|---:|---:|---:|");
  for (const operation of operations()) {
    for (const engine of engines) console.log(await measure(engine, operation));
  }
} finally {
  for (const close of closers) await close().catch(() => undefined);
  await redis.close();
  await pgServer.close();
}
process.exit(0);
