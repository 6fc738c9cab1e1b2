// `npm test`: the same test files on Node 20 (this machine's), Node 24,
// Deno, Bun, workerd and headless Chromium, every `@example` in the sources
// (on Deno), then type and packaging checks.
// Also runs the programs in examples/ (the `examples` leg).
// Prints each leg's output as it finishes, one summary line per leg, and a
// "conformance" block (a line per store engine: the legs its conformance
// suite passed on, scripts/conformance.mjs) and a final "N passed, N failed"
// line; exits non-zero if any leg failed or an engine gave no result.
//
//   npm test                  every leg
//   npm test -- deno bun      only the legs named
//   BULWARK_TEST_JOBS=1 npm test   legs one at a time (default: 2 at once)
//
// Which files run on which runtime: scripts/test_files.mjs.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jsr, packageChecks } from "./check_package.mjs";
import { run } from "./lib/run.mjs";
import { conformanceSummary } from "./conformance.mjs";
import { examplesLeg } from "./examples.mjs";
import { RUNTIMES, testFilesFor } from "./test_files.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const typedoc = join(root, "node_modules", "typedoc", "bin", "typedoc");
// TypeScript 7 (the native port), installed beside 5.9 under an alias.
const tsc7 = join(root, "node_modules", "typescript7", "bin", "tsc");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const reports = mkdtempSync(join(tmpdir(), "bulwark-test-"));

/** @typedef {{ name: string, passed: number, failed: number, output: string }} Result */

/** The library's own modules (whose `@example`s the doc leg runs), tests excluded. */
function sourceFiles() {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) found.push(path);
    }
  };
  walk("src");
  walk("adapters");
  return ["mod.ts", ...found.sort()];
}

/**
 * Markdown pages whose ```ts blocks are type-checked and run by the doc leg,
 * as the sources' `@example`s are: every README snippet, and each component
 * page's examples. (A block that cannot run outside workerd is fenced
 * ```ts ignore. Pages of fragments, such as docs/stores.md, are not listed.)
 */
const CHECKED_PAGES = [
  "README.md",
  "docs/bulkhead.md",
  "docs/chaos.md",
  "docs/choosing-a-store.md",
  "docs/circuit-breaker.md",
  "docs/fallback.md",
  "docs/pipeline.md",
  "docs/rate-limiting.md",
  "docs/resilient-fetch.md",
  "docs/retry.md",
  "docs/timeout.md",
  "docs/workers.md",
];

/** Counts from vitest's JSON report; a file that failed to load counts as one failure. */
function vitestCounts(reportFile) {
  const report = JSON.parse(readFileSync(reportFile, "utf8"));
  let failed = report.numFailedTests;
  for (const file of report.testResults) {
    if (file.status === "failed" && !file.assertionResults.some((test) => test.status === "failed")) failed++;
  }
  return { passed: report.numPassedTests, failed };
}

/** Turns a finished command into a Result, never letting a non-zero exit pass. */
function toResult(name, { code, output }, counts) {
  let { passed, failed } = counts ?? { passed: 0, failed: 0 };
  if (code !== 0 && failed === 0) {
    failed = 1;
    output += `\n${name}: exited with code ${code}${counts ? "" : " before reporting its results"}\n`;
  }
  return { name, passed, failed, output };
}

function vitestLeg(name, config, nodeCommand = [process.execPath]) {
  return async () => {
    const reportFile = join(reports, `${name}.json`);
    const [command, ...prefix] = nodeCommand;
    const done = await run(
      command,
      [...prefix, vitest, "run", "--config", config, "--reporter=default", "--reporter=json", `--outputFile.json=${reportFile}`],
      { cwd: root, env: { BULWARK_LEG: name } },
    );
    return toResult(name, done, existsSync(reportFile) ? vitestCounts(reportFile) : undefined);
  };
}

const NODE24 = ["npx", "--yes", "-p", "node@24", "node"];

