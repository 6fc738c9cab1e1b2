import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileStore } from "../adapters/fs/mod.ts";
import { ConfigError, type Transition } from "../mod.ts";
import { runStoreConformance } from "../src/testing/mod.ts";
import { reportConformance } from "./_support/conformance.ts";
import { childCommand, runChild } from "./_support/run_child.ts";

const CHILD = fileURLToPath(new URL("./_support/file_store_child.ts", import.meta.url));

describe("FileStore", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-filestore-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it("conformance[file] passes the conformance suite", async () => {
    const report = reportConformance(
      "file",
      await runStoreConformance(() => new FileStore({ directory: join(dir, "store"), maxValueBytes: 256 * 1024 })),
    );
    expect(report.failed.map((f) => `${f.name}: ${String(f.error)}`)).toEqual([]);
    expect(report.passed.length).toBeGreaterThanOrEqual(18);
  }, 30_000);

  it("leaves no temporary or lock file behind", async () => {
    const store = new FileStore({ directory: dir });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`k${i % 3}`, i)));
    await store.insertIfAbsent("k0", 1);
    const files = await readdir(dir);
    expect(files.filter((f) => !f.endsWith(".json"))).toEqual([]);
    expect(files.length).toBe(3);
  });

  it("breaks a lock left by a crashed process once it is stale, and not before", async () => {
    const store = new FileStore({ directory: dir, lockStaleMs: 200, timeoutMs: 2_000 });
    await store.set("k", 1);
    const lock = join(dir, (await readdir(dir))[0]! + ".lock");
    await writeFile(lock, "crashed");
    const started = Date.now();
    await store.set("k", 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect((await store.get("k"))?.value).toBe(2);
  });

  it("reports a lock held past timeoutMs as ERR_STORE_TIMEOUT", async () => {
    const store = new FileStore({ directory: dir, timeoutMs: 100 });
    await store.set("k", 1);
    await writeFile(join(dir, (await readdir(dir))[0]! + ".lock"), "held");
    await expect(store.set("k", 2)).rejects.toMatchObject({ code: "ERR_STORE_TIMEOUT" });
    expect((await store.get("k"))?.value).toBe(1);
  });

  it("refuses bad options with a ConfigError", () => {
    expect(() => new FileStore({} as never)).toThrow(ConfigError);
    expect(() => new FileStore({ directory: dir, lockStaleMs: 0 })).toThrow(/lockStaleMs/);
  });

  it("a reader never sees a torn value while another process rewrites the key", async () => {
    const command = await childCommand(CHILD, dir);
    const directory = join(dir, "shared");
    const store = new FileStore({ directory });
    const size = 256 * 1024;
    await store.set("hot", { n: 0, body: "a".repeat(size), tail: 0 });
    let done = false;
    const writer = runChild(command, [directory, "write", "hot", "60", String(size)]).finally(() => {
      done = true;
    });
    let reads = 0;
    const seen = new Set<number>();
    while (!done) {
      const value = (await store.get("hot"))?.value as { n: number; body: string; tail: number };
      reads++;
      expect(value.tail).toBe(value.n);
      expect(value.body).toBe(String.fromCharCode(97 + (value.n % 26)).repeat(size));
      seen.add(value.n);
    }
    await writer;
    expect((await store.get("hot"))?.value).toMatchObject({ n: 60, tail: 60 });
    expect(reads).toBeGreaterThan(5);
    expect(seen.size).toBeGreaterThan(1);
  }, 60_000);

  it("updates from two processes on one key sum exactly (lock files make them atomic)", async () => {
    const command = await childCommand(CHILD, dir);
    const directory = join(dir, "shared");
    const store = new FileStore({ directory, timeoutMs: 30_000 });
    const increment: Transition<number, number> = {
      name: "test.increment",
      apply: (current, input) => ({ next: (typeof current === "number" ? current : 0) + input, output: 0 }),
    };
    await store.set("counter", 0);
    const child = runChild(command, [directory, "increment", "counter", "200"]);
    let exited = false;
    void child.finally(() => {
      exited = true;
    }).catch(() => {});
    // Start once the child runs, so that the two really contend.
    while (!exited && !(await readdir(directory)).includes("counter.started")) await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 200; i++) await store.update("counter", increment, 1);
    await child;
    expect((await store.get("counter"))?.value).toBe(400);
  }, 60_000);
});
