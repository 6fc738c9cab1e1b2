// Two isolates sharing state, as two Workers (or one Worker's isolates in
// two locations) do in production: one Miniflare runs the Worker in
// tests/_support/isolate_worker.ts twice, each its own isolate, sharing one
// KV namespace, one Durable Object namespace (the second binds the first's
// class through `scriptName`) and one D1 database. Concurrent requests to
// both decide through the one object or the one database: exactly one claim
// wins, no increment is lost, a limit admits exactly its limit.
//
// Node only (Miniflare drives a workerd process from Node); skipped on the
// other runtimes of this file's tag.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const onNode = typeof process !== "undefined" && typeof process.versions?.node === "string" &&
  !("Deno" in globalThis) && !("Bun" in globalThis);
const ROOT = fileURLToPath(new URL("../", import.meta.url));

interface Workers {
  a: { fetch(url: string): Promise<Response> };
  b: { fetch(url: string): Promise<Response> };
  dispose(): Promise<void>;
}

async function start(): Promise<Workers> {
  const { build } = await import("esbuild");
  const { Miniflare } = await import("miniflare");
  const bundle = await build({
    entryPoints: [`${ROOT}tests/_support/isolate_worker.ts`],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:workers"],
    write: false,
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]!.text;
  const shared = {
    modules: true,
    script,
    compatibilityDate: "2026-04-01",
    kvNamespaces: { STATE_KV: "shared-kv" },
    d1Databases: { STATE_DB: "shared-d1" },
  };
  const miniflare = new Miniflare({
    workers: [
      { ...shared, name: "a", durableObjects: { STATE_OBJECTS: { className: "BulwarkStateObject", useSQLite: true } } },
      { ...shared, name: "b", durableObjects: { STATE_OBJECTS: { className: "BulwarkStateObject", scriptName: "a", useSQLite: true } } },
    ],
  });
  await miniflare.ready;
  // Miniflare's own Response type, read the same way as the global one.
  type Fetcher = { fetch(url: string): Promise<Response> };
  return {
    a: (await miniflare.getWorker("a")) as unknown as Fetcher,
    b: (await miniflare.getWorker("b")) as unknown as Fetcher,
    dispose: () => miniflare.dispose(),
  };
}

(onNode ? describe : describe.skip)("Cloudflare stores shared by two isolates (Miniflare)", () => {
  let workers: Workers;
  beforeAll(async () => {
    workers = await start();
  }, 60_000);
  afterAll(async () => {
    await workers?.dispose();
  });

  async function call(isolate: "a" | "b", path: string): Promise<Record<string, unknown>> {
    const response = await workers[isolate].fetch(`http://worker${path}`);
    return (await response.json()) as Record<string, unknown>;
  }

  it("50 concurrent claims from both isolates through the Durable Object: exactly one wins", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(i % 2 === 0 ? "a" : "b", `/claim?key=job-1&by=${i}`)),
    );
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    expect(results.filter((r) => r.won === true).length).toBe(1);
  }, 60_000);

  it("50 concurrent increments from both isolates, decided inside the object: none lost", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(i % 2 === 0 ? "a" : "b", "/add?key=hits")));
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    expect(results.map((r) => Number(r.count)).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  }, 60_000);

  it("200 concurrent limit() calls from both isolates, one limit of 50 in the Durable Object: exactly 50 admitted", async () => {
    // One admitted call from each isolate first, so both are known to count
    // against the one limit (which isolate wins the burst is the scheduler's).
    const first = [await call("a", "/limit?key=user-1"), await call("b", "/limit?key=user-1")];
    expect(first.map((r) => r.allowed)).toEqual([true, true]);
    const burst = await Promise.all(Array.from({ length: 198 }, (_, i) => call(i % 2 === 0 ? "a" : "b", "/limit?key=user-1")));
    const results = [...first, ...burst];
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    expect(results.filter((r) => r.allowed === true).length).toBe(50);
  }, 60_000);

  it("200 concurrent limit() calls from both isolates, one exact sliding-window log of 50 in D1: exactly 50 admitted, one batch each", async () => {
    expect([await call("a", "/d1-migrate"), await call("b", "/d1-migrate")]).toEqual([{ ok: true }, { ok: true }]);
    const first = [await call("a", "/limit-d1?key=user-1"), await call("b", "/limit-d1?key=user-1")];
    expect(first.map((r) => r.allowed)).toEqual([true, true]);
    const burst = await Promise.all(Array.from({ length: 198 }, (_, i) => call(i % 2 === 0 ? "a" : "b", "/limit-d1?key=user-1")));
    const results = [...first, ...burst];
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    expect(results.filter((r) => r.source !== "store")).toEqual([]);
    expect(results.filter((r) => r.allowed === true).length).toBe(50);
    // Counted at each isolate's binding: 100 decisions each, one batch per decision, no statement alone.
    expect([await call("a", "/d1-calls"), await call("b", "/d1-calls")]).toEqual([
      { statements: 0, batches: 100 },
      { statements: 0, batches: 100 },
    ]);
  }, 60_000);

  it("a DistributedRateLimiter over Workers KV is refused in the Worker, with why", async () => {
    const refused = await call("a", "/limit-on-kv");
    expect(refused).toMatchObject({ refused: true, name: "ConfigError" });
    expect(String(refused.message)).toContain("both take the last unit");
  }, 60_000);

  it("a KV write in one isolate is read, with its version, in the other", async () => {
    const written = await call("a", "/kv-set?key=flag&value=open");
    const read = await call("b", "/kv-get?key=flag");
    expect(read.entry).toEqual({ value: "open", version: written.version });
  }, 60_000);
});
