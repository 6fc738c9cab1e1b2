// The `bulwark` command line and the file-system heartbeat, with real
// processes on this runtime (Node, Deno or Bun): a child beats into a state
// file, the CLI (adapters/fs/bin.ts, the package's "bin") judges it.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Heartbeat, StateFileStore, Watchdog } from "../adapters/fs/mod.ts";
import { ConfigError, HeartbeatError, StoreError } from "../mod.ts";
import { runStoreConformance } from "../src/testing/mod.ts";
import { reportConformance } from "./_support/conformance.ts";
import { commandFor, start } from "./_support/runtime_child.ts";

const BIN = fileURLToPath(new URL("../adapters/fs/bin.ts", import.meta.url));
const CHILD = fileURLToPath(new URL("./_support/heartbeat_child.ts", import.meta.url));
let dir = "";
let cli: string[] = [];
let beater: string[] = [];

async function bulwark(...args: string[]): Promise<{ code: number | null; lines: string[] }> {
  const child = start(cli, args);
  const { code } = await child.exited;
  return { code, lines: `${child.stdout()}${child.stderr()}`.trim().split("\n") };
}

describe("heartbeat on a file system", () => {
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bulwark-cli-"));
  cli = await commandFor(BIN, dir);
  beater = await commandFor(CHILD, dir);
}, 30_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
});

describe("bulwark heartbeat (CLI, real processes)", () => {

  it("check exits 0 while another process beats, 1 once it is gone, with one line saying why", async () => {
    const file = join(dir, "worker.heartbeat");
    const child = start(beater, [file]);
    await child.waitFor("ready");
    const alive = await bulwark("heartbeat", "check", file, "--max-age", "30s");
    expect(alive.code).toBe(0);
    expect(alive.lines.length).toBe(1);
    expect(alive.lines[0]).toMatch(new RegExp(`^alive: last beat .* ago .*\\(max 30\\.0 s\\), pid ${child.pid}`));
    const shown = await bulwark("heartbeat", "show", file);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.lines.join("\n"))).toMatchObject({ pid: child.pid, metadata: { role: "child" } });
    child.kill("SIGKILL");
    await child.exited;
    await new Promise((resolve) => setTimeout(resolve, 120));
    const stale = await bulwark("heartbeat", "check", file, "--max-age=100ms");
    expect(stale.code).toBe(1);
    expect(stale.lines.length).toBe(1);
    expect(stale.lines[0]).toMatch(/^stale: last beat [\d.]+ m?s ago .* \(max 100 ms\)/);
  }, 30_000);

  it("a missing file, a directory and a file holding garbage: exit 1 with the reason", async () => {
    const missing = await bulwark("heartbeat", "check", join(dir, "nope.heartbeat"));
    expect(missing).toEqual({ code: 1, lines: [`no heartbeat found in ${join(dir, "nope.heartbeat")} (missing, or never written)`] });
    const directory = await bulwark("heartbeat", "check", dir);
    expect(directory.code).toBe(1);
    expect(directory.lines).toEqual([expect.stringContaining(`${dir} is a directory, not a state file`)]);
    const garbage = join(dir, "garbage.heartbeat");
    await writeFile(garbage, "\u0000\u0001 not json at all");
    const bad = await bulwark("heartbeat", "show", garbage);
    expect(bad.code).toBe(1);
    expect(bad.lines).toEqual([expect.stringMatching(/^unreadable heartbeat: .*is not a state file \(not JSON/)]);
  }, 30_000);

  it("usage errors exit 2; --help exits 0", async () => {
    expect((await bulwark("heartbeat", "check", "x", "--max-age", "30")).code).toBe(2);
    expect((await bulwark("heartbeat", "check")).code).toBe(2);
    expect((await bulwark("heartbeat", "poke", "x")).code).toBe(2);
    expect((await bulwark("status")).code).toBe(2);
    const help = await bulwark("--help");
    expect(help.code).toBe(0);
    expect(help.lines[0]).toBe("usage:");
  }, 30_000);
});

