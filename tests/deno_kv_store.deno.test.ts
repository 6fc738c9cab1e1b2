import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DenoKvStore, type DenoKvLike } from "../adapters/deno/mod.ts";
import { ConfigError, type Transition } from "../mod.ts";
import { runStoreConformance } from "../src/testing/mod.ts";
import { reportConformance } from "./_support/conformance.ts";

type Kv = DenoKvLike & { close(): void };
const deno = (globalThis as unknown as { Deno: { openKv(path?: string): Promise<Kv> } }).Deno;
const CHILD = fileURLToPath(new URL("./_support/deno_kv_child.ts", import.meta.url));

const increment: Transition<number, number> = {
  name: "test.increment",
  apply: (current, input) => ({ next: (typeof current === "number" ? current : 0) + input, output: 0 }),
};

function runChild(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["run", "--unstable-kv", "--allow-all", CHILD, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Uint8Array) => {
      stderr += new TextDecoder().decode(chunk);
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`child exited with ${code}: ${stderr}`))));
  });
}

describe("DenoKvStore (Deno KV on a file)", () => {
  let dir = "";
  let kv: Kv | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-denokv-"));
    kv = await deno.openKv(join(dir, "kv.sqlite3"));
  });
  afterEach(async () => {
    kv?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it("conformance[deno-kv] passes the conformance suite", async () => {
    const report = reportConformance("deno-kv", await runStoreConformance(() => new DenoKvStore({ kv: kv! })));
    expect(report.failed.map((f) => `${f.name}: ${String(f.error)}`)).toEqual([]);
    expect(report.passed.length).toBeGreaterThanOrEqual(18);
  }, 60_000);

  it("declares Deno KV's limits, and they are the engine's", async () => {
    const store = new DenoKvStore({ kv: kv!, prefix: "" });
    const key = "k".repeat(store.capabilities.maxKeyBytes);
    await store.set(key, 1);
    await expect(store.set(key + "k", 1)).rejects.toMatchObject({ code: "ERR_STORE_LIMIT", limit: 2046 });
    const value = "v".repeat(store.capabilities.maxValueBytes - 2);
    await store.set("big", value, { ttlMs: 60_000 });
    expect((await store.get("big"))?.value).toBe(value);
    await expect(store.set("big", value + "v")).rejects.toMatchObject({ code: "ERR_STORE_LIMIT" });
  });

  it("refuses a kv that is not one", () => {
    expect(() => new DenoKvStore({ kv: {} as never })).toThrow(ConfigError);
  });

  it("two Deno processes incrementing one key sum exactly", async () => {
    const store = new DenoKvStore({ kv: kv!, timeoutMs: 30_000 });
    const child = runChild([join(dir, "kv.sqlite3"), "150"]);
    let exited = false;
    void child.finally(() => {
      exited = true;
    }).catch(() => {});
    while (!exited && (await store.get("started")) === undefined) await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 150; i++) await store.update("counter", increment, 1);
    await child;
    expect((await store.get("counter"))?.value).toBe(300);
  }, 60_000);
});
