// Bundle-size budgets, run by `npm test` (with the packaging checks) and by
// `node scripts/size.mjs` on its own (which builds and packs first).
//
// Each entry of size-budget.json is a one-line module importing from the
// packed package, installed as a user would have it; esbuild bundles and
// minifies it (zod included), and the gzip -9 size must stay within the
// budget. cockatiel's bundles are measured the same way, for comparison only.
//
// It also checks that the core's bundles (`export * from "bulwark"` and
// `{ CircuitBreaker }`) hold none of the adapters' code: no module of the
// package's dist/adapters/ among esbuild's inputs, and none of the adapters'
// markers (a string only that adapter has) in the minified output. Each
// marker is first found in its own adapter's bundle, so a marker that no
// longer matches fails the check instead of passing it silently.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The minified bundle of `source`, resolved from `dir`, and the package files it includes. */
async function bundle(source, dir) {
  const { outputFiles, metafile } = await build({
    stdin: { contents: source, resolveDir: dir, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  return { code: outputFiles[0].contents, inputs: Object.keys(metafile.inputs) };
}

/** Minified and gzipped size (bytes) of `source`, resolved from `dir`. */
export async function bundleSize(source, dir) {
  const { code } = await bundle(source, dir);
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

/** Bundles that must hold no adapter: the core as a whole and its smallest common import. */
const CORE_BUNDLES = {
  "* from bulwark": 'export * from "bulwark";',
  "{ CircuitBreaker }": 'export { CircuitBreaker } from "bulwark";',
};

/**
 * A string each adapter's code has and the core's does not (it survives
 * minification: a literal), checked against the adapter's own bundle first.
 * The Node-only adapters (fs, node) do not bundle for the browser; the
 * dist/adapters/ inputs check covers them and every other adapter.
 */
const ADAPTER_MARKERS = [
  { adapter: "bulwark/redis", marker: "redis.call('GET', key)", what: "a Lua script of RedisStore" },
  { adapter: "bulwark/postgres", marker: "pg_advisory_xact_lock(hashtext('bulwark.store.migrate'))", what: "PostgresStore's migration SQL" },
  { adapter: "bulwark/cloudflare", marker: "getWithMetadata", what: "KvStore's binding check" },
  { adapter: "bulwark/deno", marker: "Deno KV refused an unconditional write", what: "DenoKvStore's error" },
  { adapter: "bulwark/hono", marker: "urn:bulwark:idempotency:key-missing", what: "the Hono middleware's problem type" },
];

/**
 * The core bundles hold no adapter code; each failure says which adapter
 * got in and through which module or marker.
 * @returns {Promise<{ passed: number, failed: number, output: string }>}
 */
export async function adaptersCheck(dir) {
  let passed = 0;
  let failed = 0;
  let output = "";
  const markers = [];
  for (const { adapter, marker, what } of ADAPTER_MARKERS) {
    try {
      const { code } = await bundle(`export * from "${adapter}";`, dir);
      if (new TextDecoder().decode(code).includes(marker)) {
        markers.push({ adapter, marker, what });
        continue;
      }
      output += `adapter marker for ${adapter} (${what}: ${JSON.stringify(marker)}) is no longer in its own bundle: update ADAPTER_MARKERS in scripts/size.mjs\n`;
    } catch (error) {
      output += `cannot bundle ${adapter} to check its marker: ${error.message}\n`;
    }
    failed++;
  }
  for (const [name, source] of Object.entries(CORE_BUNDLES)) {
    try {
      const { code, inputs } = await bundle(source, dir);
      const text = new TextDecoder().decode(code);
      const modules = inputs.filter((input) => /node_modules\/bulwark\/dist\/(?:.*\/)?adapters\//.test(input));
      const found = markers.filter(({ marker }) => text.includes(marker));
      if (modules.length === 0 && found.length === 0) {
        passed++;
        output += `${name}: no adapter code (no dist/adapters module; none of ${markers.length} adapter markers)\n`;
        continue;
      }
      failed++;
      output += `${name}: ADAPTER CODE IN A CORE BUNDLE, which must not pull adapters in:\n`;
      for (const module of modules) output += `  module ${module.slice(module.indexOf("bulwark/dist/"))}\n`;
      for (const { adapter, marker, what } of found) output += `  from ${adapter}: ${what} (${JSON.stringify(marker)})\n`;
    } catch (error) {
      failed++;
      output += `${name}: failed to bundle: ${error.message}\n`;
    }
  }
  return { passed, failed, output };
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
 * The module an entry of size-budget.json bundles: its `source`, or, for an
 * entry with `without` (folders of the package's dist/src/, such as
 * "store"), `export { ... } from "bulwark"` naming every value `bulwark`
 * exports except those the `mod.js` of each of these folders exports: the
 * list follows the package as it grows, rather than a list kept by hand.
 */
export async function entrySource(entry, dir) {
  if (entry.without === undefined) return entry.source;
  const dist = join(dir, "node_modules", "bulwark", "dist");
  const names = Object.keys(await import(pathToFileURL(join(dist, "mod_core.js")).href));
  const left = new Set();
  for (const folder of entry.without) {
    for (const name of Object.keys(await import(pathToFileURL(join(dist, "src", folder, "mod.js")).href))) left.add(name);
  }
  return `export { ${names.filter((name) => !left.has(name)).join(", ")} } from "bulwark";`;
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
      const { minified, gzipped } = await bundleSize(await entrySource(entry, dir), dir);
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
  const adapters = await adaptersCheck(dir);
  return { name: "size", passed: passed + adapters.passed, failed: failed + adapters.failed, output: output + adapters.output };
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