describe("Heartbeat with a stateFile", () => {
  it("writes the state file atomically with this process's pid and host name, and leaves no temporary file", async () => {
    const file = join(dir, "app.heartbeat");
    const heartbeat = new Heartbeat({ stateFile: file, intervalMs: 10_000, metadata: { version: "1.0" } });
    await heartbeat.start();
    await Promise.all(Array.from({ length: 20 }, () => heartbeat.beat()));
    await heartbeat.shutdown();
    const state = await Heartbeat.readState(file);
    expect(state).toMatchObject({ pid: process.pid, metadata: { version: "1.0" } });
    expect(typeof state?.hostname === "string" || state?.hostname === null).toBe(true);
    expect(state?.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(await Heartbeat.isAlive(file, 30_000)).toBe(true);
    // Only this heartbeat's: a child killed mid-beat by another test may leave its own temporary file in dir.
    expect((await readdir(dir)).filter((name) => name.startsWith("app.heartbeat") && name.endsWith(".tmp"))).toEqual([]);
    expect(JSON.parse(await readFile(file, "utf8")).format).toBe("bulwark-state-file/1");
  });

  it("an unwritable path fails at start() with HeartbeatError, not silently later", async () => {
    const heartbeat = new Heartbeat({ stateFile: join(dir, "no-such-dir", "app.heartbeat") });
    const error = await heartbeat.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeartbeatError);
    expect((error as HeartbeatError).cause).toBeInstanceOf(StoreError);
    expect((error as Error).message).toContain("ENOENT");
    expect(heartbeat.isRunning).toBe(false);
  });

  it("a directory as the state file fails at start() with a HeartbeatError that says so", async () => {
    const folder = join(dir, "a-folder");
    await mkdir(folder);
    const error = await new Heartbeat({ stateFile: folder }).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeartbeatError);
    expect((error as Error).message).toContain("is a directory, not a state file");
    const checked = await Heartbeat.check(folder);
    expect(checked.alive).toBe(false);
    expect(checked.reason).toContain("is a directory");
  });

  it("a file holding garbage: never overwritten, start() fails, isAlive() is false with the reason", async () => {
    const file = join(dir, "precious.txt");
    await writeFile(file, "not a heartbeat");
    const error = await new Heartbeat({ stateFile: file }).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeartbeatError);
    expect(await readFile(file, "utf8")).toBe("not a heartbeat");
    expect(await Heartbeat.isAlive(file)).toBe(false);
    expect((await Heartbeat.check(file)).reason).toMatch(/^unreadable heartbeat: .*not a state file/);
    expect(await Heartbeat.readState(file)).toBeUndefined();
  });

  it("a bad stateFile is a ConfigError", () => {
    expect(() => new Heartbeat({ stateFile: "" })).toThrow(ConfigError);
    expect(() => new Heartbeat({ stateFile: 42 as never })).toThrow(ConfigError);
  });

  it("Watchdog.fromHeartbeat takes a path", async () => {
    const file = join(dir, "watched.heartbeat");
    await new Heartbeat({ stateFile: file }).beat();
    const watchdog = Watchdog.fromHeartbeat(file, { maxAgeMs: 60_000 });
    expect(watchdog.timeoutMs).toBe(60_000);
  });

  it("StateFileStore without a prefix: keys named like Object.prototype's members are keys like any other", async () => {
    const store = new StateFileStore({ path: join(dir, "prototype-keys.state"), prefix: "" });
    for (const key of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
      expect(await store.get(key)).toBeUndefined();
      expect((await store.insertIfAbsent(key, { key })).ok).toBe(true);
      expect((await store.insertIfAbsent(key, "again")).ok).toBe(false);
      expect((await store.get(key))?.value).toEqual({ key });
    }
    const again = new StateFileStore({ path: join(dir, "prototype-keys.state"), prefix: "" });
    expect((await again.get("__proto__"))?.value).toEqual({ key: "__proto__" });
    expect(await again.delete("constructor")).toBe(true);
    expect(await again.get("constructor")).toBeUndefined();
  });

  it("conformance[heartbeat-state-file] StateFileStore passes the store conformance suite (atomic checks skipped: not atomic across processes)", async () => {
    let n = 0;
    const report = reportConformance(
      "heartbeat-state-file",
      await runStoreConformance(() => new StateFileStore({ path: join(dir, `conformance-${n++}.state`) })),
    );
    expect(report.failed.map((f) => `${f.name}: ${String(f.error)}`)).toEqual([]);
    expect(report.passed.length).toBeGreaterThanOrEqual(10);
  }, 60_000);
});
});
