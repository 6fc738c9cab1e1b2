import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileStore } from "../adapters/fs/mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { type IdempotencyEnv, idempotencyScenarios, macrotask } from "./_support/idempotency_scenarios.ts";
import { childCommand, runChild } from "./_support/run_child.ts";

const CHILD = fileURLToPath(new URL("./_support/idempotency_file_child.ts", import.meta.url));

describe("idempotency on FileStore", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-idempotency-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  let n = 0;
  for (const [name, scenario] of Object.entries(idempotencyScenarios)) {
    it(name, async () => {
      const clock = new ManualClock();
      const env: IdempotencyEnv = {
        clock,
        // Operations are bounded on the manual clock: a bound far away, so real I/O never trips it.
        makeStore: () => new FileStore({ directory: join(dir, `s${n++}`), clock, timeoutMs: 1e9 }),
        advance: async (ms) => {
          await clock.advance(ms);
          for (let i = 0; i < 3; i++) await macrotask();
        },
      };
      await scenario(env);
    }, 30_000);
  }

  it("two processes sharing the directory: 100 identical calls split across them run the effect once", async () => {
    const command = await childCommand(CHILD, dir);
    await Promise.all([runChild(command, [dir, "one", "50"]), runChild(command, [dir, "two", "50"])]);
    const effects = (await readFile(join(dir, "effects.log"), "utf8")).trim().split("\n");
    expect(effects.length).toBe(1);
    const one = JSON.parse(await readFile(join(dir, "results-one.json"), "utf8")) as unknown[];
    const two = JSON.parse(await readFile(join(dir, "results-two.json"), "utf8")) as unknown[];
    expect([...one, ...two]).toEqual(Array.from({ length: 100 }, () => ({ receipt: "r-order-x", amount: 7 })));
    expect((await readdir(join(dir, "store"))).filter((f) => f.endsWith(".lock"))).toEqual([]);
  }, 60_000);
});
