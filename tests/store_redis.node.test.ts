// RedisStore against a real redis-server (started by the test, once per
// file), through both real clients: node-redis and ioredis.
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InvalidArgumentError, StoreError, type Transition } from "../mod.ts";
import {
  fromIoRedis,
  fromNodeRedis,
  type RedisScriptClient,
  RedisStore,
  type RedisStoreOptions,
  redisTransitionPort,
} from "../adapters/redis/mod.ts";
import { ManualClock, runStoreConformance } from "../src/testing/mod.ts";
import { reportConformance } from "./_support/conformance.ts";
import { startContender } from "./_support/child_process.ts";
import { type RedisServer, startRedis } from "./_support/servers.ts";
import { clockProbe, increment } from "./_support/store_transitions.ts";

const SERVER_START_MS = 30_000;
const SLOW_TEST_MS = 30_000;

/** A client wrapper that counts round trips (script calls) and EVAL fallbacks. */
function counting(client: RedisScriptClient): RedisScriptClient & { calls: number; evals: number } {
  const counted = {
    calls: 0,
    evals: 0,
    evalsha: (sha1: string, keys: string[], args: string[]) => {
      counted.calls++;
      return client.evalsha(sha1, keys, args);
    },
    eval: (script: string, keys: string[], args: string[]) => {
      counted.calls++;
      counted.evals++;
      return client.eval(script, keys, args);
    },
  };
  return counted;
}

