// A second Deno process for tests/deno_kv_store.deno.test.ts: increments one
// key through its own DenoKvStore on the shared database file.
import { DenoKvStore } from "../../adapters/deno/mod.ts";
import type { Transition } from "../../mod.ts";

const deno = (globalThis as unknown as {
  Deno: { args: string[]; openKv(path: string): Promise<never>; exit(code: number): never };
}).Deno;
const [path, countText] = deno.args;
const kv = await deno.openKv(path!);
const store = new DenoKvStore({ kv, timeoutMs: 30_000 });
const increment: Transition<number, number> = {
  name: "test.increment",
  apply: (current, input) => ({ next: (typeof current === "number" ? current : 0) + input, output: 0 }),
};
await store.set("started", true);
for (let i = 0; i < Number(countText); i++) await store.update("counter", increment, 1);
(kv as unknown as { close(): void }).close();
deno.exit(0);
