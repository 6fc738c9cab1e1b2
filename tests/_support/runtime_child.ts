// Runs a TypeScript script of tests/_support as a child process of the
// current runtime: its own executable on Deno and Bun, an esbuild bundle on
// Node (Node 20 cannot run TypeScript).
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";

/** The command (executable and leading arguments) that runs `script` on this runtime. */
export async function commandFor(script: string, bundleDir: string): Promise<string[]> {
  if ("Deno" in globalThis) return [process.execPath, "run", "--allow-all", script];
  if (process.versions.bun !== undefined) return [process.execPath, script];
  const { build } = await import("esbuild");
  const outfile = join(bundleDir, `${script.split("/").pop()!.replace(/\.ts$/, "")}.mjs`);
  await build({ entryPoints: [script], bundle: true, platform: "node", format: "esm", outfile, logLevel: "silent" });
  return [process.execPath, outfile];
}

/** A running child: its output so far, a way to wait for a line, and its exit. */
export interface Child {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout holds a line equal to `line`. */
  waitFor(line: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** Resolves to the exit code (or the signal's name) and the ms from spawn to exit. */
  readonly exited: Promise<{ code: number | null; signal: string | null; elapsedMs: number }>;
}

export function start(command: string[], args: string[]): Child {
  const started = Date.now();
  const child = spawn(command[0]!, [...command.slice(1), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let waiters: { line: string; resolve: () => void }[] = [];
  const check = () => {
    const lines = out.split("\n");
    waiters = waiters.filter((w) => {
      if (!lines.includes(w.line)) return true;
      w.resolve();
      return false;
    });
  };
  child.stdout!.on("data", (chunk: Buffer) => {
    out += String(chunk);
    check();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    err += String(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: string | null; elapsedMs: number }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, elapsedMs: Date.now() - started }));
  });
  return {
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    waitFor: (line) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ line, resolve });
        check();
        void exited.then(() => reject(new Error(`child exited before printing '${line}': ${out}\n${err}`)));
      }),
    // process.kill, not child.kill: Deno's child_process reports a child it was asked to kill as
    // killed by the signal even when the child handled it and exited with a code of its own.
    kill: (signal) => void process.kill(child.pid!, signal),
    exited,
  };
}
