// The programs in examples/, each run as its runtime runs it, importing
// "bulwark" by name as a user does (resolved to this repository's sources):
//
//   node     examples/node/main.ts       bundled by esbuild, run by this Node
//   deno     examples/deno/main.ts       deno run --check, import map examples/deno/deno.json
//   bun      examples/bun/main.ts        bun run (tsconfig.json "paths" map "bulwark")
//   browser  examples/browser/           bundled, served, opened in headless Chromium
//   workers  examples/workers/worker.ts  bundled, run in workerd through Miniflare
//   readme   README.md's Node/Bun quick start, bundled, run on Node and on Bun
//
// Each must exit cleanly and print the lines listed in EXPECTED below, so an
// example that rots fails `npm test` (its `examples` leg).
//
//   node scripts/examples.mjs              every example
//   node scripts/examples.mjs node deno    some
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { bulwarkFromSource } from "./lib/bulwark_source.mjs";
import { run } from "./lib/run.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Lines each example must print (in this order). */
export const EXPECTED = {
  node: [
    "call 1: 200",
    "call 2: 200",
    "call 3: 200",
    "upstream served 6 requests; breaker closed",
    "shutdown: ran upstream; completed: true",
  ],
  deno: [
    "request 1: 200",
    "request 3: 200",
    "request 4: 429 retry after 20 s",
    "server closed",
  ],
  bun: [
    "fast: fresh price 42",
    "slow: cached price 41 (TimeoutError)",
    "full: cached price 41 (BulkheadRejectedError)",
  ],
  browser: [
    "search b: 200",
    "search bu: 200",
    "search bul: 200",
    "done",
  ],
  readme: [
    "node: in stock: 42",
    "bun: in stock: 42",
  ],
  workers: [
    "GET /items 1: 200",
    "GET /items 5: 200",
    "GET /items 6: 429",
  ],
};

/** Bundles an example with esbuild, "bulwark" from the sources; returns the code. */
async function bundle(entry, options) {
  const { outputFiles } = await build({
    ...(entry === undefined ? {} : { entryPoints: [join(root, entry)] }),
    bundle: true,
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "error",
    plugins: [bulwarkFromSource()],
    ...options,
  });
  return outputFiles[0].text;
}

/** Checks that `output` holds the expected lines in order; returns the problem, if any. */
function missing(name, output) {
  let from = 0;
  for (const line of EXPECTED[name]) {
    const at = output.indexOf(line, from);
    if (at === -1) return `expected a line '${line}' (after what came before)`;
    from = at + line.length;
  }
  return undefined;
}

