import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "vitest";
import { type DenoKvLike, DenoKvStore } from "../adapters/deno/mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { type IdempotencyEnv, idempotencyScenarios, macrotask } from "./_support/idempotency_scenarios.ts";

type Kv = DenoKvLike & { close(): void };
const deno = (globalThis as unknown as { Deno: { openKv(path?: string): Promise<Kv> } }).Deno;

describe("idempotency on DenoKvStore (Deno KV on a file)", () => {
  let dir = "";
  let kv: Kv | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-idempotency-kv-"));
    kv = await deno.openKv(join(dir, "kv.sqlite3"));
  });
  afterEach(async () => {
    kv?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  let n = 0;
  for (const [name, scenario] of Object.entries(idempotencyScenarios)) {
    it(name, async () => {
      const clock = new ManualClock();
      const env: IdempotencyEnv = {
        clock,
        // A bound far away on the manual clock, so real I/O never trips it.
        makeStore: () => new DenoKvStore({ kv: kv!, prefix: `s${n++}:`, clock, timeoutMs: 1e9 }),
        advance: async (ms) => {
          await clock.advance(ms);
          for (let i = 0; i < 3; i++) await macrotask();
        },
      };
      await scenario(env);
    }, 30_000);
  }
});
