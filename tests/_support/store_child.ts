// A second process contending for one key: connects to a real server
// through the named client, prints "ready", waits for "go" on stdin, runs
// `count` concurrent increments through store.update(), prints "done".
//
//   node store_child.mjs <redis-node|redis-io|postgres-pg|postgres-js> <url> <key> <count> <prefix>
//
// Bundled by tests/_support/child_process.ts (Node 20 cannot run .ts).
import process from "node:process";
import { Redis } from "ioredis";
import pg from "pg";
import postgres from "postgres";
import { createClient } from "redis";
import type { Store, Transition } from "../../mod.ts";
import { fromPg, fromPostgresJs, PostgresStore } from "../../adapters/postgres/mod.ts";
import { fromIoRedis, fromNodeRedis, RedisStore } from "../../adapters/redis/mod.ts";
import { increment } from "./store_transitions.ts";

const [kind, url, key, countText, prefix] = process.argv.slice(2);
const count = Number(countText);

async function connect(): Promise<{ store: Store; close: () => Promise<unknown> }> {
  const timeoutMs = 30_000;
  switch (kind) {
    case "redis-node": {
      const client = await createClient({ url }).connect();
      return { store: new RedisStore({ client: fromNodeRedis(client), prefix, timeoutMs }), close: () => client.quit() };
    }
    case "redis-io": {
      const client = new Redis(url!);
      return { store: new RedisStore({ client: fromIoRedis(client), prefix, timeoutMs }), close: () => client.quit() };
    }
    case "postgres-pg": {
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      return { store: new PostgresStore({ query: fromPg(pool), prefix, timeoutMs }), close: () => pool.end() };
    }
    case "postgres-js": {
      const sql = postgres(url!, { max: 10, onnotice: () => {} });
      return { store: new PostgresStore({ query: fromPostgresJs(sql), prefix, timeoutMs }), close: () => sql.end() };
    }
  }
  throw new Error(`unknown client kind ${kind}`);
}

const { store, close } = await connect();
// One round trip before "ready", so connecting is not part of the race.
await store.get(key!);
process.stdout.write("ready\n");
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
const transition: Transition<number, number> = increment;
await Promise.all(Array.from({ length: count }, () => store.update(key!, transition, 1)));
await close();
process.stdout.write("done\n");
process.exit(0);