/** A plain HTTP upstream for the browser and Workers examples: every odd request to /items gets a 503. */
async function flakyUpstream(extraRoutes = () => false) {
  let served = 0;
  const server = createServer((request, response) => {
    if (extraRoutes(request, response)) return;
    served++;
    if (served % 2 === 1) response.writeHead(503, { "retry-after": "0" }).end("busy");
    else response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ served }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** The README's Node/Bun quick start: its first TypeScript block after "## Quick start". */
function readmeQuickStart() {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const block = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(readme.indexOf("## Quick start")));
  if (block === null) throw new Error("README.md: no ```ts block after '## Quick start'");
  return block[1];
}

const runners = {
  async node(scratch) {
    const file = join(scratch, "node.mjs");
    writeFileSync(file, await bundle("examples/node/main.ts", { platform: "node", target: "node20" }));
    return run(process.execPath, [file], { cwd: root, timeoutMs: 60_000 });
  },
  async deno() {
    return run(
      bin("deno"),
      ["run", "--check", "--allow-net", "--no-lock", "--config", "examples/deno/deno.json", "examples/deno/main.ts"],
      { cwd: root, timeoutMs: 120_000 },
    );
  },
  async bun() {
    return run(bin("bun"), ["run", "examples/bun/main.ts"], { cwd: root, timeoutMs: 60_000 });
  },
  async browser() {
    const { chromium } = await import("playwright");
    const script = await bundle("examples/browser/main.ts", { platform: "browser" });
    const html = readFileSync(join(root, "examples/browser/index.html"), "utf8");
    // The page and its bundle from the same origin as the API it calls, as a dev server would.
    const { server, url } = await flakyUpstream((request, response) => {
      if (request.url === "/") return response.writeHead(200, { "content-type": "text/html" }).end(html), true;
      if (request.url === "/main.js") return response.writeHead(200, { "content-type": "text/javascript" }).end(script), true;
      if (!request.url.startsWith("/api/")) return response.writeHead(404).end(), true; // favicon.ico
      return false;
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM });
    try {
      const page = await browser.newPage();
      const errors = [];
      page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
      await page.goto(url);
      await page.waitForFunction(() => document.title === "done" || document.title === "failed", null, { timeout: 30_000 });
      const output = `${await page.locator("#log").innerText()}\n${errors.join("\n")}`;
      return { code: (await page.title()) === "done" && errors.length === 0 ? 0 : 1, output };
    } finally {
      await browser.close();
      server.close();
    }
  },
  async readme(scratch) {
    // The doc leg runs every README block on Deno; this runs the Node/Bun
    // quick start on Node and on Bun as well, bundled as a user's bundler would.
    const file = join(scratch, "readme.mjs");
    writeFileSync(file, await bundle(undefined, {
      stdin: { contents: readmeQuickStart(), loader: "ts", resolveDir: root, sourcefile: "README.md" },
      platform: "node",
      target: "node20",
    }));
    let output = "";
    let code = 0;
    for (const [name, command] of [["node", process.execPath], ["bun", bin("bun")]]) {
      const done = await run(command, [file], { cwd: root, timeoutMs: 60_000 });
      output += done.output.split("\n").filter((line) => line !== "").map((line) => `${name}: ${line}\n`).join("");
      code ||= done.code;
    }
    return { code, output };
  },
  async workers() {
    const { Miniflare } = await import("miniflare");
    const script = await bundle("examples/workers/worker.ts", {
      platform: "neutral",
      conditions: ["workerd", "worker", "browser"],
      mainFields: ["module", "main"],
    });
    const { server, url } = await flakyUpstream();
    const miniflare = new Miniflare({
      modules: true,
      script,
      compatibilityDate: "2026-04-01",
      bindings: { ORIGIN: url },
    });
    try {
      let output = "";
      for (let request = 1; request <= 6; request++) {
        const response = await miniflare.dispatchFetch("http://worker.example/items", {
          headers: { "cf-connecting-ip": "203.0.113.7" },
        });
        output += `GET /items ${request}: ${response.status} ${(await response.text()).trim()} ` +
          `[RateLimit: ${response.headers.get("ratelimit")}]\n`;
      }
      return { code: 0, output };
    } finally {
      await miniflare.dispose();
      server.close();
    }
  },
};

/** Runs the examples named (all by default); one check each, as a leg of `npm test`. */
export async function examplesLeg(names = Object.keys(runners)) {
  const scratch = mkdtempSync(join(tmpdir(), "bulwark-examples-"));
  const checks = [];
  try {
    for (const name of names) {
      let outcome;
      try {
        outcome = await runners[name](scratch);
      } catch (error) {
        outcome = { code: 1, output: `${error?.stack ?? error}\n` };
      }
      const problem = outcome.code === 0 ? missing(name, outcome.output) : `exited with code ${outcome.code}`;
      checks.push({ name, problem, output: outcome.output });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const failed = checks.filter((c) => c.problem !== undefined).length;
  return {
    name: "examples",
    passed: checks.length - failed,
    failed,
    output: checks
      .map((c) => `[${c.name}] ${c.problem === undefined ? "ok" : `FAILED: ${c.problem}`}\n${c.output.trimEnd()}\n`)
      .join("\n"),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2);
  for (const name of names) {
    if (!(name in runners)) {
      console.error(`unknown example '${name}'; examples: ${Object.keys(runners).join(", ")}`);
      process.exit(2);
    }
  }
  const result = await examplesLeg(names.length > 0 ? names : undefined);
  console.log(result.output);
  console.log(`examples: ${result.passed} passed, ${result.failed} failed`);
  process.exitCode = result.failed > 0 ? 1 : 0;
}
