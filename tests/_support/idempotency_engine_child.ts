// A second process for tests/idempotency_redis.node.test.ts and
// tests/idempotency_postgres.node.test.ts: connects to the shared server,
// prints "ready", waits for "go" on stdin, makes `count` concurrent
// identical idempotent calls, prints "results:<json>" and "done".
//
//   node idempotency_engine_child.mjs <redis-io|postgres-pg> <url> <prefix> <count> [http]
//
// With "http", the calls are identical POSTs to the Hono app of
// idempotency_engine_app.ts (the middleware over the same store) instead.
//
// Bundled by tests/_support/child_process.ts (Node 20 cannot run .ts).
import process from "node:process";
import { Redis } from "ioredis";
import pg from "pg";
import type { Store } from "../../mod.ts";
import { fromPg, PostgresStore } from "../../adapters/postgres/mod.ts";
import { fromIoRedis, RedisStore } from "../../adapters/redis/mod.ts";
import { postOrders } from "./idempotency_engine_app.ts";
import { chargeOnce } from "./idempotency_engine_charge.ts";

const [kind, url, prefix, countText, mode] = process.argv.slice(2);

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
// One round trip before "ready", so connecting is not part of the race.
await store.get("warm-up");
process.stdout.write("ready\n");
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
const charge = chargeOnce(store);
const results = mode === "http"
  ? (await postOrders(store)(Number(countText))).map((value) => ({ status: "fulfilled" as const, value }))
  : await Promise.allSettled(Array.from({ length: Number(countText) }, () => charge({ id: "order-x", amount: 7 })));
process.stdout.write(`results:${JSON.stringify(results.map((r) => (r.status === "fulfilled" ? r.value : { error: String(r.reason) })))}\n`);
await close();
process.stdout.write("done\n");
process.exit(0);
