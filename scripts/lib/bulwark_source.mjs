// "bulwark" and "bulwark/<subpath>" resolved to this repository's sources,
// from deno.json's "exports" (the same map JSR publishes). The examples
// import the package by name, as users do; this lets esbuild bundle them
// from the sources without a build of dist/.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** `{ "bulwark": "/abs/mod.ts", "bulwark/testing": "/abs/src/testing/mod.ts", ... }` */
export function bulwarkEntries() {
  const { exports } = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  return Object.fromEntries(
    Object.entries(exports).map(([subpath, file]) => [
      subpath === "." ? "bulwark" : `bulwark/${subpath.slice(2)}`,
      join(root, file),
    ]),
  );
}

/** An esbuild plugin resolving `bulwark` and its subpaths to the sources. */
export function bulwarkFromSource() {
  const entries = bulwarkEntries();
  return {
    name: "bulwark-from-source",
    setup(build) {
      build.onResolve({ filter: /^bulwark(\/[a-z]+)?$/ }, (args) => {
        const path = entries[args.path];
        return path === undefined ? { errors: [{ text: `no export '${args.path}' in deno.json` }] } : { path };
      });
    },
  };
}
