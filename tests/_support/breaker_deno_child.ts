// The second Deno process of tests/circuit_breaker_shared_deno_kv.deno.test.ts:
// its own instance of the fleet's breaker on the shared Deno KV file, with
// the protocol of breaker_fleet_child.ts ("ready", "go" → "tripped:<state>",
// "go" → 100 held calls, "answered:<n>", "results:<json>", "done").
//
//   deno run --unstable-kv --allow-all breaker_deno_child.ts <kv file>
import process from "node:process";
import { createInterface } from "node:readline";
import { DenoKvStore, type DenoKvLike } from "../../adapters/deno/mod.ts";
import { burst, fleetBreaker, trip } from "./breaker_fleet.ts";

const deno = (globalThis as unknown as {
  Deno: { args: string[]; openKv(path: string): Promise<DenoKvLike & { close(): void }>; exit(code: number): never };
}).Deno;
const kv = await deno.openKv(deno.args[0]!);
const store = new DenoKvStore({ kv, timeoutMs: 30_000 });
const breaker = fleetBreaker(store);
await breaker.execute(() => undefined);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
process.stdout.write("ready\n");
await lines.next();
await trip(breaker);
process.stdout.write(`tripped:${breaker.state}\n`);
await lines.next();
const results = await burst(breaker, store, 100, (answered) => process.stdout.write(`answered:${answered}\n`));
process.stdout.write(`results:${JSON.stringify(results)}\n`);
kv.close();
process.stdout.write("done\n");
deno.exit(0);
