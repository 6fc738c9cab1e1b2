// Latency and round trips per Store operation, per engine, on loopback:
// MemoryStore, RedisStore through node-redis and ioredis, PostgresStore
// through pg and postgres.js (in this process); KvStore, DurableObjectStore
// and D1Store inside a Worker in Miniflare (workerd, local engines:
// bench/stores_worker.ts); DenoKvStore under Deno on a KV file
// (bench/stores_deno.ts). Starts its own redis-server and PostgreSQL
// (tests/_support/servers.ts), Miniflare and Deno, and stops them.
//
//   npm run bench -- stores          (Node 24 only: Miniflare needs Node >= 22)
//   npx --yes -p node@24 node bench/stores.bench.ts
//
// Each operation runs ROUNDS times in sequence (one caller: latency, not
// throughput) after a warm-up (bench/stores_operations.ts); the table shows
// the median, the 99th percentile and the mean in µs, and the round trips
// per operation, counted at the client. Inside workerd the clock moves in
// whole milliseconds, so the Worker rows have only the mean over the run.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import postgres from "postgres";
import { createClient } from "redis";
import { MemoryStore, type Store } from "../mod.ts";
import { fromPg, fromPostgresJs, PostgresStore, type SqlQuery } from "../adapters/postgres/mod.ts";
import { fromIoRedis, fromNodeRedis, type RedisScriptClient, RedisStore } from "../adapters/redis/mod.ts";
import { startPostgres, startRedis } from "../tests/_support/servers.ts";
import { measureRow, operations, ROUNDS, type Row, WARMUP } from "./stores_operations.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

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

/** Memory, Redis and PostgreSQL, in this process: operation by operation, each across every engine. */
async function nodeEngines(): Promise<Row[]> {
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
    for (const engine of engines) await engine.store.set("hot", { n: 0, tag: "bench" });
    const rows: Row[] = [];
    for (const operation of operations()) {
      for (const engine of engines) rows.push(await measureRow(engine.name, engine.store, engine.trips, operation));
    }
    return rows;
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await redis.close();
    await pgServer.close();
  }
}

/** Workers KV, a Durable Object and D1, timed inside a Worker in Miniflare. */
async function workerEngines(): Promise<Row[]> {
  const { build } = await import("esbuild");
  const { Miniflare } = await import("miniflare");
  const bundle = await build({
    entryPoints: [join(ROOT, "bench", "stores_worker.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:workers"],
    write: false,
    logLevel: "silent",
  });
  const miniflare = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]!.text,
    compatibilityDate: "2026-04-01",
    kvNamespaces: { STATE_KV: "bench-kv" },
    durableObjects: { STATE_OBJECTS: { className: "BulwarkStateObject", useSQLite: true } },
    d1Databases: { STATE_DB: "00000000-0000-4000-8000-000000000002" },
  });
  try {
    await miniflare.ready;
    const rows: Row[] = [];
    for (const engine of ["kv", "do", "d1"]) {
      const response = await miniflare.dispatchFetch(`http://bench/run?engine=${engine}`);
      const text = await response.text();
      if (!response.ok) throw new Error(`the bench Worker failed on ${engine}: ${text}`);
      rows.push(...(JSON.parse(text) as Row[]));
    }
    return rows;
  } finally {
    await miniflare.dispose();
  }
}

/** Deno KV on a file, timed by a Deno process. */
function denoEngine(): Row[] {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-denokv-"));
  try {
    const out = join(dir, "rows.json");
    const ran = spawnSync(
      join(ROOT, "node_modules", ".bin", "deno"),
      ["run", "--allow-all", "--unstable-kv", join(ROOT, "bench", "stores_deno.ts"), out],
      { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] },
    );
    if (ran.status !== 0) throw new Error(`bench/stores_deno.ts exited with ${ran.status ?? ran.signal}`);
    return JSON.parse(readFileSync(out, "utf8")) as Row[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const us = (n: number | undefined): string => (n === undefined ? "—" : n.toFixed(n < 10 ? 1 : 0));
const trips = (n: number): string => n.toFixed(2).replace(/\.?0+$/, "") || "0";

const rows = [...(await nodeEngines()), ...(await workerEngines()), ...denoEngine()];
const engines = [...new Set(rows.map((row) => row.engine))];
const lines = [
  `${ROUNDS} sequential calls per row after ${WARMUP} warm-up calls; µs per call; round trips counted at the client. ` +
    `Worker rows: timed inside workerd, whose clock moves in whole ms, so only the mean over the ${ROUNDS} calls.`,
  "",
  "| engine | operation | median µs | p99 µs | mean µs | round trips |",
  "|---|---|---:|---:|---:|---:|",
];
for (const operation of operations()) {
  for (const engine of engines) {
    const row = rows.find((item) => item.engine === engine && item.operation === operation.name);
    if (row !== undefined) lines.push(`| ${engine} | ${operation.name} | ${us(row.medianUs)} | ${us(row.p99Us)} | ${us(row.meanUs)} | ${trips(row.trips)} |`);
  }
}
console.log(lines.join("\n"));

// For scripts/bench.mjs: the table as it stands.
const json = process.argv.find((arg) => arg.startsWith("--json="))?.slice("--json=".length);
if (json !== undefined) {
  const runtime = `Node ${process.version.slice(1)}`;
  writeFileSync(json, JSON.stringify({ file: "bench/stores.bench.ts", runtime, quick: false, rounds: ROUNDS, groups: [], targets: [], table: lines }));
}
process.exit(0);
