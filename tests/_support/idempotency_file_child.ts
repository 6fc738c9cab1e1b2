// A second process for tests/idempotency_file_store.node.test.ts: makes
// `count` concurrent identical idempotent calls through its own FileStore on
// the shared directory, and writes what each call got to results-<name>.json.
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { argv, exit } from "node:process";
import { FileStore } from "../../adapters/fs/mod.ts";
import { idempotent, IdempotencyStore } from "../../mod.ts";

const [directory, name, countText] = argv.slice(2);
const store = new IdempotencyStore({ store: new FileStore({ directory: join(directory!, "store"), timeoutMs: 30_000 }) });
const charge = idempotent(
  async (order: { id: string; amount: number }) => {
    // The effect: one line per run, in a file both processes append to.
    await appendFile(join(directory!, "effects.log"), `${name}\n`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { receipt: `r-${order.id}`, amount: order.amount };
  },
  { store, key: (order) => order.id, pollIntervalMs: 5, maxPollIntervalMs: 50, waitTimeoutMs: 30_000 },
);
await writeFile(join(directory!, `${name}.started`), "");
const results = await Promise.allSettled(Array.from({ length: Number(countText) }, () => charge({ id: "order-x", amount: 7 })));
await writeFile(
  join(directory!, `results-${name}.json`),
  JSON.stringify(results.map((r) => (r.status === "fulfilled" ? r.value : { error: String(r.reason) }))),
);
exit(0);
