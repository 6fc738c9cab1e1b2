// Node 20 cannot strip TypeScript types: `node --import ./bench/ts_hooks.mjs
// bench/x.bench.ts` registers this module as a loader hook that hands .ts
// files to esbuild's transform (types removed, nothing else changed), so
// Node 20 runs the very files Node 24 runs natively. Used by scripts/bench.mjs.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";

if (isMainThread) (await import("node:module")).register(import.meta.url);

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const { transform } = await import("esbuild");
  const source = await readFile(fileURLToPath(url), "utf8");
  const { code } = await transform(source, { loader: "ts", format: "esm", target: "esnext", sourcefile: url });
  return { format: "module", source: code, shortCircuit: true };
}
