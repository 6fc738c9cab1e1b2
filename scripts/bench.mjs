// `npm run bench [-- <area> ...] [--quick] [--groups=<id>,...] [--rounds=<n>] [--runtimes=node24,node20,deno,bun] [--out=<file>] [--no-build]`
//
// Builds dist/ (the benches import bulwark from there, as users do), then
// runs bench/<area>.bench.ts (all by default) on each runtime, one process
// per file and runtime so that results do not contaminate each other, and
// writes one markdown table per group with every runtime side by side
// (default bench/results.md), then the targets of issue 15 per runtime.
//
//   node24  Node 24 via `npx -p node@24`, which strips TypeScript types itself
//   node20  this machine's Node if it is 20 (else `npx -p node@20`), types
//           stripped by bench/ts_hooks.mjs (esbuild)
//   deno    node_modules/.bin/deno
//   bun     node_modules/.bin/bun
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);

const argv = process.argv.slice(2);
const flag = (name) => argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = argv.includes("--quick");
const runtimeIds = (flag("runtimes") ?? "node24,node20,deno,bun").split(",");
const out = resolve(root, flag("out") ?? "bench/results.md");
const areas = argv.filter((arg) => !arg.startsWith("--"));
// Passed on to every bench file as they are.
const passed = argv.filter((arg) => arg.startsWith("--groups=") || arg.startsWith("--rounds="));

const files = readdirSync(join(root, "bench"))
  .filter((name) => name.endsWith(".bench.ts"))
  .filter((name) => areas.length === 0 || areas.includes(name.replace(/\.bench\.ts$/, "")))
  .sort();
if (files.length === 0) {
  console.error(`no bench/<area>.bench.ts matches ${areas.join(", ") || "(none exist)"}`);
  process.exit(2);
}

/** The node binary of `npx -p node@<major>`, fetched once before anything is timed. */
function npxNode(major) {
  const found = spawnSync("npx", ["--yes", "-p", `node@${major}`, "node", "-p", "process.execPath"], {
    cwd: root,
    encoding: "utf8",
  });
  if (found.status !== 0) throw new Error(`cannot fetch Node ${major}: ${found.stderr}`);
  return found.stdout.trim();
}

const runtimes = {
  node24: { label: "Node 24", command: () => [npxNode(24), "--expose-gc"] },
  node20: {
    label: "Node 20",
    command: () => [
      process.version.startsWith("v20.") ? process.execPath : npxNode(20),
      "--expose-gc",
      "--import",
      join(root, "bench", "ts_hooks.mjs"),
    ],
  },
  deno: { label: "Deno", command: () => [bin("deno"), "run", "--allow-all", "--v8-flags=--expose-gc"] },
  bun: { label: "Bun", command: () => [bin("bun")] },
};
// Files that run on some runtimes only, and why.
const onlyOn = {
  // Miniflare needs Node >= 22; the Deno KV part runs under Deno as a child.
  "stores.bench.ts": { runtimes: ["node24"], why: "runs on Node 24 only (Miniflare needs Node >= 22; Deno KV is timed by a Deno child)" },
};
for (const id of runtimeIds) {
  if (!(id in runtimes)) {
    console.error(`unknown runtime ${id}: use ${Object.keys(runtimes).join(", ")}`);
    process.exit(2);
  }
}

if (!argv.includes("--no-build")) {
  const built = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
  if (built.status !== 0) process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "bulwark-bench-"));
const started = new Date();
/** @type {Array<{ file: string, id: string, label: string, result?: any, error?: string, skipped?: string, load: string }>} */
const runs = [];
let failed = 0;
for (const id of runtimeIds) {
  const { label, command } = runtimes[id];
  let prefix;
  try {
    prefix = command();
  } catch (error) {
    for (const file of files) runs.push({ file, id, label, error: String(error.message), load: "" });
    failed++;
    continue;
  }
  for (const file of files) {
    if (onlyOn[file] !== undefined && !onlyOn[file].runtimes.includes(id)) {
      runs.push({ file, id, label, skipped: onlyOn[file].why, load: "" });
      continue;
    }
    const json = join(work, `${id}-${file}.json`);
    const before = loadavg()[0].toFixed(1);
    const [command0, ...rest] = prefix;
    const { status } = spawnSync(command0, [...rest, join("bench", file), `--json=${json}`, ...(quick ? ["--quick"] : []), ...passed], {
      cwd: root,
      stdio: "inherit",
    });
    const load = `${before}–${loadavg()[0].toFixed(1)}`;
    if (status !== 0) {
      failed++;
      runs.push({ file, id, label, error: `exited with code ${status}`, load });
      continue;
    }
    runs.push({ file, id, label, result: JSON.parse(readFileSync(json, "utf8")), load });
  }
}
rmSync(work, { recursive: true, force: true });

