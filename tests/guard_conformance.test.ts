// Guard: the "conformance" block of the `npm test` summary
// (scripts/conformance.mjs) shows a failing or missing engine instead of
// dropping it, and lists every engine whose test prints a result.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script, without declarations
import { conformanceSummary, ENGINES } from "../scripts/conformance.mjs";
// @ts-expect-error: a plain .mjs script, without declarations
import { allTestFiles } from "../scripts/test_files.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const marker = (engine: string, passed: number, failed = 0, skipped = 0) =>
  `stdout | tests/x.test.ts\nbulwark-conformance ${JSON.stringify({ engine, passed, failed, skipped })}\n`;

describe("the conformance block of the npm test summary", () => {
  it("says which legs passed, which failed, which gave no result and which did not run", () => {
    const { lines, failed } = conformanceSummary([
      { name: "node20", output: marker("memory", 21) + marker("redis/ioredis", 19, 2) },
      { name: "deno", output: marker("memory", 21) },
      { name: "bun", output: "no marker at all" },
    ]);
    const line = (engine: string) => (lines as string[]).find((l) => l.startsWith(`${engine} `))?.replace(/ +/g, " ");
    expect(line("memory")).toBe("memory ok on node20 deno (21 checks); NO RESULT from bun; not run: node24 workerd chromium");
    expect(line("redis/ioredis")).toBe("redis/ioredis FAILED on node20 (2 of 21 failed); NO RESULT from deno bun; not run: node24");
    expect(line("cloudflare/kv")).toBe("cloudflare/kv not run: workerd");
    // memory: bun; ioredis: node20 failed, deno, bun; the five other Node-API engines: node20, deno, bun; deno-kv: deno.
    expect(failed).toBe(1 + 3 + 5 * 3 + 1);
  });

  it("shows an engine it does not list rather than dropping it", () => {
    const { lines } = conformanceSummary([{ name: "node20", output: marker("sqlite", 20) }]);
    expect((lines as string[]).find((l) => l.startsWith("sqlite "))).toMatch(/ok on node20 \(20 checks\); \(not listed in scripts\/conformance\.mjs\)/);
  });

  it("lists every engine tagged conformance[<engine>] in a test name, on its test file", () => {
    const tagged: Record<string, string> = {};
    for (const file of allTestFiles(ROOT) as string[]) {
      const source = readFileSync(join(ROOT, file), "utf8");
      for (const [, engine] of source.matchAll(/it\(["`]conformance\[([^\]$]+)\]/g)) tagged[engine!] = file;
    }
    expect(Object.keys(tagged).length).toBeGreaterThanOrEqual(6);
    for (const [engine, file] of Object.entries(tagged)) expect(ENGINES[engine], engine).toBe(file);
  });
});
