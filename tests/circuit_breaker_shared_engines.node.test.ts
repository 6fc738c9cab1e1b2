// Shared circuit breakers across two processes (issue 9), on a real
// redis-server and a real PostgreSQL (each started for this file): this
// process and a child (tests/_support/breaker_fleet_child.ts) each hold an
// instance of one breaker on the same server. Real time: the breakers
// refresh every 200 ms and probe 1.5 s after opening.
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../mod.ts";
import { fromPg, PostgresStore } from "../adapters/postgres/mod.ts";
import { fromIoRedis, RedisStore } from "../adapters/redis/mod.ts";
import { type Contender, startContender } from "./_support/child_process.ts";
import { burst, callDependency, fleetBreaker, hits, REFRESH_MS, RESET_TIMEOUT_MS, sleep } from "./_support/breaker_fleet.ts";
import { type PostgresServer, type RedisServer, startPostgres, startRedis } from "./_support/servers.ts";

const SERVER_START_MS = 60_000;
const SLOW_TEST_MS = 60_000;

let redis: RedisServer | undefined;
let redisClient: Redis | undefined;
let postgres: PostgresServer | undefined;
let pool: pg.Pool | undefined;

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  redisClient = new Redis(redis.url, { lazyConnect: true });
  redisClient.on("error", () => {});
  await redisClient.connect();
  pool = new pg.Pool({ connectionString: postgres.url, max: 20 });
  pool.on("error", () => {});
}, SERVER_START_MS);
afterAll(async () => {
  redisClient?.disconnect();
  await pool?.end();
  await Promise.all([redis?.close(), postgres?.close()]);
}, SERVER_START_MS);

/** Resolves once `child` printed `marker` (30 s at most). */
async function printed(child: Contender, marker: RegExp): Promise<RegExpExecArray> {
  const start = Date.now();
  for (;;) {
    const found = marker.exec(child.output);
    if (found !== null) return found;
    if (Date.now() - start > 30_000) throw new Error(`child never printed ${marker}:\n${child.output}`);
    await sleep(10);
  }
}

const engines: Record<string, { kind: string; url: () => string; store: (prefix: string) => Store }> = {
  "redis-server (ioredis)": {
    kind: "redis-io",
    url: () => redis!.url,
    store: (prefix) => new RedisStore({ client: fromIoRedis(redisClient!), prefix, timeoutMs: 30_000 }),
  },
  "PostgreSQL (pg)": {
    kind: "postgres-pg",
    url: () => postgres!.url,
    store: (prefix) => new PostgresStore({ query: fromPg(pool!), prefix, timeoutMs: 30_000 }),
  },
};

for (const [engine, { kind, url, store: makeStore }] of Object.entries(engines)) {
  describe(`shared circuit breakers in two processes on ${engine}`, () => {
    it("tripped in the other process: open here within the refresh interval; in half-open, 200 concurrent calls across both make exactly one probe", async () => {
      const prefix = `fleet-${kind}-${Date.now()}:`;
      const store = makeStore(prefix);
      // The table (PostgreSQL) exists before either process races to create it.
      await store.get("warm-up");
      const breaker = fleetBreaker(store);
      expect(await callDependency(breaker, store)).toBe("ran");
      const child = await startContender([kind, url(), prefix], "breaker_fleet_child.ts");
      child.go();
      expect((await printed(child, /tripped:(\w+)/))[1]).toBe("open");
      const tripped = Date.now();
      let seenAfterMs = -1;
      while (Date.now() - tripped < 5_000) {
        if ((await callDependency(breaker, store)) === "refused") {
          seenAfterMs = Date.now() - tripped;
          break;
        }
        await sleep(10);
      }
      console.log(`bulwark-propagation ${kind}: open seen by the other process after ${seenAfterMs} ms (refreshMs ${REFRESH_MS})`);
      expect(seenAfterMs).toBeGreaterThanOrEqual(0);
      expect(seenAfterMs).toBeLessThan(REFRESH_MS + 1_000);
      expect(breaker.state).toBe("open");

      await sleep(RESET_TIMEOUT_MS);
      const before = await hits(store);
      child.go();
      let answeredHere = 0;
      const here = burst(breaker, store, 100, (answered) => (answeredHere = answered));
      // Release the probe once every other call (of both processes) was answered.
      const start = Date.now();
      while (Date.now() - start < 30_000) {
        const there = Number(/answered:(\d+)\n(?![\s\S]*answered:)/.exec(child.output)?.[1] ?? 0);
        if (answeredHere + there >= 199) break;
        await sleep(10);
      }
      await store.set("release", true);
      const [mine] = await Promise.all([here, child.done]);
      const theirs = JSON.parse((await printed(child, /results:(.*)\n/))[1]!) as { ran: number; refused: number };
      const probes = (await hits(store)) - before;
      console.log(`bulwark-probes ${kind}: ${probes} of 200 concurrent half-open calls reached the dependency`);
      expect(probes).toBe(1);
      expect(mine.ran + theirs.ran).toBe(1);
      expect(mine.refused + theirs.refused).toBe(199);
    }, SLOW_TEST_MS);
  });
}
