// Which test files run where. The single source of truth for the vitest
// configs (node, workerd, chromium) and for the Deno and Bun legs of
// scripts/test.mjs.
//
// tests/<name>.test.ts            every runtime
// tests/<name>.node.test.ts       runtimes with Node's APIs: node20, node24, deno, bun
// tests/<name>.deno.test.ts       deno only
// tests/<name>.bun.test.ts        bun only
// tests/<name>.workers.test.ts    workerd only (cloudflare:test bindings)
// tests/<name>.browser.test.ts    chromium only
// tests/guard*.test.ts            node20 only (checks of the repository itself),
//                                 unless tagged like the others
import { readdirSync } from "node:fs";
import { join } from "node:path";

/** Runtime legs that execute the test files. */
export const RUNTIMES = ["node20", "node24", "deno", "bun", "workerd", "chromium"];

const TAGS = {
  node: ["node20", "node24", "deno", "bun"],
  deno: ["deno"],
  bun: ["bun"],
  workers: ["workerd"],
  browser: ["chromium"],
};

/** The legs a test file (path relative to the repo root) runs on. */
export function runtimesFor(file) {
  const name = file.split("/").pop();
  const tag = /\.([a-z0-9]+)\.test\.ts$/.exec(name)?.[1];
  if (tag && TAGS[tag]) return TAGS[tag];
  return name.startsWith("guard") ? ["node20"] : RUNTIMES;
}

/** Every test file under tests/, as repo-relative paths, sorted. */
export function allTestFiles(root = ".") {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && !entry.name.startsWith("_")) walk(path);
      } else if (entry.name.endsWith(".test.ts")) {
        found.push(path);
      }
    }
  };
  walk("tests");
  return found.sort();
}

/** The test files a leg runs. */
export function testFilesFor(runtime, root = ".") {
  if (!RUNTIMES.includes(runtime)) throw new Error(`unknown runtime leg '${runtime}'`);
  return allTestFiles(root).filter((file) => runtimesFor(file).includes(runtime));
}
