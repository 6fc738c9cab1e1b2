// A second process for the distributed rate limits' engine tests
// (tests/rate_limit_distributed_redis.node.test.ts and
// tests/rate_limit_distributed_postgres.node.test.ts): connects to the
// shared server, prints "ready", waits for "go" on stdin, makes `count`
// concurrent limit() calls on one key with every algorithm of
// distributed_limit_scenarios.ts, prints "admitted:<json>" and "done".
//
//   node distributed_limit_child.mjs <redis-io|postgres-pg> <url> <prefix> <limit> <count>
//
// Bundled by tests/_support/child_process.ts (Node 20 cannot run .ts).
import process from "node:process";
import { Redis } from "ioredis";
import pg from "pg";
import type { Store } from "../../mod.ts";
import { fromPg, PostgresStore } from "../../adapters/postgres/mod.ts";
import { fromIoRedis, RedisStore } from "../../adapters/redis/mod.ts";
import { admittedOf, algorithmsWithLimit, label } from "./distributed_limit_scenarios.ts";

const [kind, url, prefix, limitText, countText] = process.argv.slice(2);

async function connect(): Promise<{ store: Store; close: () => Promise<unknown> }> {
  const timeoutMs = 30_000;
  if (kind === "redis-io") {
    const client = new Redis(url!);
    return { store: new RedisStore({ client: fromIoRedis(client), prefix, timeoutMs }), close: () => client.quit() };
  }
  if (kind === "postgres-pg") {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    return { store: new PostgresStore({ query: fromPg(pool), prefix, timeoutMs }), close: () => pool.end() };
  }
  throw new Error(`unknown client kind ${kind}`);
}

const { store, close } = await connect();
await store.get("warm-up");
process.stdout.write("ready\n");
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
const admitted: Record<string, number> = {};
await Promise.all(
  algorithmsWithLimit(Number(limitText)).map(async (options) => {
    admitted[label(options)] = await admittedOf(store, options, label(options), Number(countText));
  }),
);
process.stdout.write(`admitted:${JSON.stringify(admitted)}\n`);
await close();
process.stdout.write("done\n");
process.exit(0);
