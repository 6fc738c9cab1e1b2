// `npm run build`: dist/ with ESM .js and .d.ts from tsconfig.build.json.
//
// For Node (and Bun, and Deno's npm support: whatever matches the "node"
// condition) each entry point is also bundled, with zod/mini, into
// dist/node/ (shared code in chunks, so entry points share one state).
// Importing the package as ~45 modules, zod/mini's hundred-odd (every locale
// among them) included, took twice cockatiel's whole-process cold start;
// the bundle, well under it. Each entry file (dist/mod.js, ...) becomes
// `export * from "#bulwark/<name>"`, which package.json "imports" maps to
// dist/node/<name>.js under "node" and to tsc's output, renamed
// <file>_core.js, everywhere else: bundlers for browsers and Workers keep
// separate modules and zod/mini's own, which tree-shake best. Types and the
// sources (JSR, Deno) are untouched.
import { execFileSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });

// from "./x.ts" | import("./x.ts") | import "./x.ts"  (relative specifiers only)
const TS_SPECIFIER = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.\.?\/[^"']*?)\.(m?)ts\2/g;

// Declarations of explicit resource management (ES2026), which our
// `Disposable` classes need, for consumers whose `lib` lacks
// "esnext.disposable" and who have no @types/node: the same declarations as
// TypeScript's lib and @types/node, so they merge with them where present.
// Referenced by each declaration file that uses them (not a global
// augmentation in the sources: JSR refuses those, and Deno has them).
const DISPOSABLE = "disposable.d.ts";
writeFileSync(
  join(dist, DISPOSABLE),
  [
    "// Explicit resource management (ES2026), as in TypeScript's lib.esnext.disposable.",
    "interface SymbolConstructor {",
    "  readonly dispose: unique symbol;",
    "  readonly asyncDispose: unique symbol;",
    "}",
    "interface Disposable {",
    "  [Symbol.dispose](): void;",
    "}",
    "interface AsyncDisposable {",
    "  [Symbol.asyncDispose](): PromiseLike<void>;",
    "}",
    "",
  ].join("\n"),
);

let files = 0;
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith(".d.ts") && entry.name !== DISPOSABLE) {
      const text = readFileSync(path, "utf8");
      let rewritten = text.replace(TS_SPECIFIER, (_, prefix, quote, base, m) => `${prefix}${quote}${base}.${m}js${quote}`);
      if (/\b(?:Async)?Disposable\b|Symbol\.(?:async)?[dD]ispose\b/.test(rewritten)) {
        const target = relative(dirname(path), join(dist, DISPOSABLE)).split(sep).join("/");
        rewritten = `/// <reference path="${target.startsWith(".") ? target : `./${target}`}" />\n${rewritten}`;
      }
      if (rewritten !== text) writeFileSync(path, rewritten);
      files++;
    }
  }
};
walk(dist);

// Entry points, from package.json "exports": "." -> mod, "./testing" -> testing, ...
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const entries = Object.entries(manifest.exports)
  .filter(([subpath]) => subpath !== "./package.json")
  .map(([subpath, target]) => {
    const name = subpath === "." ? "mod" : subpath.slice(2);
    const core = target.replace(/\.js$/, "_core.js");
    return { name, target, core, specifier: `#bulwark/${name}` };
  });
const expected = Object.fromEntries(
  entries.map(({ name, core, specifier }) => [specifier, { node: `./dist/node/${name}.js`, default: core }]),
);
if (JSON.stringify(manifest.imports) !== JSON.stringify(expected)) {
  throw new Error(`package.json "imports" must be:\n${JSON.stringify(expected, null, 2)}`);
}
for (const { target, core, specifier } of entries) {
  renameSync(join(root, target), join(root, core));
  writeFileSync(
    join(root, target),
    `// ${basename(core)} in browsers, Workers and bundlers; dist/node/ on Node (see package.json "imports").\nexport * from "${specifier}";\n`,
  );
}

const { build } = await import("esbuild");
const { version } = JSON.parse(readFileSync(join(root, "node_modules", "zod", "package.json"), "utf8"));
await build({
  entryPoints: Object.fromEntries(entries.map(({ name, core }) => [name, join(root, core)])),
  outdir: join(dist, "node"),
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  plugins: [{
    // Inside the bundle, an entry's `#bulwark/<name>` is its own source.
    name: "entries",
    setup(build) {
      build.onResolve({ filter: /^#bulwark\// }, ({ path }) => ({
        path: join(root, entries.find(({ specifier }) => specifier === path).core),
      }));
    },
  }],
  banner: { js: `/*! bulwark, bundled for Node by scripts/build.mjs. Includes zod ${version} (https://zod.dev), MIT License, Copyright (c) 2025 Colin McDonnell: see ./LICENSE-zod.txt */` },
  logLevel: "warning",
});
copyFileSync(join(root, "node_modules", "zod", "LICENSE"), join(dist, "node", "LICENSE-zod.txt"));
console.log(`built dist/ (${files} declaration files) and dist/node/ (${entries.map(({ name }) => name).join(", ")})`);
