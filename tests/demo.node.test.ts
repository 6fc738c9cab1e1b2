// The demo gateway (demo/, `npm start`), end to end:
// - `npm start`'s script boots and answers `/` and `/api/state` (on the Deno
//   and Bun legs, `deno task start`'s and `bun run start`'s entries do);
// - headless Chromium opens the dashboard, the upstream is switched to
//   failing from the page, and the page shows the breaker open, then closed
//   again once the upstream heals (screenshots under artifacts/);
// - the Worker variant (demo/worker.ts) in workerd through Miniflare, twice
//   (two isolates sharing one KV namespace and one Durable Object
//   namespace, as wrangler.toml's bindings would): both answer the same
//   routes, and idempotency, rate limits and breaker state are shared.
//
// Chromium and workerd on Node only (Playwright and Miniflare drive them
// from Node); skipped on the other runtimes of this file's tag.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway, GatewayOptions } from "../demo/app.ts";

const onNode = typeof process !== "undefined" && typeof process.versions?.node === "string" &&
  !("Deno" in globalThis) && !("Bun" in globalThis);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/** Short breaker timings, so that open and recovery take about a second. */
const TEST_ENV = { DEMO_MAX_FAILURES: "3", DEMO_RESET_TIMEOUT_MS: "700", DEMO_POLL_MS: "100" };

