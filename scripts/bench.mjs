// `npm run bench [-- <area> ...]`: runs bench/<area>.bench.ts (all by
// default) on Node 24, which strips TypeScript types natively, one process
// per file so that results do not contaminate each other.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const NODE24 = ["--yes", "-p", "node@24", "node"];
const areas = process.argv.slice(2);
const files = readdirSync(join(root, "bench"))
  .filter((name) => name.endsWith(".bench.ts"))
  .filter((name) => areas.length === 0 || areas.includes(name.replace(/\.bench\.ts$/, "")))
  .sort();
if (files.length === 0) {
  console.error(`no bench/<area>.bench.ts matches ${areas.join(", ") || "(none exist)"}`);
  process.exit(2);
}

// Fetch Node 24 once, before anything is timed.
const version = spawnSync("npx", [...NODE24, "--version"], { cwd: root, encoding: "utf8" });
if (version.status !== 0) {
  console.error(version.stderr);
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  console.log(`\n# bench/${file} on Node ${version.stdout.trim()}`);
  const { status } = spawnSync("npx", [...NODE24, join("bench", file)], { cwd: root, stdio: "inherit" });
  if (status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
