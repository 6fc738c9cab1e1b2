// Distributed rate limits on workerd: a real SQLite-backed Durable Object
// (each decision one RPC call, the transition run inside the object on its
// own clock) and local D1 (a compare-and-set loop). 200 concurrent calls
// admit exactly the limit.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { D1Store, DurableObjectStore } from "../adapters/cloudflare/mod.ts";
import { DistributedRateLimiter } from "../mod.ts";
import { CountingStore } from "../src/testing/mod.ts";
import { admittedOf, algorithmsWithLimit, label } from "./_support/distributed_limit_scenarios.ts";

const SLOW_TEST_MS = 60_000;

let unique = 0;
function prefix(): string {
  return `rl${Date.now().toString(36)}${(unique++).toString(36)}:`;
}

const objects = () => env.STATE_OBJECTS;
const database = () => env.STATE_DB;

describe("DistributedRateLimiter on DurableObjectStore (workerd)", () => {
  for (const options of algorithmsWithLimit(50)) {
    it(`${label(options)}: 200 concurrent calls admit exactly the limit, one RPC call each`, async () => {
      const store = new CountingStore(new DurableObjectStore(objects, { prefix: prefix(), timeoutMs: 30_000 }));
      expect(await admittedOf(store, options, "k", 200)).toBe(50);
      expect(store.total).toBe(200);
      expect(store.counts.update).toBe(200);
    }, SLOW_TEST_MS);
  }

  it("a client whose clock is an hour ahead agrees with one an hour behind: the object's clock decides", async () => {
    const p = prefix();
    const skewed = (offsetMs: number) => ({
      now: () => performance.now(),
      wallNow: () => Date.now() + offsetMs,
      sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      schedule: (callback: () => void, ms: number) => {
        const id = setTimeout(callback, ms);
        return () => clearTimeout(id);
      },
    });
    const options = { algorithm: "fixed-window" as const, limit: 4, windowMs: 60_000, maxBlockedKeys: 0 };
    const ahead = new DistributedRateLimiter({ ...options, store: new DurableObjectStore(objects, { prefix: p, clock: skewed(3_600_000) }) });
    const behind = new DistributedRateLimiter({ ...options, store: new DurableObjectStore(objects, { prefix: p, clock: skewed(-3_600_000) }) });
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await ahead.limit("k"), await behind.limit("k"));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
  }, SLOW_TEST_MS);
});

describe("DistributedRateLimiter on D1Store (workerd, local D1)", () => {
  for (const options of algorithmsWithLimit(20)) {
    it(`${label(options)}: 60 concurrent calls admit exactly the limit`, async () => {
      const store = new D1Store(database, { prefix: prefix(), timeoutMs: 30_000 });
      expect(await admittedOf(store, options, "k", 60)).toBe(20);
    }, SLOW_TEST_MS);
  }
});