interface Connection {
  readonly client: RedisScriptClient;
  /** A raw command, for the checks the store cannot make (PTTL, SCRIPT FLUSH, CLIENT PAUSE). */
  command(...args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

/** How each real client connects; `childKind` is its name for the contender process. */
const CLIENTS = [
  {
    name: "node-redis",
    childKind: "redis-node",
    async connect(url: string): Promise<Connection> {
      const client = createClient({ url, socket: { reconnectStrategy: () => 50 } });
      client.on("error", () => {}); // reconnects are expected in the restart test
      await client.connect();
      return {
        client: fromNodeRedis(client),
        command: (...args) => client.sendCommand(args),
        close: async () => void (await client.disconnect().catch(() => undefined)),
      };
    },
  },
  {
    name: "ioredis",
    childKind: "redis-io",
    async connect(url: string): Promise<Connection> {
      const client = new Redis(url, { retryStrategy: () => 50, lazyConnect: true });
      client.on("error", () => {});
      await client.connect();
      return {
        client: fromIoRedis(client),
        command: (name, ...args) => client.call(name!, ...args),
        close: async () => void client.disconnect(),
      };
    },
  },
] as const;

let server: RedisServer | undefined;
beforeAll(async () => {
  server = await startRedis();
}, SERVER_START_MS);
afterAll(async () => {
  await server?.close();
}, SERVER_START_MS);

let prefixes = 0;
/** A fresh prefix per test, so tests sharing the server never see each other's keys. */
function freshPrefix(): string {
  return `t${++prefixes}:${Math.random().toString(36).slice(2, 8)}:`;
}

for (const kind of CLIENTS) {
  describe(`RedisStore via ${kind.name}`, () => {
    let a: Connection;
    let b: Connection;
    const store = (connection: Connection, options: Partial<RedisStoreOptions> = {}) =>
      new RedisStore({ client: connection.client, timeoutMs: 5_000, ...options });

    beforeAll(async () => {
      a = await kind.connect(server!.url);
      b = await kind.connect(server!.url);
    }, SERVER_START_MS);
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it(`conformance[redis/${kind.name}] passes the Store conformance suite on the real server`, async () => {
      const never = () => new Promise<unknown>(() => {});
      const report = reportConformance(
        `redis/${kind.name}`,
        await runStoreConformance(() => store(a, { prefix: "conformance:" }), {
          // Real time on a loaded machine: a TTL long enough for three round trips before the first read.
          ttlMs: 400,
          // A client whose server never answers, for the timeout and abort checks.
          makeHangingStore: () => new RedisStore({ client: { evalsha: never, eval: never }, timeoutMs: 100 }),
        }),
      );
      expect(report.failed.map((f) => `${f.name}: ${String(f.error)}`)).toEqual([]);
      expect(report.skipped).toEqual([]);
      expect(report.passed.length).toBeGreaterThanOrEqual(21);
    }, SLOW_TEST_MS);

    it("round-trips values, versions change on every write, delete reports a live entry", async () => {
      const s = store(a, { prefix: freshPrefix() });
      const first = await s.set("k", { nested: [1, "é😀", null, { deep: true }] });
      expect(await s.get("k")).toEqual(first);
      const second = await s.set("k", { nested: [1, "é😀", null, { deep: true }] });
      expect(second.version).not.toBe(first.version);
      expect(await s.delete("k")).toBe(true);
      expect(await s.delete("k")).toBe(false);
      expect(await s.get("k")).toBeUndefined();
    });

    it("50 concurrent insertIfAbsent from two connections: exactly one winner, every loser sees it", async () => {
      const prefix = freshPrefix();
      const stores = [store(a, { prefix }), store(b, { prefix })];
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => stores[i % 2]!.insertIfAbsent("claim", { by: i })),
      );
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const won = winners[0]!.ok ? winners[0]!.entry : undefined;
      for (const r of results) if (!r.ok) expect(r.current).toEqual(won);
      expect(await stores[1]!.get("claim")).toEqual(won);
    });

    it("50 concurrent compareAndSet on one version from two connections: exactly one winner", async () => {
      const prefix = freshPrefix();
      const stores = [store(a, { prefix }), store(b, { prefix })];
      const base = await stores[0]!.set("cas", 0);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => stores[i % 2]!.compareAndSet("cas", base.version, i + 1)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const winner = results.find((r) => r.ok);
      expect(await stores[0]!.get("cas")).toEqual(winner?.ok ? winner.entry : "no winner");
    });

    it("expires on the server: PEXPIRE set, key gone from Redis after the TTL", async () => {
      const prefix = freshPrefix();
      const s = store(a, { prefix });
      // Long enough for the checks before it lapses on a loaded machine.
      const written = await s.set("short", "x", { ttlMs: 500 });
      const pttl = Number(await a.command("PTTL", `${prefix}short`));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(500);
      const read = await s.get("short");
      expect(read?.value).toBe("x");
      expect(read?.expiresAt).toBe(written.expiresAt);
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(Number(await a.command("EXISTS", `${prefix}short`))).toBe(0);
      expect(await s.get("short")).toBeUndefined();
      // Expired is absent for the conditional writes too.
      expect((await s.insertIfAbsent("short", "y")).ok).toBe(true);
      // A write without TTL removes the old one (PERSIST).
      await s.set("kept", 1, { ttlMs: 60_000 });
      await s.set("kept", 2);
      expect(Number(await a.command("PTTL", `${prefix}kept`))).toBe(-1);
      expect((await s.get("kept"))?.expiresAt).toBeUndefined();
    });

    it("takes the server's TIME: expiresAt and update()'s nowMs ignore a client clock stuck at 0", async () => {
      const s = store(a, { prefix: freshPrefix(), clock: new ManualClock() });
      const [seconds, micros] = (await a.command("TIME")) as [string, string];
      const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const handed = await s.update("probe", clockProbe, null);
      expect(Math.abs(handed - serverNow)).toBeLessThan(2_000);
      await s.set("t", 1, { ttlMs: 60_000 });
      const read = await s.get("t");
      expect(Math.abs(read!.expiresAt! - (serverNow + 60_000))).toBeLessThan(2_000);
    });

    it("update(): 50 concurrent increments from two processes sum exactly", async () => {
      const prefix = freshPrefix();
      const s = store(a, { prefix, timeoutMs: 20_000 });
      const child = await startContender([kind.childKind, server!.url, "counter", "25", prefix]);
      child.go();
      await Promise.all([
        child.done,
        ...Array.from({ length: 25 }, () => s.update("counter", increment, 1)),
      ]);
      expect((await s.get("counter"))?.value).toBe(50);
    }, SLOW_TEST_MS);

    it("update(): two round trips uncontended; a transition that writes nothing or deletes", async () => {
      const client = counting(a.client);
      const s = new RedisStore({ client, prefix: freshPrefix() });
      await s.get("warm"); // scripts cached
      client.calls = 0;
      expect(await s.update("n", increment, 5)).toBe(5);
      expect(client.calls).toBe(2);
      const remove: Transition<null, string> = { name: "test.remove", apply: () => ({ next: undefined, output: "gone" }) };
      expect(await s.update("n", remove, null)).toBe("gone");
      expect(await s.get("n")).toBeUndefined();
    });

    it("a Lua port runs the transition inside Redis: one round trip, same result as the JavaScript, exact under 50 contenders", async () => {
      const port = redisTransitionPort(increment.name, `
        local next = (type(current) == "number" and current or 0) + input
        return { next = next, output = next }
      `);
      const client = counting(a.client);
      const prefix = freshPrefix();
      const ported = new RedisStore({ client, prefix, ports: [port] });
      const plain = store(b, { prefix });
      expect(ported.hasPort(increment.name)).toBe(true);
      expect(plain.hasPort(increment.name)).toBe(false);
      await ported.update("n", increment, 1); // cached from here on
      client.calls = 0;
      expect(await ported.update("n", increment, 2)).toBe(3);
      expect(client.calls).toBe(1);
      expect(await plain.update("n", increment, 2)).toBe(5);
      await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? ported : plain).update("n", increment, 1)));
      expect((await plain.get("n"))?.value).toBe(55);
    });

    it("falls back to EVAL on NOSCRIPT (script cache flushed), then uses EVALSHA again", async () => {
      const client = counting(a.client);
      const s = new RedisStore({ client, prefix: freshPrefix() });
      await s.set("k", 1);
      await a.command("SCRIPT", "FLUSH");
      client.calls = 0;
      client.evals = 0;
      expect((await s.get("k"))?.value).toBe(1);
      expect(client.evals).toBe(1);
      expect(client.calls).toBe(2); // EVALSHA answered NOSCRIPT, EVAL ran it
      expect((await s.get("k"))?.value).toBe(1);
      expect(client.evals).toBe(1);
    });

    it("nothing waits past timeoutMs while the server is paused (CLIENT PAUSE)", async () => {
      const s = store(a, { prefix: freshPrefix(), timeoutMs: 200 });
      await s.set("k", 1);
      // Every client, the pausing one included, waits until the pause ends.
      await b.command("CLIENT", "PAUSE", "1000", "ALL");
      {
        const started = Date.now();
        const errors = await Promise.all(
          [s.get("k"), s.set("k", 2), s.insertIfAbsent("j", 1), s.update("k", increment, 1)].map((p) =>
            p.then(() => undefined, (error: unknown) => error)
          ),
        );
        const elapsed = Date.now() - started;
        for (const error of errors) {
          expect(error).toBeInstanceOf(StoreError);
          expect((error as StoreError).code).toBe("ERR_STORE_TIMEOUT");
          expect((error as StoreError).timeoutMs).toBe(200);
        }
        expect(elapsed).toBeLessThan(900);
      }
      await b.command("PING"); // answered when the pause is over
      expect((await s.get("k"))?.value).toBeGreaterThanOrEqual(1);
    }, SLOW_TEST_MS);

    it("calls started 0, 100 and 200 ms into a pause each fail timeoutMs after their own start, never before", async () => {
      const s = store(a, { prefix: freshPrefix(), timeoutMs: 300 });
      await s.set("k", 1);
      await b.command("CLIENT", "PAUSE", "1000", "ALL");
      const after = (delayMs: number) =>
        new Promise((resolve) => setTimeout(resolve, delayMs)).then(() => {
          const started = performance.now();
          return s.update("k", increment, 1).then(
            () => "answered",
            (error: unknown) => ({ code: (error as StoreError).code, elapsedMs: performance.now() - started }),
          );
        });
      const outcomes = await Promise.all([after(0), after(100), after(200)]);
      for (const outcome of outcomes) {
        expect(outcome).toMatchObject({ code: "ERR_STORE_TIMEOUT" });
        const { elapsedMs } = outcome as { elapsedMs: number };
        expect(elapsedMs).toBeGreaterThanOrEqual(299.9);
        expect(elapsedMs).toBeLessThan(900);
      }
      // The pause over, the late answers are discarded and the store answers again.
      await b.command("PING");
      expect((await s.get("k"))?.value).toBeGreaterThanOrEqual(1);
    }, SLOW_TEST_MS);

    it("an aborted signal rejects with its reason; bad input fails before any I/O", async () => {
      const client = counting(a.client);
      const s = new RedisStore({ client, prefix: freshPrefix(), maxKeyBytes: 64, maxValueBytes: 32 });
      const controller = new AbortController();
      const reason = new Error("stop");
      controller.abort(reason);
      await expect(s.get("k", { signal: controller.signal })).rejects.toBe(reason);
      await expect(s.set("k".repeat(100), 1)).rejects.toMatchObject({ code: "ERR_STORE_LIMIT", limit: 64 });
      await expect(s.set("k", "v".repeat(100))).rejects.toMatchObject({ code: "ERR_STORE_LIMIT", limit: 32 });
      await expect(s.get(42 as unknown as string)).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(client.calls).toBe(0);
    });
  });
}

