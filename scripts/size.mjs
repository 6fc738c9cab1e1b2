// Bundle-size budgets, run by `npm test` (with the packaging checks) and by
// `node scripts/size.mjs` on its own (which builds and packs first).
//
// Each entry of size-budget.json is a one-line module importing from the
// packed package, installed as a user would have it; esbuild bundles and
// minifies it (zod included), and the gzip -9 size must stay within the
// budget. cockatiel's bundles are measured the same way, for comparison only.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Minified and gzipped size (bytes) of `source`, resolved from `dir`. */
export async function bundleSize(source, dir) {
  const { outputFiles } = await build({
    stdin: { contents: source, resolveDir: dir, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const code = outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

// kB of 1000 bytes, as the budgets and docs/benchmarks.md state them.
const kb = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;

/** Unpacks `tarball` as node_modules/bulwark of a scratch project `dir`, beside zod and cockatiel. */
export function installPacked(tarball, dir) {
  const modules = join(dir, "node_modules");
  mkdirSync(modules, { recursive: true });
  execFileSync("tar", ["xzf", tarball, "-C", modules]);
  renameSync(join(modules, "package"), join(modules, "bulwark"));
  // The runtime dependency as npm would install it (and cockatiel, to compare): no registry needed.
  for (const dependency of ["zod", "cockatiel"]) {
    symlinkSync(join(root, "node_modules", dependency), join(modules, dependency), "dir");
  }
}

/**
 * Measures every budgeted entry from the packed package; a bundle over its
 * budget (or one that fails to build) fails the check.
 * @returns {Promise<{ name: string, passed: number, failed: number, output: string }>}
 */
export async function sizeCheck(tarball, workDir) {
  const dir = join(workDir, "size");
  const { entries, compare } = JSON.parse(readFileSync(join(root, "size-budget.json"), "utf8"));
  let passed = 0;
  let failed = 0;
  let output = "";
  try {
    installPacked(tarball, dir);
  } catch (error) {
    return { name: "size", passed: 0, failed: 1, output: `cannot install ${tarball}: ${error.message}\n` };
  }
  const width = Math.max(...[...entries, ...compare].map((e) => e.name.length));
  output += `${"entry".padEnd(width)}  ${"min".padStart(9)}  ${"min+gz".padStart(9)}  ${"budget".padStart(9)}\n`;
  for (const entry of entries) {
    try {
      const { minified, gzipped } = await bundleSize(entry.source, dir);
      const ok = gzipped <= entry.budget;
      ok ? passed++ : failed++;
      output += `${entry.name.padEnd(width)}  ${kb(minified).padStart(9)}  ${kb(gzipped).padStart(9)}  ${
        kb(entry.budget).padStart(9)
      }  ${ok ? "ok" : `OVER BUDGET by ${gzipped - entry.budget} bytes`}\n`;
    } catch (error) {
      failed++;
      output += `${entry.name.padEnd(width)}  failed to bundle: ${error.message}\n`;
    }
  }
  for (const entry of compare) {
    try {
      const { minified, gzipped } = await bundleSize(entry.source, dir);
      output += `${entry.name.padEnd(width)}  ${kb(minified).padStart(9)}  ${kb(gzipped).padStart(9)}  (for comparison)\n`;
    } catch (error) {
      output += `${entry.name.padEnd(width)}  failed to bundle: ${error.message}\n`;
    }
  }
  return { name: "size", passed, failed, output };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { buildAndPack } = await import("./check_package.mjs");
  const workDir = mkdtempSync(join(tmpdir(), "bulwark-size-"));
  try {
    const built = await buildAndPack(workDir);
    if (built.tarball === undefined) {
      console.log(built.result.output);
      process.exit(1);
    }
    const result = await sizeCheck(built.tarball, workDir);
    console.log(result.output.trimEnd());
    process.exitCode = result.failed > 0 ? 1 : 0;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
