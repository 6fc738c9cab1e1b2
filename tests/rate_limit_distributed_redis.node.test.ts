// Distributed rate limits on a real redis-server (started once for this
// file), through ioredis: every decision one EVALSHA of a Lua port, on
// Redis' TIME; 200 concurrent calls admit exactly the limit, from one
// process and from two.
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DistributedRateLimiter, type Json, RATE_LIMIT_TRANSITIONS, UNCHANGED } from "../mod.ts";
import { fromIoRedis, RATE_LIMIT_PORTS, RedisScript, type RedisScriptClient, RedisStore } from "../adapters/redis/mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { startContender } from "./_support/child_process.ts";
import { admittedOf, algorithmsWithLimit, label } from "./_support/distributed_limit_scenarios.ts";
import { type RedisServer, startRedis } from "./_support/servers.ts";

const SERVER_START_MS = 30_000;
const SLOW_TEST_MS = 60_000;

let server: RedisServer | undefined;
let client: Redis | undefined;
let unique = 0;
const freshPrefix = () => `rl${unique++}:`;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url, { lazyConnect: true });
  client.on("error", () => {});
  await client.connect();
}, SERVER_START_MS);
afterAll(async () => {
  client?.disconnect();
  await server?.close();
}, SERVER_START_MS);

/** The ioredis client, with every command it sends counted. */
function counting(): { client: RedisScriptClient; calls: string[] } {
  const inner = fromIoRedis(client!);
  const calls: string[] = [];
  return {
    calls,
    client: {
      evalsha: (sha1, keys, args) => (calls.push("EVALSHA"), inner.evalsha(sha1, keys, args)),
      eval: (script, keys, args) => (calls.push("EVAL"), inner.eval(script, keys, args)),
    },
  };
}

const store = (prefix = freshPrefix(), redis: RedisScriptClient = fromIoRedis(client!)) =>
  new RedisStore({ client: redis, prefix, timeoutMs: 20_000 });

