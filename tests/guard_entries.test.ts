// Guard: every public entry point that claims to run on Cloudflare Workers
// can be imported at global scope there. workerd refuses timers,
// AbortController, random values and I/O outside a handler, and a Worker
// whose imports do any of them fails to start. Each entry is bundled as a
// Worker would bundle it and started in a real workerd (Miniflare).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Readable } from "node:stream";
import { Miniflare } from "miniflare";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * Subpaths that need a server runtime (files, sockets, process signals) and
 * are not meant for Workers. Every other subpath must import cleanly there.
 */
const NOT_FOR_WORKERS = new Set(["./fs", "./node", "./deno", "./bun"]);

const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Record<string, string> };
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))?.[1];

/** `./dist/src/testing/mod.js` is built from `src/testing/mod.ts`. */
function sourceOf(target: string): string {
  return join(ROOT, target.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts"));
}

const workersEntries = Object.entries(packageJson.exports)
  .filter(([subpath, target]) => target.endsWith(".js") && !NOT_FOR_WORKERS.has(subpath))
  .map(([subpath, target]) => ({ subpath, source: sourceOf(target) }));

type Started = { exports: string[]; error?: undefined } | { exports?: undefined; error: string };

/**
 * Bundles `moduleSource` (resolved from the repo root) into a Worker that
 * imports it at global scope and answers with the names it exports.
 */
async function startInWorkerd(moduleSource: string): Promise<Started> {
  const bundle = await build({
    stdin: {
      contents: `${moduleSource}\nexport default { fetch: () => Response.json(Object.keys(entry)) };`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    write: false,
    logLevel: "silent",
  });
  let runtimeLog = "";
  const miniflare = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]!.text,
    compatibilityDate,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.on("data", (chunk: Buffer) => (runtimeLog += chunk));
      stderr.on("data", (chunk: Buffer) => (runtimeLog += chunk));
    },
  });
  try {
    const response = await miniflare.dispatchFetch("http://entry/");
    return { exports: (await response.json()) as string[] };
  } catch (error) {
    const disallowed = /Uncaught .*/.exec(runtimeLog)?.[0];
    return { error: disallowed ?? `${(error as Error).message}\n${runtimeLog}` };
  } finally {
    await miniflare.dispose().catch(() => undefined);
  }
}

describe("guard: public entry points import at global scope in workerd", () => {
  it("covers the core entry and finds the compatibility date", () => {
    expect(workersEntries.map((e) => e.subpath)).toContain(".");
    expect(compatibilityDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  for (const { subpath, source } of workersEntries) {
    it(`imports '${subpath}' without a disallowed operation`, async () => {
      const started = await startInWorkerd(`import * as entry from ${JSON.stringify(source)};`);
      expect(started.error).toBeUndefined();
      const inNode = Object.keys(await import(source)).sort();
      expect(started.exports?.sort()).toEqual(inNode);
      expect(inNode.length).toBeGreaterThan(0);
    }, 30_000);
  }

  it("lets a Worker build its policies at global scope, as the README's edge example does", async () => {
    const started = await startInWorkerd(`
      import { CircuitBreaker, createResilientFetch, KeyedRateLimiter, RateLimiter, ResiliencePipeline } from "./mod.ts";
      const entry = {
        breaker: new CircuitBreaker({ windowMs: 10_000 }),
        upstream: createResilientFetch({ timeoutMs: 5_000, attemptTimeoutMs: 1_000, bulkhead: { maxConcurrent: 4 } }),
        limiter: new RateLimiter({ rate: 5 }),
        keyed: new KeyedRateLimiter({ algorithm: "gcra", rate: 5 }),
        pipeline: new ResiliencePipeline({ retry: {}, circuitBreaker: {}, bulkhead: {}, timeout: { timeoutMs: 1_000 } }),
      };`);
    expect(started.error).toBeUndefined();
    expect(started.exports?.sort()).toEqual(["breaker", "keyed", "limiter", "pipeline", "upstream"]);
  }, 30_000);

  it("lets a Worker build its Hono app with every bulwark/hono middleware at global scope", async () => {
    const started = await startInWorkerd(`
      import { Hono } from "hono";
      import { CircuitBreaker } from "./mod.ts";
      import { bulkhead, circuitBreaker, health, rateLimit, timeout } from "./adapters/hono/mod.ts";
      const app = new Hono();
      app.use("*", rateLimit({ limit: 10 }), timeout({ timeoutMs: 1_000 }), bulkhead({ maxConcurrent: 2 }));
      app.use("*", circuitBreaker({ breaker: new CircuitBreaker() }), circuitBreaker({ name: "named" }));
      app.get("/health", health());
      const entry = { app };`);
    expect(started.error).toBeUndefined();
    expect(started.exports).toEqual(["app"]);
  }, 30_000);

  it("lets a Worker build its Cloudflare stores at global scope, touching no binding until a request", async () => {
    // Bindings that throw if touched: constructing a store must not read,
    // write or even resolve its binding (the lazy form is only called per operation).
    const started = await startInWorkerd(`
      import { D1Store, DurableObjectStore, KvStore, LaggingKvNamespace, stateObjectClass } from "./adapters/cloudflare/mod.ts";
      const touched = () => { throw new Error("binding touched at import"); };
      const kv = { getWithMetadata: touched, put: touched, delete: touched };
      const entry = {
        kv: new KvStore(kv),
        lazyKv: new KvStore(touched),
        lagging: new KvStore(new LaggingKvNamespace(kv)),
        objects: new DurableObjectStore({ idFromName: touched, get: touched }),
        lazyObjects: new DurableObjectStore(touched, { shard: (key) => key.slice(0, 4) }),
        d1: new D1Store({ prepare: touched }),
        lazyD1: new D1Store(touched, { table: "app_state" }),
        StateObject: stateObjectClass(class { constructor(ctx, env) {} }),
      };`);
    expect(started.error).toBeUndefined();
    expect(started.exports?.sort()).toEqual(["StateObject", "d1", "kv", "lagging", "lazyD1", "lazyKv", "lazyObjects", "objects"]);
  }, 30_000);

  it("fails an entry that creates an AbortController at import", async () => {
    const started = await startInWorkerd(`const shared = new AbortController();\nconst entry = { shared };`);
    expect(started.error).toContain("Disallowed operation called within global scope");
  }, 30_000);

  it("fails an entry that starts a timer at import", async () => {
    const started = await startInWorkerd(`const timer = setTimeout(() => {}, 1_000);\nconst entry = { timer };`);
    expect(started.error).toContain("Disallowed operation called within global scope");
  }, 30_000);
});
