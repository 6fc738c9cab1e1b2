// Cold start: how long a whole process takes to start and `import` the
// package, bulwark (packed and installed as a user would have it) beside
// cockatiel, in alternating processes so that machine load hits both alike.
//
//   node bench/cold_start.mjs [runs]                      this Node (20 here)
//   npx --yes -p node@24 node bench/cold_start.mjs [runs] Node 24
//
// Each run spawns `node --input-type=module -e "await import('<pkg>')"`
// from a scratch project; the figures are milliseconds of wall time per
// process, median and minimum over the runs (default 60 per package).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildAndPack } from "../scripts/check_package.mjs";
import { installPacked } from "../scripts/size.mjs";

const runs = Number(process.argv[2]) || 60;
const workDir = mkdtempSync(join(tmpdir(), "bulwark-cold-"));
try {
  const built = await buildAndPack(workDir);
  if (built.tarball === undefined) throw new Error(built.result.output);
  const project = join(workDir, "project");
  installPacked(built.tarball, project);

  const subjects = {
    "node (no import)": "",
    "cockatiel": "await import('cockatiel')",
    "bulwark": "await import('bulwark')",
    "zod/mini": "await import('zod/mini')",
  };
  const times = Object.fromEntries(Object.keys(subjects).map((name) => [name, []]));
  const spawnOnce = (code) => {
    const started = performance.now();
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: project, encoding: "utf8" });
    const ms = performance.now() - started;
    if (child.status !== 0) throw new Error(`${code} failed:\n${child.stderr}`);
    return ms;
  };
  // One untimed round warms the file-system cache.
  for (const code of Object.values(subjects)) spawnOnce(code);
  for (let i = 0; i < runs; i++) {
    for (const [name, code] of Object.entries(subjects)) times[name].push(spawnOnce(code));
  }
  const median = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const baseline = median(times["cockatiel"]);
  console.log(`Node ${process.version}, ${runs} runs each, alternating; ms per process`);
  console.log(`${"".padEnd(18)} ${"median".padStart(8)} ${"min".padStart(8)}  median / cockatiel`);
  for (const [name, xs] of Object.entries(times)) {
    console.log(
      `${name.padEnd(18)} ${median(xs).toFixed(1).padStart(8)} ${Math.min(...xs).toFixed(1).padStart(8)}  ${
        (median(xs) / baseline).toFixed(2)
      }x`,
    );
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
