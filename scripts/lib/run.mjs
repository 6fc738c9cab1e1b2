// Runs a command with its output captured, a time limit, and the whole
// process group killed on timeout (vitest, deno and bun start children).
import { spawn } from "node:child_process";

/** Process groups still running, killed if this process is interrupted. */
const running = new Set();

function killGroup(pid) {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(signal, () => {
    for (const pid of running) killGroup(pid);
    process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
  });
}

/**
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, env?: Record<string, string>, timeoutMs?: number }} [options]
 * @returns {Promise<{ code: number, output: string, ms: number }>}
 */
export function run(command, args, { cwd, env, timeoutMs = 10 * 60_000 } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    if (child.pid !== undefined) running.add(child.pid);
    let output = "";
    let timedOut = false;
    let done = false;
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    const finish = (code) => {
      if (done) return;
      done = true;
      running.delete(child.pid);
      clearTimeout(timer);
      if (timedOut) output += `\n[killed after ${Math.round(timeoutMs / 1000)} s]\n`;
      resolve({ code: timedOut ? 124 : code, output, ms: performance.now() - started });
    };
    child.on("error", (error) => {
      output += `${error.message}\n`;
      finish(127);
    });
    // Strays (a workerd, a browser helper) must not outlive their leg, nor
    // hold its output pipe open.
    child.on("exit", () => killGroup(child.pid));
    child.on("close", (code, signal) => finish(code ?? (signal ? 128 : 1)));
  });
}
