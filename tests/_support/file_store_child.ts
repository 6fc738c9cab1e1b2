// A second process for tests/file_store.node.test.ts: writes whole values to
// one key, or increments it, through its own FileStore on the shared directory.
import { FileStore } from "../../adapters/fs/mod.ts";
import type { Transition } from "../../mod.ts";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { argv, exit } from "node:process";

const [directory, mode, key, countText, sizeText] = argv.slice(2);
const count = Number(countText);
const store = new FileStore({ directory: directory!, timeoutMs: 30_000 });
const increment: Transition<number, number> = {
  name: "test.increment",
  apply: (current, input) => ({ next: (typeof current === "number" ? current : 0) + input, output: 0 }),
};

if (mode === "write") {
  const size = Number(sizeText);
  for (let n = 1; n <= count; n++) {
    await store.set(key!, { n, body: String.fromCharCode(97 + (n % 26)).repeat(size), tail: n });
  }
} else if (mode === "increment") {
  // Tell the parent we are running, so that both processes contend from here on.
  await writeFile(join(directory!, `${key}.started`), "");
  for (let i = 0; i < count; i++) await store.update(key!, increment, 1);
} else {
  console.error(`unknown mode ${mode}`);
  exit(2);
}
exit(0);
