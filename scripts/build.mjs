// `npm run build`: dist/ with ESM .js and .d.ts from tsconfig.build.json.
//
// zod/mini is also bundled into dist/vendor/zod_mini.js: the handful of its
// functions the library calls, as one file. dist/*.js import "#zod-mini",
// which package.json's "imports" maps to that file under the "node"
// condition (Node, Bun, Deno's npm support) and to "zod/mini" itself
// everywhere else. Importing "zod/mini" from node_modules loads a hundred-odd
// modules (every locale among them): ~40 ms of a cold start on Node, against
// ~6 ms for the one file. Bundlers (browser, workerd conditions) keep
// "zod/mini", whose modules they tree-shake better than one pre-bundled file.
// The .d.ts files name "zod/mini" for their types; the sources (what JSR and
// Deno run) import it as is.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });

// from "./x.ts" | import("./x.ts") | import "./x.ts"  (relative specifiers only)
const TS_SPECIFIER = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.\.?\/[^"']*?)\.(m?)ts\2/g;

let files = 0;
/** The .js files that import zod/mini, and every `z.<name>` they use. */
const zodUsers = [];
const zodNames = new Set();
const ZOD_IMPORT = /^import \* as z from "zod\/mini";$/m;
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith(".d.ts")) {
      const text = readFileSync(path, "utf8");
      const rewritten = text.replace(TS_SPECIFIER, (_, prefix, quote, base, m) => `${prefix}${quote}${base}.${m}js${quote}`);
      if (rewritten !== text) writeFileSync(path, rewritten);
      files++;
    } else if (entry.name.endsWith(".js")) {
      const text = readFileSync(path, "utf8");
      if (/from "zod/.test(text) && !ZOD_IMPORT.test(text)) {
        throw new Error(`${path}: import zod only as \`import * as z from "zod/mini"\` (the build bundles it)`);
      }
      if (!ZOD_IMPORT.test(text)) continue;
      zodUsers.push(path);
      for (const [, name] of text.matchAll(/\bz\.([A-Za-z_$][\w$]*)/g)) zodNames.add(name);
    }
  }
};
walk(dist);

const vendored = join(dist, "vendor", "zod_mini.js");
mkdirSync(dirname(vendored), { recursive: true });
const { build } = await import("esbuild");
const license = readFileSync(join(root, "node_modules", "zod", "LICENSE"), "utf8").trim();
const { version } = JSON.parse(readFileSync(join(root, "node_modules", "zod", "package.json"), "utf8"));
await build({
  stdin: { contents: `export { ${[...zodNames].sort().join(", ")} } from "zod/mini";`, resolveDir: root, loader: "js" },
  bundle: true,
  format: "esm",
  platform: "neutral",
  outfile: vendored,
  banner: { js: `/*!\n * zod ${version} (https://zod.dev), the parts of zod/mini bulwark uses, bundled by scripts/build.mjs.\n *\n * ${license.replaceAll("\n", "\n * ")}\n */` },
  logLevel: "warning",
});
const { imports } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
if (imports?.["#zod-mini"]?.node !== `./${relative(root, vendored)}` || imports["#zod-mini"].default !== "zod/mini") {
  throw new Error(`package.json needs "imports": { "#zod-mini": { "node": "./${relative(root, vendored)}", "default": "zod/mini" } }`);
}
for (const path of zodUsers) {
  writeFileSync(path, readFileSync(path, "utf8").replace(ZOD_IMPORT, `import * as z from "#zod-mini";`));
}
console.log(`built dist/ (${files} declaration files; zod/mini's ${zodNames.size} functions in dist/vendor/zod_mini.js)`);