/** @type {Record<string, () => Promise<Result | Result[]>>} */
const legs = {
  async package() {
    return packageChecks();
  },
  workerd: vitestLeg("workerd", "vitest.workers.config.mts"),
  async typecheck() {
    const checks = [];
    for (const compiler of [tsc, tsc7]) {
      for (const config of ["tsconfig.json", "tsconfig.core.json"]) {
        checks.push(await run(process.execPath, [compiler, "-p", config], { cwd: root }));
      }
    }
    // The API reference (`npm run docs`) builds from the JSDoc without a
    // warning (typedoc.json treats them as errors); nothing is written here.
    checks.push(await run(process.execPath, [typedoc, "--emit", "none"], { cwd: root }));
    const passed = checks.filter((c) => c.code === 0).length;
    return { name: "typecheck", passed, failed: checks.length - passed, output: checks.map((c) => c.output).join("") };
  },
  async chromium() {
    if (!existsSync(CHROMIUM)) {
      return { name: "chromium", passed: 0, failed: 1, output: `${CHROMIUM} not found: install Chromium with \`apt-get install -y chromium\`\n` };
    }
    return vitestLeg("chromium", "vitest.browser.config.mts")();
  },
  node20: vitestLeg("node20", "vitest.config.mts"),
  async node24() {
    // Fetch Node 24 first (a download on a fresh machine), outside the tests' time.
    const fetched = await run(NODE24[0], [...NODE24.slice(1), "--version"], { cwd: root });
    if (fetched.code !== 0) return toResult("node24", fetched);
    const result = await vitestLeg("node24", "vitest.config.mts", NODE24)();
    return { ...result, output: `node ${fetched.output.trim().split("\n").pop()}\n${result.output}` };
  },
  async jsr() {
    return jsr();
  },
  async examples() {
    // examples/<runtime>: each program run on its runtime (scripts/examples.mjs).
    return examplesLeg();
  },
  async deno() {
    const done = await run(bin("deno"), ["test", "--allow-all", "--unstable-kv", "--no-check", ...testFilesFor("deno")], {
      cwd: root,
      env: { BULWARK_LEG: "deno" },
    });
    const summary = /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/m.exec(done.output);
    return toResult("deno", done, summary ? { passed: Number(summary[1]), failed: Number(summary[2]) } : undefined);
  },
  async doc() {
    // Every `@example` in the sources, and every ```ts block of the pages
    // in CHECKED_PAGES, is type-checked and run, importing "bulwark" as a
    // user would (scripts/deno_doctest.json maps it here).
    const files = [...sourceFiles(), ...CHECKED_PAGES];
    const done = await run(bin("deno"), ["test", "--doc", "--allow-all", "--unstable-kv", "--config", "scripts/deno_doctest.json", ...files], {
      cwd: root,
    });
    const summary = /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/m.exec(done.output);
    return toResult("doc", done, summary ? { passed: Number(summary[1]), failed: Number(summary[2]) } : undefined);
  },
  async bun() {
    const done = await run(bin("bun"), ["test", ...testFilesFor("bun").map((file) => `./${file}`)], {
      cwd: root,
      env: { BULWARK_LEG: "bun" },
    });
    const passed = /^\s*(\d+) pass$/m.exec(done.output);
    const failed = /^\s*(\d+) fail$/m.exec(done.output);
    return toResult("bun", done, passed && failed ? { passed: Number(passed[1]), failed: Number(failed[1]) } : undefined);
  },
};

// The packaging checks run together, after one build.
const aliases = { build: "package", publint: "package", attw: "package", consumer: "package", size: "package" };
const requested = process.argv.slice(2).map((name) => aliases[name] ?? name);
for (const name of requested) {
  if (!(name in legs)) {
    console.error(`unknown leg '${name}'; legs: ${Object.keys(legs).join(", ")}`);
    process.exit(2);
  }
}
// Longest legs first, so the short ones fill the gaps.
const queue = Object.keys(legs).filter((name) => requested.length === 0 || requested.includes(name));
const jobs = Math.max(1, Number(process.env.BULWARK_TEST_JOBS) || Math.min(2, availableParallelism()));
const started = performance.now();
/** @type {Result[]} */
const results = [];

async function worker() {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const legStarted = performance.now();
    let outcome;
    try {
      outcome = await legs[name]();
    } catch (error) {
      outcome = { name, passed: 0, failed: 1, output: `${error?.stack ?? error}\n` };
    }
    const seconds = ((performance.now() - legStarted) / 1000).toFixed(1);
    for (const result of [outcome].flat()) {
      results.push(result);
      const status = result.failed > 0 ? "FAILED" : "ok";
      console.log(`\n━━━━ ${result.name}: ${status} (${seconds} s) ━━━━\n${result.output.trimEnd()}`);
    }
  }
}

await Promise.all(Array.from({ length: jobs }, worker));
rmSync(reports, { recursive: true, force: true });

const order = ["node20", "node24", "deno", "bun", "workerd", "chromium", "doc", "examples", "typecheck", "build", "publint", "attw", "consumer", "size", "jsr"];
results.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
const passed = results.reduce((sum, r) => sum + r.passed, 0);
const conformance = conformanceSummary(results.filter((r) => RUNTIMES.includes(r.name)));
// A failed suite already fails its leg; this adds what would otherwise pass unseen: an engine with no result.
const failed = results.reduce((sum, r) => sum + r.failed, 0) + conformance.failed;
console.log(`\n━━━━ summary (${((performance.now() - started) / 1000).toFixed(1)} s, ${jobs} at a time) ━━━━`);
for (const r of results) console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed`);
console.log(`conformance (store engines${conformance.failed ? `, ${conformance.failed} failed or missing` : ""}):`);
for (const line of conformance.lines) console.log(`  ${line}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
