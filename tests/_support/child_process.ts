// Runs tests/_support/store_child.ts in a second process: bundled to .mjs
// with esbuild's CLI (Node 20 cannot run TypeScript; the CLI works from any
// runtime), inside node_modules so the child resolves the client packages,
// and run by Node whatever runtime the test itself is on.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Node: this process's own binary when the test runs on Node, else `node` from PATH. */
function nodeBinary(): string {
  const versions = process.versions as Record<string, string | undefined>;
  return versions.bun || versions.deno ? "node" : process.execPath;
}

/** A running contender; `go()` releases it, `done` resolves when it has finished its increments. */
export interface Contender {
  go(): void;
  readonly done: Promise<void>;
  /** Everything it printed so far. */
  readonly output: string;
}

/** The child script as one .mjs (removed by the caller once the child has loaded it). */
function bundle(entry: string): string {
  const dir = join(ROOT, "node_modules", ".cache", "bulwark-tests");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${entry.replace(/\.ts$/, "")}_${process.pid}_${Math.random().toString(36).slice(2)}.mjs`);
  const built = spawnSync(join(ROOT, "node_modules", ".bin", "esbuild"), [
    join(ROOT, "tests", "_support", entry),
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--log-level=error",
    "--external:redis",
    "--external:ioredis",
    "--external:pg",
    "--external:postgres",
    `--outfile=${file}`,
  ], { encoding: "utf8" });
  if (built.status !== 0) throw new Error(`esbuild failed: ${built.stderr}${built.error ?? ""}`);
  return file;
}

/**
 * Starts the child (`entry`, a file in tests/_support; default store_child.ts)
 * and resolves once it is connected and waiting for `go()`.
 */
export async function startContender(args: string[], entry = "store_child.ts"): Promise<Contender> {
  const file = bundle(entry);
  const child: ChildProcess = spawn(nodeBinary(), [file, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // Loaded once the child is ready (or gone): the file is not needed after that.
  const removeBundle = () => rmSync(file, { force: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = () => {
        if (output.includes("ready\n")) {
          child.stdout!.off("data", onData);
          resolve();
        }
      };
      child.stdout!.on("data", onData);
      exited.then((code) => reject(new Error(`contender exited (${code}) before it was ready:\n${output}`)));
    });
  } finally {
    removeBundle();
  }
  return {
    get output() {
      return output;
    },
    go: () => child.stdin!.write("go\n"),
    done: exited.then((code) => {
      if (code !== 0 || !output.includes("done\n")) throw new Error(`contender failed (${code}):\n${output}`);
    }),
  };
}
