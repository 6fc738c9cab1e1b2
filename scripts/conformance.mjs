// The "conformance" block of the `npm test` summary: one line per store
// engine (and client) with the legs its conformance suite passed on and the
// number of checks.
//
// Each conformance test (named `conformance[<engine>] ...`) prints a marker
// line through tests/_support/conformance.ts:
//   bulwark-conformance {"engine":"redis/ioredis","passed":21,"failed":0,"skipped":0}
// Console output reaches every leg's captured output (vitest on Node,
// workerd and Chromium, Deno, Bun), so the block is read from there. An
// engine expected on a leg that ran but printed no line (the test failed
// before its report, was skipped, or was removed) shows as "no result" and
// counts as a failure; a leg not run shows as "not run".
import { runtimesFor } from "./test_files.mjs";

/** Each engine and the test file that runs its conformance suite (the legs follow from the file's name). */
export const ENGINES = {
  "memory": "tests/store_memory.test.ts",
  "file": "tests/file_store.node.test.ts",
  "heartbeat-state-file": "tests/heartbeat_cli.node.test.ts",
  "deno-kv": "tests/deno_kv_store.deno.test.ts",
  "cloudflare/kv": "tests/store_cloudflare.workers.test.ts",
  "cloudflare/durable-object": "tests/store_cloudflare.workers.test.ts",
  "cloudflare/d1": "tests/store_cloudflare.workers.test.ts",
  "redis/node-redis": "tests/store_redis.node.test.ts",
  "redis/ioredis": "tests/store_redis.node.test.ts",
  "postgres/pg": "tests/store_postgres.node.test.ts",
  "postgres/postgres.js": "tests/store_postgres.node.test.ts",
};

const MARKER = /bulwark-conformance (\{[^\n]*?\})/g;

/** The marker lines in one leg's output, by engine (the last line wins if a test ran twice). */
export function markersIn(output) {
  const found = new Map();
  for (const [, json] of output.matchAll(MARKER)) {
    try {
      const line = JSON.parse(json);
      if (typeof line.engine === "string") found.set(line.engine, line);
    } catch {
      // a marker cut by interleaved output: that engine shows as "no result"
    }
  }
  return found;
}

/**
 * @param {{ name: string, output: string }[]} results the runtime legs that ran
 * @returns {{ lines: string[], failed: number }}
 */
export function conformanceSummary(results) {
  const ran = new Map(results.map((r) => [r.name, markersIn(r.output)]));
  const engines = [...Object.keys(ENGINES)];
  for (const markers of ran.values()) {
    for (const engine of markers.keys()) if (!engines.includes(engine)) engines.push(engine);
  }
  const width = Math.max(...engines.map((e) => e.length));
  const lines = [];
  let failed = 0;
  for (const engine of engines) {
    const expected = ENGINES[engine] ? runtimesFor(ENGINES[engine]) : [];
    const legs = [...new Set([...expected, ...[...ran.keys()].filter((leg) => ran.get(leg).has(engine))])];
    const ok = [];
    const bad = [];
    const missing = [];
    const notRun = [];
    const checks = new Set();
    for (const leg of legs) {
      const marker = ran.get(leg)?.get(engine);
      if (!ran.has(leg)) notRun.push(leg);
      else if (marker === undefined) missing.push(leg);
      else if (marker.failed > 0) bad.push(`${leg} (${marker.failed} of ${marker.passed + marker.failed} failed)`);
      else {
        ok.push(leg);
        checks.add(`${marker.passed} checks${marker.skipped ? `, ${marker.skipped} skipped` : ""}`);
      }
    }
    failed += bad.length + missing.length;
    const parts = [];
    if (ok.length) parts.push(`ok on ${ok.join(" ")} (${[...checks].join(" / ")})`);
    if (bad.length) parts.push(`FAILED on ${bad.join(" ")}`);
    if (missing.length) parts.push(`NO RESULT from ${missing.join(" ")}`);
    if (notRun.length) parts.push(`not run: ${notRun.join(" ")}`);
    if (!ENGINES[engine]) parts.push("(not listed in scripts/conformance.mjs)");
    lines.push(`${engine.padEnd(width)}  ${parts.join("; ")}`);
  }
  return { lines, failed };
}
