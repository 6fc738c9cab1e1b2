// The Deno KV part of bench/stores.bench.ts, run by it under Deno
// (`deno run --allow-all --unstable-kv bench/stores_deno.ts <out.json>`):
// DenoKvStore over `Deno.openKv` on a file in a temp dir (SQLite, as a
// self-hosted Deno KV is), the operations of bench/stores_operations.ts,
// rows written as JSON to <out.json>. Round trips are counted at the KV
// handle: reads (`get`, `getMany`) and commits of atomic operations.
import { DenoKvStore, type DenoKvLike } from "../adapters/deno/mod.ts";
import { measureEngine } from "./stores_operations.ts";

type Kv = DenoKvLike & { close(): void };
const deno = (globalThis as unknown as {
  Deno: {
    args: string[];
    openKv(path: string): Promise<Kv>;
    makeTempDir(): Promise<string>;
    remove(path: string, options: { recursive: boolean }): Promise<void>;
    writeTextFile(path: string, text: string): Promise<void>;
  };
}).Deno;

let trips = 0;

/** Counts calls that reach the database: reads, and commits of atomic operations. */
function counting(kv: Kv): Kv {
  return new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "get" || property === "getMany") return (...args: unknown[]) => (trips++, value.apply(target, args));
      if (property === "atomic") {
        return () => {
          const operation = value.call(target) as { commit(): Promise<unknown> };
          const commit = operation.commit.bind(operation);
          operation.commit = () => (trips++, commit());
          return operation;
        };
      }
      return value.bind(target);
    },
  });
}

const out = deno.args[0];
if (out === undefined) throw new Error("usage: deno run --allow-all --unstable-kv bench/stores_deno.ts <out.json>");
const dir = await deno.makeTempDir();
const kv = await deno.openKv(`${dir}/kv.sqlite3`);
try {
  const rows = await measureEngine("Deno KV (DenoKvStore, file)", new DenoKvStore({ kv: counting(kv) }), () => trips);
  await deno.writeTextFile(out, JSON.stringify(rows));
} finally {
  kv.close();
  await deno.remove(dir, { recursive: true });
}