describe("DistributedRateLimiter on RedisStore (real redis-server, ioredis)", () => {
  for (const options of algorithmsWithLimit(50)) {
    it(`${label(options)}: 200 concurrent calls admit exactly the limit, one EVALSHA each`, async () => {
      const { client: redis, calls } = counting();
      expect(await admittedOf(store(freshPrefix(), redis), options, "k", 200)).toBe(50);
      expect(calls.filter((call) => call === "EVALSHA")).toHaveLength(200);
      expect(calls.length).toBeLessThanOrEqual(201); // one EVAL when the script was not cached yet
    }, SLOW_TEST_MS);
  }

  it("decides like the TypeScript algorithm: the state Redis holds is the one it would hold, and refusals say how long", async () => {
    const shared = store();
    const cases = [
      { algorithm: "fixed-window", limit: 3, windowMs: 3_600_000 },
      { algorithm: "sliding-window", limit: 3, windowMs: 3_600_000 },
      { algorithm: "sliding-window", limit: 3, windowMs: 3_600_000, approximate: true },
      { algorithm: "token-bucket", rate: 3, perMs: 3_600_000 },
      { algorithm: "gcra", rate: 3, perMs: 3_600_000 },
    ] as const;
    for (const options of cases) {
      const limiter = new DistributedRateLimiter({ ...options, store: shared, name: label(options), maxBlockedKeys: 0 });
      const decisions = [];
      for (let i = 0; i < 4; i++) decisions.push(await limiter.limit("k"));
      const refusal = decisions[3]!;
      // The state is the TypeScript algorithm's shape, readable with get().
      const held = (await shared.get(`rl:${label(options)}:k`))?.value as Record<string, unknown>;
      expect({
        name: label(options),
        allowed: decisions.map((d) => d.allowed),
        remaining: decisions.map((d) => Math.round(d.remaining)),
        // The two-window counter may wait into the next window: at most two.
        retryAfter: refusal.retryAfterMs > 0 && refusal.retryAfterMs <= 2 * 3_600_000,
        reset: refusal.resetMs > 0,
        fields: Object.keys(held).sort(),
      }).toEqual({
        name: label(options),
        allowed: [true, true, true, false],
        remaining: [2, 1, 0, 0],
        retryAfter: true,
        reset: true,
        fields: Object.keys(limiter.algorithm.initial(0)).sort(),
      });
    }
  }, SLOW_TEST_MS);

  it("each Lua port decides and writes exactly what its TypeScript transition does, at the same time (fast-check)", async () => {
    // Test copies of the ports that take TIME from the last two ARGV instead of the server.
    const ports = RATE_LIMIT_PORTS.map((port) => {
      const source = port.script.source.replace("redis.call('TIME')", "{ ARGV[#ARGV - 1], ARGV[#ARGV] }");
      expect(source).not.toBe(port.script.source);
      return { ...port, script: new RedisScript(source) };
    });
    const small: Record<string, (cost: number) => Json> = {
      "bulwark.rate-limit.fixed-window": (c) => ({ l: 5, w: 1_000, c }),
      "bulwark.rate-limit.sliding-window": (c) => ({ l: 5, w: 1_000, c }),
      "bulwark.rate-limit.sliding-window-counter": (c) => ({ l: 5, w: 1_000, c }),
      "bulwark.rate-limit.token-bucket": (c) => ({ r: 3, p: 700, b: 5, c }),
      "bulwark.rate-limit.gcra": (c) => ({ r: 3, p: 700, b: 5, c }),
    };
    // High limits, the first call (cost 0 here) taking 5e9 units so the key lives long
    // enough on the real server (its TTL is real time): the GCRA's tat near 1.8e17,
    // where a unit is lost below its last bit (the stored tat is written back as it
    // was), the bucket's anchor kept (its stored string written back).
    const huge: Record<string, (cost: number) => Json> = {
      "bulwark.rate-limit.fixed-window": (c) => ({ l: 1e12, w: 60_000, c: c === 0 ? 5e9 : c }),
      "bulwark.rate-limit.sliding-window": (c) => ({ l: 5, w: 1_000, c: c === 0 ? 1 : c }),
      "bulwark.rate-limit.sliding-window-counter": (c) => ({ l: 1e12, w: 60_000, c: c === 0 ? 5e9 : c }),
      "bulwark.rate-limit.token-bucket": (c) => ({ r: 1e8, p: 1_000, b: 1e10, c: c === 0 ? 5e9 : c }),
      "bulwark.rate-limit.gcra": (c) => ({ r: 1e8, p: 1_000, b: 1e10, c: c === 0 ? 5e9 : c }),
    };
    // The exact log's ring, as the times it holds (the TypeScript step grows it, the port compacts it).
    const comparable = (name: string, state: Json | undefined, now: number): unknown => {
      if (name !== "bulwark.rate-limit.sliding-window" || state === undefined) return state;
      const ring = state as { times: number[]; head: number; size: number };
      return Array.from({ length: ring.size }, (_, i) => ring.times[(ring.head + i) % ring.times.length]!).filter((t) => t > now - 1_000);
    };
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ gap: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 900 })), cost: fc.integer({ min: 1, max: 5 }) }),
          { minLength: 1, maxLength: 25 },
        ),
        fc.boolean(),
        async (drawn, atHugeLimits) => {
          const inputs = atHugeLimits ? huge : small;
          const calls = atHugeLimits ? [{ gap: 0, cost: 0 }, ...drawn] : drawn;
          run++;
          for (const [i, transition] of RATE_LIMIT_TRANSITIONS.entries()) {
            const port = ports[i]!;
            expect(port.name).toBe(transition.name);
            const key = `equivalence:${run}:${i}`;
            let state: Json | undefined;
            let expiresAt: string | undefined;
            // In the future: the ports give Redis the absolute expiry (PXAT), so a key written at a past time would be gone at once.
            let now = 2_000_000_000_000 + run * 1_000_003;
            for (const { gap, cost } of calls) {
              now += gap;
              const input = inputs[transition.name]!(cost);
              const time = [String(Math.floor(now / 1_000)), String((now % 1_000) * 1_000 + 7)];
              // The cost is left out when it is 1; here the time follows, so it is always given.
              const args = port.args!(input, "v");
              if ((input as { c: number }).c === 1) args.push("1");
              const reply = String(await port.script.run(fromIoRedis(client!), [key], [...args, ...time]));
              const ts = transition.apply(state, input, now);
              if (ts.next !== UNCHANGED) {
                state = ts.next as Json;
                // The store's expiry: the server's now plus the transition's TTL (kept as it was where it would not move).
                expiresAt = String(now + ts.ttlMs!);
              }
              const packed = await client!.get(key);
              const held = packed === null ? undefined : JSON.parse(packed.split("\n").slice(2).join("\n")) as Json;
              expect({
                transition: transition.name,
                now,
                cost,
                allowed: reply[1] === "1",
                output: port.output!(reply, transition, input),
                state: comparable(transition.name, held, now),
                expiresAt: packed?.split("\n")[1],
              }).toEqual({
                transition: transition.name,
                now,
                cost,
                allowed: (ts.output as { a: boolean }).a,
                output: ts.output,
                state: comparable(transition.name, state, now),
                expiresAt,
              });
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  }, SLOW_TEST_MS);

  it("decides right on a key it did not write: the previous release's value, another writer's JSON, no expiry, not JSON", async () => {
    const hour = 3_600_000;
    const cases = [
      { options: { algorithm: "fixed-window", limit: 3, windowMs: hour }, state: (now: number) => ({ window: Math.floor(now / hour), count: 2 }) },
      {
        options: { algorithm: "sliding-window", limit: 3, windowMs: hour, approximate: true },
        state: (now: number) => ({ window: Math.floor(now / hour), previous: 0, current: 2 }),
      },
      { options: { algorithm: "token-bucket", rate: 3, perMs: hour }, state: (now: number) => ({ anchorMs: now, consumed: 2 }) },
      { options: { algorithm: "gcra", rate: 3, perMs: hour }, state: (now: number) => ({ tat: (now * 3) / hour + 2 }) },
    ] as const;
    for (const { options, state } of cases) {
      const prefix = freshPrefix();
      const shared = store(prefix);
      const limiter = new DistributedRateLimiter({ ...options, store: shared, name: label(options), maxBlockedKeys: 0 });
      const key = `${prefix}rl:${label(options)}:k`;
      const [seconds] = await client!.time();
      const now = Number(seconds) * 1_000;
      const json = JSON.stringify(state(now));
      // Two units taken, in each way a key can hold them: one more is admitted, then none.
      const writes = {
        // The layout the previous release's scripts wrote (the same as this one's): version, expiry, JSON.
        previous: () => client!.set(key, `0abc.1\n${now + hour}\n${json}`, "PX", hour),
        // Another writer's JSON (fields in another order), through the store, with and without an expiry.
        reordered: () => shared.set(`rl:${label(options)}:k`, JSON.parse(`{${json.slice(1, -1).split(",").reverse().join(",")}}`), { ttlMs: hour }),
        noExpiry: () => shared.set(`rl:${label(options)}:k`, state(now)),
      };
      for (const [how, write] of Object.entries(writes)) {
        await write();
        const decisions = [await limiter.limit("k"), await limiter.limit("k")];
        const held = await shared.get(`rl:${label(options)}:k`);
        expect({ how, name: label(options), allowed: decisions.map((d) => d.allowed), remaining: Math.round(decisions[0]!.remaining) }).toEqual({
          how,
          name: label(options),
          allowed: [true, false],
          remaining: 0,
        });
        // The admission wrote this release's state, with an expiry on the server too.
        expect(Object.keys(held!.value as object).sort()).toEqual(Object.keys(limiter.algorithm.initial(0)).sort());
        expect(held!.expiresAt).toBeGreaterThan(now);
        expect(await client!.pttl(key)).toBeGreaterThan(0);
      }
      // Not JSON at all: a fresh state, as before.
      await client!.set(key, "0abc.1\n\nnot json");
      expect((await limiter.limit("k")).remaining).toBe(2);
    }
  }, SLOW_TEST_MS);

  it("sends the cost only when it is not 1, and Redis expires each key at exactly the expiresAt it holds", async () => {
    const hour = 3_600_000;
    const cases = [
      { algorithm: "fixed-window", limit: 10, windowMs: hour },
      { algorithm: "sliding-window", limit: 10, windowMs: hour },
      { algorithm: "sliding-window", limit: 10, windowMs: hour, approximate: true },
      { algorithm: "token-bucket", rate: 10, perMs: hour },
      { algorithm: "gcra", rate: 10, perMs: hour },
    ] as const;
    for (const options of cases) {
      const sent: string[][] = [];
      const inner = fromIoRedis(client!);
      const redis: RedisScriptClient = {
        evalsha: (sha1, keys, args) => (sent.push(args), inner.evalsha(sha1, keys, args)),
        eval: (script, keys, args) => (sent.push(args), inner.eval(script, keys, args)),
      };
      const prefix = freshPrefix();
      const limiter = new DistributedRateLimiter({ ...options, store: store(prefix, redis), name: label(options), maxBlockedKeys: 0 });
      const numbers = options.algorithm === "fixed-window" || options.algorithm === "sliding-window" ? 2 : 3;
      const key = `${prefix}rl:${label(options)}:k`;
      for (const cost of [1, 1, 3, 1]) {
        sent.length = 0;
        expect((await limiter.limit("k", { cost })).allowed).toBe(true);
        // The version, the algorithm's numbers, then the cost unless it is 1.
        expect({ name: label(options), cost, args: sent[0]!.length, last: sent[0]!.at(-1) }).toEqual({
          name: label(options),
          cost,
          args: 1 + numbers + (cost === 1 ? 0 : 1),
          last: cost === 1 ? sent[0]![numbers] : "3",
        });
        // SET ... PXAT / KEEPTTL: Redis' own expiry is the stored one to the millisecond.
        const stored = (await client!.get(key))!.split("\n")[1];
        expect({ name: label(options), cost, expiry: String(await client!.call("PEXPIRETIME", key)) }).toEqual({ name: label(options), cost, expiry: stored });
      }
    }
  }, SLOW_TEST_MS);

  it("replenishes on Redis' time: a GCRA unit every 50 ms", async () => {
    const limiter = new DistributedRateLimiter({ store: store(), algorithm: "gcra", rate: 20, perMs: 1_000, burst: 1 });
    expect((await limiter.limit("k")).allowed).toBe(true);
    const refused = await limiter.limit("k");
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(50);
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 5));
    expect((await limiter.limit("k")).allowed).toBe(true);
  }, SLOW_TEST_MS);

  it("runs the script again with EVAL when Redis lost it (NOSCRIPT after SCRIPT FLUSH)", async () => {
    const { client: redis, calls } = counting();
    const limiter = new DistributedRateLimiter({ store: store(freshPrefix(), redis), algorithm: "fixed-window", limit: 5, windowMs: 60_000 });
    await limiter.limit("k");
    await client!.script("FLUSH");
    calls.length = 0;
    expect(await limiter.limit("k")).toMatchObject({ allowed: true, remaining: 3, source: "store" });
    expect(calls).toEqual(["EVALSHA", "EVAL"]);
    calls.length = 0;
    await limiter.limit("k");
    expect(calls).toEqual(["EVALSHA"]);
  }, SLOW_TEST_MS);

  it("clients whose clocks are an hour apart agree: Redis' TIME decides", async () => {
    const prefix = freshPrefix();
    const options = { algorithm: "fixed-window" as const, limit: 4, windowMs: 60_000, maxBlockedKeys: 0 };
    const ahead = new DistributedRateLimiter({ ...options, store: new RedisStore({ client: fromIoRedis(client!), prefix, clock: new ManualClock({ wallNow: Date.now() + 3_600_000 }) }) });
    const behind = new DistributedRateLimiter({ ...options, store: new RedisStore({ client: fromIoRedis(client!), prefix, clock: new ManualClock({ wallNow: Date.now() - 3_600_000 }) }) });
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await ahead.limit("k"), await behind.limit("k"));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
    expect(Math.abs(decisions[4]!.retryAfterMs - decisions[5]!.retryAfterMs)).toBeLessThan(1_000);
  }, SLOW_TEST_MS);

  it("a stopped server: every call answered by the policy within timeoutMs, nothing unhandled", async () => {
    const lonely = await startRedis();
    const other = new Redis(lonely.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    other.on("error", () => {});
    await other.connect();
    try {
      const limiter = new DistributedRateLimiter({
        store: new RedisStore({ client: fromIoRedis(other), timeoutMs: 20_000 }),
        algorithm: "fixed-window",
        limit: 1,
        windowMs: 60_000,
        timeoutMs: 300,
        onStoreError: "deny",
      });
      expect((await limiter.limit("k")).allowed).toBe(true);
      await lonely.stop();
      const started = performance.now();
      const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.limit("k")));
      expect(performance.now() - started).toBeLessThan(2_000);
      for (const decision of decisions) expect(decision).toMatchObject({ allowed: false, source: "policy" });
      expect(limiter.stats.storeErrors).toBe(20);
    } finally {
      other.disconnect();
      await lonely.close();
    }
  }, SLOW_TEST_MS);

  it("two processes on one server: 2 × 100 concurrent calls admit exactly the limit of 50, for every algorithm", async () => {
    const prefix = freshPrefix();
    const child = await startContender(["redis-io", server!.url, prefix, "50", "100"], "distributed_limit_child.ts");
    const here = store(prefix);
    child.go();
    const [, mine] = await Promise.all([
      child.done,
      Promise.all(algorithmsWithLimit(50).map(async (options) => [label(options), await admittedOf(here, options, label(options), 100)] as const)),
    ]);
    const theirs = JSON.parse(/admitted:(.*)\n/.exec(child.output)![1]!) as Record<string, number>;
    expect(Object.fromEntries(mine.map(([name, count]) => [name, count + theirs[name]!]))).toEqual(
      Object.fromEntries(mine.map(([name]) => [name, 50])),
    );
  }, SLOW_TEST_MS);
});
