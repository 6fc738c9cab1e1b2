// Runs a tests/_support script in a second process with the test's own
// runtime: Deno and Bun run the TypeScript file directly, Node (20 cannot
// run TypeScript) a bundle of it made with esbuild (a dev dependency).
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";

/** The command that runs `script` on this runtime (a bundle written into `dir` on Node). */
export async function childCommand(script: string, dir: string): Promise<string[]> {
  if ("Deno" in globalThis) return [process.execPath, "run", "--allow-all", script];
  if (process.versions.bun !== undefined) return [process.execPath, script];
  const { build } = await import("esbuild");
  const outfile = join(dir, "child.mjs");
  await build({ entryPoints: [script], bundle: true, platform: "node", format: "esm", outfile, logLevel: "silent" });
  return [process.execPath, outfile];
}

/** Runs `command` with `args`; resolves on exit code 0, rejects with the child's stderr otherwise. */
export function runChild(command: string[], args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, [...command.slice(1), ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Uint8Array) => {
      stderr += new TextDecoder().decode(chunk);
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`child exited with ${code}: ${stderr}`))));
  });
}
