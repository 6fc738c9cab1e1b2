// A second Deno process for tests/rate_limit_distributed_deno_kv.deno.test.ts:
// on the shared database file, marks itself started, makes `count`
// concurrent limit() calls on one key with every algorithm of
// distributed_limit_scenarios.ts, and writes how many were admitted (and its
// store's compare-and-set conflicts) under "child-admitted".
import { DenoKvStore } from "../../adapters/deno/mod.ts";
import { admittedOf, algorithmsWithLimit, label } from "./distributed_limit_scenarios.ts";

const deno = (globalThis as unknown as {
  Deno: { args: string[]; openKv(path: string): Promise<never>; exit(code: number): never };
}).Deno;
const [path, limitText, countText] = deno.args;
const kv = await deno.openKv(path!);
const store = new DenoKvStore({ kv, timeoutMs: 30_000 });
await store.set("started", true);
const admitted: Record<string, number> = {};
await Promise.all(
  algorithmsWithLimit(Number(limitText)).map(async (options) => {
    admitted[label(options)] = await admittedOf(store, options, label(options), Number(countText));
  }),
);
await store.set("child-admitted", { admitted, conflicts: store.conflicts });
(kv as unknown as { close(): void }).close();
deno.exit(0);
