// `npm run build`: dist/ with ESM .js and .d.ts from tsconfig.build.json.
//
// tsc rewrites `./x.ts` to `./x.js` in emitted JavaScript
// (rewriteRelativeImportExtensions) but leaves `./x.ts` in declaration files,
// which resolve to nothing in dist/ (only .js and .d.ts ship). The post-step
// rewrites relative `.ts` specifiers in the .d.ts files to `.js`, as tsc does
// for the .js files.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });

// from "./x.ts" | import("./x.ts") | import "./x.ts"  (relative specifiers only)
const TS_SPECIFIER = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.\.?\/[^"']*?)\.(m?)ts\2/g;

let files = 0;
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith(".d.ts")) {
      const text = readFileSync(path, "utf8");
      const rewritten = text.replace(TS_SPECIFIER, (_, prefix, quote, base, m) => `${prefix}${quote}${base}.${m}js${quote}`);
      if (rewritten !== text) writeFileSync(path, rewritten);
      files++;
    }
  }
};
walk(dist);
console.log(`built dist/ (${files} declaration files)`);
