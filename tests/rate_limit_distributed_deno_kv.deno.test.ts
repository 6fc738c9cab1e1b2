// Distributed rate limits on Deno KV (a database file): each decision one
// Store.update, an atomic().check() loop (one read and one commit a round,
// and one more round per conflict, counted); 200 concurrent calls admit
// exactly the limit, and so do two Deno processes on one file.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DenoKvStore, type DenoKvLike } from "../adapters/deno/mod.ts";
import { DistributedRateLimiter } from "../mod.ts";
import { CountingStore } from "../src/testing/mod.ts";
import { admittedOf, algorithmsWithLimit, label } from "./_support/distributed_limit_scenarios.ts";
import { runChild } from "./_support/run_child.ts";

type Kv = DenoKvLike & { close(): void };
const deno = (globalThis as unknown as { Deno: { openKv(path?: string): Promise<Kv> } }).Deno;
const CHILD = fileURLToPath(new URL("./_support/distributed_limit_deno_child.ts", import.meta.url));

describe("DistributedRateLimiter on DenoKvStore (Deno KV on a file)", () => {
  let dir = "";
  let kv: Kv | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-rl-denokv-"));
    kv = await deno.openKv(join(dir, "kv.sqlite3"));
  });
  afterEach(async () => {
    kv?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  for (const options of algorithmsWithLimit(50)) {
    it(`${label(options)}: 200 concurrent calls admit exactly the limit, one store operation each`, async () => {
      const store = new CountingStore(new DenoKvStore({ kv: kv!, timeoutMs: 30_000 }));
      expect(await admittedOf(store, options, "k", 200)).toBe(50);
      expect(store.total).toBe(200);
    }, 60_000);
  }

  it("two Deno processes on one file: 2 × 100 concurrent calls admit exactly the limit of 50, conflicts counted", async () => {
    const store = new DenoKvStore({ kv: kv!, timeoutMs: 30_000 });
    const child = runChild([process.execPath, "run", "--unstable-kv", "--allow-all", CHILD], [join(dir, "kv.sqlite3"), "50", "100"]);
    let exited = false;
    void child.finally(() => {
      exited = true;
    }).catch(() => {});
    while (!exited && (await store.get("started")) === undefined) await new Promise((r) => setTimeout(r, 2));
    const mine = await Promise.all(
      algorithmsWithLimit(50).map(async (options) => [label(options), await admittedOf(store, options, label(options), 100)] as const),
    );
    await child;
    const theirs = (await store.get("child-admitted"))?.value as { admitted: Record<string, number>; conflicts: number };
    expect(Object.fromEntries(mine.map(([name, count]) => [name, count + theirs.admitted[name]!]))).toEqual(
      Object.fromEntries(mine.map(([name]) => [name, 50])),
    );
    expect(typeof theirs.conflicts).toBe("number");
  }, 120_000);

  it("conflicts between instances are retried and counted: two stores on one database, 100 concurrent calls each", async () => {
    const stores = [new DenoKvStore({ kv: kv!, timeoutMs: 30_000 }), new DenoKvStore({ kv: kv!, timeoutMs: 30_000 })];
    const options = algorithmsWithLimit(50)[0]!;
    expect(await admittedOf(stores, options, "k", 200)).toBe(50);
    // Each store takes turns among its own callers; the two raced each other.
    const conflicts = stores[0]!.conflicts + stores[1]!.conflicts;
    expect(conflicts).toBeGreaterThan(0);
    const limiter = new DistributedRateLimiter({ ...options, store: stores[0]! });
    expect(limiter.stats.conflicts).toBe(stores[0]!.conflicts);
  }, 60_000);
});