writeFileSync(out, markdown());
console.log(`\nwrote ${out}`);
process.exitCode = failed > 0 ? 1 : 0;

/** "+52 ns · 1.57x", or the reason a case could not run. */
function cell(item, group) {
  if (item === undefined) return "not run";
  if (item.figure === undefined) return `n/a: ${item.unavailable ?? "not measured"}`.replaceAll("|", "\\|");
  const { ns, addedNs, ratio } = item.figure;
  if (item.baseline) return `${fixed(ns)} ns`;
  // A sync bare call is inlined to about nothing: no ratio means anything.
  const baseNs = group.cases.find((other) => other.baseline)?.figure?.ns ?? 0;
  return `${addedNs >= 0 ? "+" : "−"}${fixed(Math.abs(addedNs))} ns${baseNs >= 10 ? ` · ${ratio.toFixed(2)}x` : ""}`;
}

function fixed(ns) {
  return ns >= 100 ? Math.round(ns).toLocaleString("en") : ns.toFixed(1);
}

function markdown() {
  const columns = runtimeIds.map((id) => runtimes[id].label);
  const versions = runtimeIds
    .map((id) => runs.find((run) => run.id === id && run.result)?.result.runtime ?? `${runtimes[id].label} (did not run)`)
    .join(", ");
  const lines = [
    `<!-- written by \`npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}\`; do not edit by hand -->`,
    `# Benchmark results`,
    "",
    `${started.toISOString().slice(0, 16).replace("T", " ")} UTC, ${quick ? "`--quick`" : "full run"}; ${versions}; ` +
      `${process.platform} ${process.arch}, load average ${runs.map((run) => run.load).filter(Boolean).join(", ")} during the runs.`,
    "",
    "Each cell: nanoseconds the case adds to the group's baseline (median over rounds), then the ratio to the baseline. " +
      "Baseline rows give the baseline's own ns per call.",
  ];
  for (const file of files) {
    const area = file.replace(/\.bench\.ts$/, "");
    const ofFile = runs.filter((run) => run.file === file);
    lines.push("", `## bench/${file}`, "", `\`npm run bench -- ${area}${quick ? " --quick" : ""}\``);
    for (const run of ofFile) if (run.error) lines.push("", `${run.label}: ${run.error}`);
    const skipped = ofFile.find((run) => run.skipped);
    if (skipped) lines.push("", `Not run on ${ofFile.filter((run) => run.skipped).map((run) => run.label).join(", ")}: ${skipped.skipped}.`);
    // A file that measures something else than ns per call (stores) writes its own table.
    for (const run of ofFile) if (run.result?.table) lines.push("", `${run.label} (${run.result.runtime}):`, "", ...run.result.table);
    const reference = ofFile.find((run) => run.result)?.result;
    if (reference === undefined) continue;
    for (const group of reference.groups) {
      lines.push("", `### ${group.title}`, "", `| case | ${columns.join(" | ")} |`, `|---|${columns.map(() => "---:").join("|")}|`);
      for (const item of group.cases) {
        const cells = runtimeIds.map((id) => {
          const theirs = ofFile.find((run) => run.id === id)?.result?.groups.find((other) => other.id === group.id);
          return theirs === undefined ? "not run" : cell(theirs.cases.find((other) => other.name === item.name), theirs);
        });
        lines.push(`| ${item.baseline ? `${item.name} (baseline)` : item.name} | ${cells.join(" | ")} |`);
      }
      for (const run of ofFile) {
        const notes = run.result?.groups.find((other) => other.id === group.id)?.notes ?? [];
        for (const note of notes) lines.push("", `${run.label}: ${note}`);
      }
    }
  }
  const targets = [];
  for (const run of runs) for (const target of run.result?.targets ?? []) if (!targets.includes(target.text)) targets.push(target.text);
  if (targets.length > 0) {
    lines.push("", "## Targets of issue 15", "", `| target | ${columns.join(" | ")} |`, `|---|${columns.map(() => "---").join("|")}|`);
    for (const text of targets) {
      const cells = runtimeIds.map((id) => {
        const target = runs.filter((run) => run.id === id).flatMap((run) => run.result?.targets ?? []).find((t) => t.text === text);
        if (target === undefined || target.met === undefined) return "not measured";
        return `${target.met ? "met" : "**missed**"}: ${target.value}`;
      });
      lines.push(`| ${text} | ${cells.join(" | ")} |`);
    }
  }
  return `${lines.join("\n")}\n`;
}