/** Resolves to the first match of `pattern` in the child's stdout, or rejects if it exits first or after `ms`. */
function waitForOutput(child: ChildProcess, pattern: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`no match for ${pattern} within ${ms} ms; output:\n${output}`)), ms);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(match);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with code ${code} before printing its address; output:\n${output}`));
    });
  });
}

/** This runtime, and how it runs the demo: `npm start`'s script on Node, `deno task start`'s and `bun run start`'s commands elsewhere. */
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const START_ARGS = {
  node: [join(ROOT, "demo/start.mjs")],
  deno: ["run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", join(ROOT, "demo/deno.ts")],
  bun: [join(ROOT, "demo/bun.ts")],
}[runtime];

describe(`demo gateway on ${runtime}`, () => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), "bulwark-demo-"));
  });
  afterAll(() => {
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("boots on a free port and answers / and /api/state", async () => {
    const child = spawn(process.execPath, START_ARGS, {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", DEMO_STATE_DIR: join(stateDir, "smoke"), npm_config_user_agent: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const [, url] = await waitForOutput(child, /(http:\/\/127\.0\.0\.1:\d+)\//, 30_000);
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("bulwark demo gateway");
      const state = (await (await fetch(`${url}/api/state`)).json()) as { runtime: string; breakers: { state: string }[] };
      expect(state.runtime).toBe(runtime);
      expect(state.breakers.map((b) => b.state)).toEqual(["closed", "closed"]);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  }, 60_000);

});

describe(`demo gateway routes on ${runtime} (app.request)`, () => {
  async function gatewayWith(options: Partial<GatewayOptions> = {}): Promise<Gateway> {
    const { createGateway } = await import("../demo/app.ts");
    const { MemoryStore } = await import("../mod.ts");
    const store = new MemoryStore();
    return createGateway({
      runtime,
      idempotencyStore: store,
      heartbeatStore: store,
      heartbeatMode: "request",
      breaker: { maxFailures: 2, resetTimeoutMs: 60_000 },
      ...options,
    });
  }
  const json = { "content-type": "application/json" };

  it("the payments breaker (circuitBreaker middleware) opens on failing answers; readiness fails, liveness holds", async () => {
    const gateway = await gatewayWith();
    const { app } = gateway;
    try {
      await app.request("/api/state"); // a first beat
      await app.request("/api/upstream", { method: "POST", headers: json, body: JSON.stringify({ service: "payments", errorRate: 1, latencyMs: 0 }) });
      const order = () => app.request("/api/orders", { method: "POST", headers: json, body: "{}" });
      expect((await order()).status).toBe(503);
      expect((await order()).status).toBe(503);
      const refused = await order();
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("60");
      expect(((await refused.json()) as { detail: string }).detail).toContain("is open");
      // A POST without an Idempotency-Key is never retried: one attempt each; none for the third.
      expect(gateway.upstream.served.payments.failed).toBe(2);
      expect((await app.request("/health/ready")).status).toBe(503);
      expect((await app.request("/health/live")).status).toBe(200);
      const state = (await (await app.request("/api/state")).json()) as { counters: { circuitOpen: number } };
      expect(state.counters.circuitOpen).toBe(1);
    } finally {
      await gateway.stop();
    }
  });

  it("a slow upstream gets 504 at the request's deadline (timeout middleware)", async () => {
    const gateway = await gatewayWith({ timeouts: { requestMs: 150, attemptMs: 100 } });
    try {
      await gateway.app.request("/api/upstream", { method: "POST", headers: json, body: JSON.stringify({ service: "inventory", latencyMs: 400 }) });
      const slow = await gateway.app.request("/api/inventory/sku-1");
      expect(slow.status).toBe(504);
      const state = (await (await gateway.app.request("/api/state")).json()) as { counters: { timeouts: number } };
      expect(state.counters.timeouts).toBe(1);
    } finally {
      await gateway.stop();
    }
  });

  it("a client over its rate limit gets 429 with Retry-After and the RateLimit fields (rateLimit middleware)", async () => {
    const gateway = await gatewayWith({ clientRate: { limit: 2, windowMs: 60_000 } });
    try {
      const get = () => gateway.app.request("/api/inventory/sku-1", { headers: { "x-client-id": "c1" } });
      const first = await get();
      expect(first.status).toBe(200);
      expect(first.headers.get("ratelimit")).toBe('"per-client";r=1;t=30');
      await get();
      const third = await get();
      expect(third.status).toBe(429);
      expect(third.headers.get("retry-after")).toBe("30");
      expect((await gateway.app.request("/api/inventory/sku-1", { headers: { "x-client-id": "c2" } })).status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });

  it("more concurrent requests than the bulkhead's slots and queue: the rest get 503 (bulkhead middleware)", async () => {
    const gateway = await gatewayWith();
    try {
      await gateway.app.request("/api/upstream", { method: "POST", headers: json, body: JSON.stringify({ service: "inventory", latencyMs: 100 }) });
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => gateway.app.request("/api/inventory/sku-1", { headers: { "x-client-id": `c${i}` } })),
      );
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 200).length).toBe(24); // 8 slots + 16 queued
      expect(statuses.filter((s) => s === 503).length).toBe(6);
      const state = (await (await gateway.app.request("/api/state")).json()) as { bulkhead: { rejected: number; active: number } };
      expect(state.bulkhead).toMatchObject({ rejected: 6, active: 0 });
    } finally {
      await gateway.stop();
    }
  });
});

(onNode ? describe : describe.skip)("demo dashboard in Chromium", () => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), "bulwark-demo-"));
  });
  afterAll(() => {
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("shows the breaker open when the upstream fails, then closed when it heals", async () => {
    const { serve, nodeGateway } = await import("../demo/node.ts");
    const { chromium } = await import("playwright");
    const demo = await serve(nodeGateway({ ...TEST_ENV, DEMO_STATE_DIR: join(stateDir, "browser") }, "node"), 0);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const artifacts = join(ROOT, "artifacts");
    mkdirSync(artifacts, { recursive: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.goto(`${demo.url}/`);
      await page.waitForSelector("body[data-ready=true]");
      await page.waitForSelector("#breaker-inventory[data-state=closed]");
      // Load from the page's own generator, then the upstream fails (the page's "Fail" button).
      await page.click("#load-toggle");
      await page.click("#fail-inventory");
      await page.waitForSelector("#breaker-inventory[data-state=open]", { timeout: 20_000 });
      expect(demo.gateway.upstream.settings.inventory.errorRate).toBe(1);
      const open = join(artifacts, "demo-dashboard-open.png");
      await page.screenshot({ path: open, fullPage: true });
      // Heal it: the next probe after the reset timeout closes the circuit.
      await page.click("#heal-inventory");
      await page.waitForSelector("#breaker-inventory[data-state=closed]", { timeout: 20_000 });
      const recovered = join(artifacts, "demo-dashboard-recovered.png");
      await page.screenshot({ path: recovered, fullPage: true });
      console.log(`demo dashboard screenshots: ${open} ${recovered}`);
      // The page drew the whole story: closed, open, half-open, closed.
      const drawn = await page.$$eval("#breaker-inventory svg rect title", (titles) => titles.map((t) => t.textContent!.split(" ")[0]));
      expect(drawn.join(" ")).toMatch(/closed open( half-open open)* half-open closed/);
      expect(Number(await page.textContent("[data-counter=circuitOpen] td:last-child"))).toBeGreaterThan(0);
      expect(await page.textContent("#heartbeat-age")).toMatch(/^\d+\.\d s$/);
      await page.click("#load-toggle");
    } finally {
      await browser.close();
      await demo.close();
    }
  }, 90_000);
});

interface Isolate {
  fetch(url: string, init?: RequestInit): Promise<Response>;
}

interface Workers {
  a: Isolate;
  b: Isolate;
  dispose(): Promise<void>;
}

/** demo/worker.ts bundled and run twice in one Miniflare, sharing KV and the Durable Object namespace. */
async function startWorkers(): Promise<Workers> {
  const { build } = await import("esbuild");
  const { Miniflare } = await import("miniflare");
  const bundle = await build({
    entryPoints: [join(ROOT, "demo/worker.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:workers"],
    write: false,
    logLevel: "silent",
  });
  const shared = {
    modules: true,
    script: bundle.outputFiles[0]!.text,
    compatibilityDate: "2026-04-01",
    kvNamespaces: { DEMO_KV: "demo-kv" },
    // Five requests per client per minute: a limit no refill disturbs during the test.
    // A long open period: the other isolate must see it open, not already half-open.
    bindings: { ...TEST_ENV, DEMO_RESET_TIMEOUT_MS: "30000", DEMO_RATE_LIMIT: "5", DEMO_RATE_WINDOW_MS: "60000" },
  };
  const miniflare = new Miniflare({
    workers: [
      { ...shared, name: "a", durableObjects: { DEMO_OBJECTS: { className: "DemoStateObject", useSQLite: true } } },
      { ...shared, name: "b", durableObjects: { DEMO_OBJECTS: { className: "DemoStateObject", scriptName: "a", useSQLite: true } } },
    ],
  });
  await miniflare.ready;
  return {
    a: (await miniflare.getWorker("a")) as unknown as Isolate,
    b: (await miniflare.getWorker("b")) as unknown as Isolate,
    dispose: () => miniflare.dispose(),
  };
}

interface DemoState {
  runtime: string;
  breakers: { service: string; state: string; stats: { failedCalls: number } }[];
  upstream: Record<string, { errorRate: number }>;
  served: Record<string, { ok: number; failed: number }>;
  heartbeat: { ageMs: number } | null;
}

(onNode ? describe : describe.skip)("demo gateway as a Worker, two isolates (Miniflare)", () => {
  let workers: Workers;
  beforeAll(async () => {
    workers = await startWorkers();
  }, 60_000);
  afterAll(async () => {
    await workers?.dispose();
  });

  const state = async (isolate: Isolate): Promise<DemoState> => (await (await isolate.fetch("http://demo/api/state")).json()) as DemoState;

  it("both isolates answer the dashboard, the state and a guarded route", async () => {
    for (const isolate of [workers.a, workers.b]) {
      const page = await isolate.fetch("http://demo/");
      expect(await page.text()).toContain("bulwark demo gateway");
      const item = await isolate.fetch("http://demo/api/inventory/sku-1", { headers: { "x-client-id": "reader" } });
      expect(item.status).toBe(200);
      expect(((await item.json()) as { service: string }).service).toBe("inventory");
      expect(item.headers.get("ratelimit-policy")).toBe('"per-client";q=5;w=60');
      const current = await state(isolate);
      expect(current.runtime).toBe("workerd");
      expect(current.heartbeat?.ageMs).toBeLessThan(5_000);
    }
  }, 30_000);

  it("an order sent to one isolate is replayed by the other (idempotency in a Durable Object)", async () => {
    const order = (isolate: Isolate) =>
      isolate.fetch("http://demo/api/orders", {
        method: "POST",
        headers: { "idempotency-key": '"order-42"', "content-type": "application/json", "x-client-id": "buyer" },
        body: JSON.stringify({ sku: "sku-42", qty: 1 }),
      });
    const first = await order(workers.a);
    expect(first.status).toBe(200);
    expect(first.headers.get("idempotency-replayed")).toBeNull();
    const second = await order(workers.b);
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotency-replayed")).toBe("true");
    expect(await second.text()).toBe(await first.text());
  }, 30_000);

  it("one client's rate limit is counted once across both isolates (a Durable Object)", async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? workers.a : workers.b).fetch("http://demo/api/inventory/sku-7", { headers: { "x-client-id": "greedy" } })),
    );
    const statuses = answers.map((r) => r.status);
    // Five per minute for the client, not five per isolate.
    expect(statuses.filter((s) => s === 200).length).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBe(7);
    const refused = answers.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  }, 30_000);

  it("a breaker opened in one isolate refuses calls in the other (shared breakers over KV)", async () => {
    expect((await state(workers.b)).breakers.find((b) => b.service === "inventory")?.state).toBe("closed");
    const upstream = (isolate: Isolate, errorRate: number) =>
      isolate.fetch("http://demo/api/upstream", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ service: "inventory", errorRate, latencyMs: 0 }),
      });
    // Isolate a's calls fail until its breaker opens; then the upstream heals
    // (for both: its settings are shared through a Durable Object).
    expect((await upstream(workers.a, 1)).status).toBe(200);
    for (let i = 0; i < 3; i++) await workers.a.fetch("http://demo/api/inventory/x", { headers: { "x-client-id": `tripper-${i}` } });
    expect((await state(workers.a)).breakers.find((b) => b.service === "inventory")?.state).toBe("open");
    expect((await upstream(workers.a, 0)).status).toBe(200);
    // Isolate b reads the shared state at most once a second, on its calls.
    let refused: Response | undefined;
    for (let i = 0; i < 25 && refused === undefined; i++) {
      const answer = await workers.b.fetch("http://demo/api/inventory/x", { headers: { "x-client-id": `b-${i}` } });
      if (answer.status === 503) refused = answer;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(((await refused?.json()) as { error: string } | undefined)?.error).toBe("the inventory circuit is open");
    const seen = await state(workers.b);
    expect(seen.breakers.find((b) => b.service === "inventory")?.state).toBe("open");
    // Not by failing itself: b's upstream never failed a call.
    expect(seen.served.inventory?.failed).toBe(0);
    expect(seen.upstream.inventory?.errorRate).toBe(0);
  }, 30_000);
});