describe("RedisStore options", () => {
  const client: RedisScriptClient = { evalsha: () => Promise.resolve("N"), eval: () => Promise.resolve("N") };

  it("names every bad field, its own and the common ones, in one ConfigError", () => {
    let error: unknown;
    try {
      new RedisStore({ client: {} as RedisScriptClient, maxValueBytes: 0, timeoutMs: -1 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.field).sort()).toEqual(["client", "maxValueBytes", "timeoutMs"]);
  });

  it("refuses a non-object where the options belong", () => {
    expect(() => new RedisStore(42 as unknown as RedisStoreOptions)).toThrow(InvalidArgumentError);
  });

  it("an unreadable reply is a StoreError with the reply in its message", async () => {
    const s = new RedisStore({ client: { evalsha: () => Promise.resolve(7), eval: () => Promise.resolve(7) } });
    await expect(s.get("k")).rejects.toMatchObject({ code: "ERR_STORE", message: expect.stringContaining("unexpected reply") });
    expect(await new RedisStore({ client }).get("k")).toBeUndefined();
  });
});

describe("RedisStore when the server goes away", () => {
  for (const kind of CLIENTS) {
    it(`via ${kind.name}: StoreError while it is down, working again after a restart`, async () => {
      const connection = await kind.connect(server!.url);
      try {
        const s = new RedisStore({ client: connection.client, prefix: freshPrefix(), timeoutMs: 300 });
        await s.set("k", 1);
        await server!.stop();
        const error = await s.get("k").then(() => undefined, (caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreError);
        await server!.start();
        // The client reconnects on its own; the restarted server has no scripts cached (NOSCRIPT path).
        const deadline = Date.now() + 10_000;
        let written: unknown;
        while (written === undefined && Date.now() < deadline) {
          written = await s.set("k", 2).catch(() => undefined);
          if (written === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect((await s.get("k"))?.value).toBe(2);
      } finally {
        await connection.close();
      }
    }, SLOW_TEST_MS);
  }
});
