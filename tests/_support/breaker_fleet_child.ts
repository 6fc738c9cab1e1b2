// The second process of tests/circuit_breaker_shared_engines.node.test.ts:
// its own instance of the fleet's breaker on the shared server. Prints
// "ready" once loaded; on the first "go" line trips the breaker and prints
// "tripped"; on the second makes 100 concurrent held calls (half-open by
// then), printing "answered:<n>" as they answer and "results:<json>".
//
//   node breaker_fleet_child.mjs <redis-io|postgres-pg> <url> <prefix>
//
// Bundled by tests/_support/child_process.ts (Node 20 cannot run .ts).
import process from "node:process";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import pg from "pg";
import type { Store } from "../../mod.ts";
import { fromPg, PostgresStore } from "../../adapters/postgres/mod.ts";
import { fromIoRedis, RedisStore } from "../../adapters/redis/mod.ts";
import { burst, fleetBreaker, trip } from "./breaker_fleet.ts";

const [kind, url, prefix] = process.argv.slice(2);

async function connect(): Promise<{ store: Store; close: () => Promise<unknown> }> {
  const timeoutMs = 30_000;
  if (kind === "redis-io") {
    const client = new Redis(url!);
    return { store: new RedisStore({ client: fromIoRedis(client), prefix, timeoutMs }), close: () => client.quit() };
  }
  if (kind === "postgres-pg") {
    const pool = new pg.Pool({ connectionString: url, max: 20 });
    return { store: new PostgresStore({ query: fromPg(pool), prefix, timeoutMs }), close: () => pool.end() };
  }
  throw new Error(`unknown client kind ${kind}`);
}

const { store, close } = await connect();
const breaker = fleetBreaker(store);
// The first call reads the shared state: loaded before "ready".
await breaker.execute(() => undefined);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
process.stdout.write("ready\n");
await lines.next();
await trip(breaker);
process.stdout.write(`tripped:${breaker.state}\n`);
await lines.next();
const results = await burst(breaker, store, 100, (answered) => process.stdout.write(`answered:${answered}\n`));
process.stdout.write(`results:${JSON.stringify(results)}\n`);
await close();
process.stdout.write("done\n");
process.exit(0);
