// Real processes: a child on this runtime (Node, Deno or Bun) installs a
// GracefulShutdown with the runtime's signal source and gets SIGTERM.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandFor, start } from "./_support/runtime_child.ts";

const CHILD = fileURLToPath(new URL("./_support/shutdown_child.ts", import.meta.url));
let dir = "";
let command: string[] = [];

describe("GracefulShutdown in a real process", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-shutdown-"));
    command = await commandFor(CHILD, dir);
  }, 30_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it("SIGTERM runs the callbacks in priority order, then exits 0", async () => {
    const child = start(command, ["ok"]);
    await child.waitFor("ready");
    child.kill("SIGTERM");
    const { code } = await child.exited;
    expect(child.stdout().trim().split("\n")).toEqual(["ready", "shutdown:SIGTERM", "cleanup:first", "cleanup:second"]);
    expect(code).toBe(0);
  }, 20_000);

  it("a hanging callback: the process exits with forceExitCode at about timeoutMs, not before", async () => {
    const child = start(command, ["hang"]);
    await child.waitFor("ready");
    const signalled = Date.now();
    child.kill("SIGTERM");
    const { code } = await child.exited;
    const elapsed = Date.now() - signalled;
    expect(code).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(5_000);
    // The callback after the hanging one was skipped: the total timeout had passed.
    expect(child.stdout().trim().split("\n")).toEqual(["ready", "shutdown:SIGTERM", "cleanup:first", "cleanup:hangs"]);
  }, 20_000);

  it("a second signal during the shutdown exits at once with forceExitCode (the total timeout is 20 s)", async () => {
    const child = start(command, ["stuck"]);
    await child.waitFor("ready");
    child.kill("SIGTERM");
    await child.waitFor("cleanup:hangs");
    const second = Date.now();
    child.kill("SIGINT");
    const { code } = await child.exited;
    expect(code).toBe(3);
    expect(Date.now() - second).toBeLessThan(5_000);
  }, 20_000);

  it("after uninstall(), the runtime's own SIGTERM handling is back: the process dies of the signal", async () => {
    const child = start(command, ["restore"]);
    await child.waitFor("ready");
    child.kill("SIGTERM");
    const { code, signal } = await child.exited;
    expect(child.stdout()).not.toContain("shutdown:");
    // Killed by the signal (Node, Bun), or exit code 128 + 15 where the runtime reports it so.
    expect(signal === "SIGTERM" || code === 143).toBe(true);
  }, 20_000);
});
