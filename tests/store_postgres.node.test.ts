// PostgresStore against a real PostgreSQL (a private cluster started by the
// test, once per file), through both real drivers: pg and postgres.js.
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InvalidArgumentError, StoreError, type Transition } from "../mod.ts";
import { fromPg, fromPostgresJs, PostgresStore, type PostgresStoreOptions, type SqlQuery } from "../adapters/postgres/mod.ts";
import { ManualClock, runStoreConformance } from "../src/testing/mod.ts";
import { reportConformance } from "./_support/conformance.ts";
import { startContender } from "./_support/child_process.ts";
import { type PostgresServer, startPostgres } from "./_support/servers.ts";
import { clockProbe, increment } from "./_support/store_transitions.ts";

const SERVER_START_MS = 60_000;
const SLOW_TEST_MS = 30_000;

/** A query function that counts round trips. */
function counting(query: SqlQuery): SqlQuery & { calls: number } {
  const counted = Object.assign((sql: string, params: unknown[]) => {
    counted.calls++;
    return query(sql, params);
  }, { calls: 0 });
  return counted;
}

interface Connection {
  readonly query: SqlQuery;
  close(): Promise<void>;
}

/** How each real driver connects; `childKind` is its name for the contender process. */
const DRIVERS = [
  {
    name: "pg",
    childKind: "postgres-pg",
    connect(url: string): Connection {
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      pool.on("error", () => {}); // idle connections drop in the restart test
      return { query: fromPg(pool), close: () => pool.end().catch(() => undefined) };
    },
  },
  {
    name: "postgres.js",
    childKind: "postgres-js",
    connect(url: string): Connection {
      const sql = postgres(url, { max: 10, onnotice: () => {} });
      return { query: fromPostgresJs(sql), close: () => sql.end({ timeout: 1 }).catch(() => undefined) };
    },
  },
] as const;

let server: PostgresServer | undefined;
/** A connection for the checks the store cannot make (the raw rows, a lock held). */
let admin: pg.Client | undefined;
beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Client({ connectionString: server.url });
  admin.on("error", () => {});
  await admin.connect();
}, SERVER_START_MS);
afterAll(async () => {
  await admin?.end().catch(() => undefined);
  await server?.close();
}, SERVER_START_MS);

let tables = 0;
/** A fresh table per test (created on first use), so tests sharing the server never see each other's rows. */
function freshTable(): string {
  return `t${++tables}_${Math.random().toString(36).slice(2, 8)}`;
}

for (const driver of DRIVERS) {
  describe(`PostgresStore via ${driver.name}`, () => {
    let a: Connection;
    let b: Connection;
    const store = (connection: Connection, options: Partial<PostgresStoreOptions> = {}) =>
      new PostgresStore({ query: connection.query, timeoutMs: 5_000, ...options });

    beforeAll(() => {
      a = driver.connect(server!.url);
      b = driver.connect(server!.url);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it(`conformance[postgres/${driver.name}] passes the Store conformance suite on the real server`, async () => {
      const never = () => new Promise<{ rows: [] }>(() => {});
      const table = freshTable();
      const report = reportConformance(
        `postgres/${driver.name}`,
        await runStoreConformance(() => store(a, { table }), {
          // Real time on a loaded machine: a TTL long enough for three round trips before the first read.
          ttlMs: 400,
          // A driver whose server never answers, for the timeout and abort checks.
          makeHangingStore: () => new PostgresStore({ query: never, timeoutMs: 100 }),
        }),
      );
      expect(report.failed.map((f) => `${f.name}: ${String(f.error)}`)).toEqual([]);
      expect(report.skipped).toEqual([]);
      expect(report.passed.length).toBeGreaterThanOrEqual(21);
    }, SLOW_TEST_MS);

    it("creates its table on first use; round-trips values; versions change on every write; delete reports a live entry", async () => {
      const table = freshTable();
      const s = store(a, { table });
      const first = await s.set("k", { nested: [1, "é😀", null, { deep: true }], big: 2 ** 53 - 1, tiny: 1e-300 });
      expect(await s.get("k")).toEqual(first);
      const second = await s.set("k", first.value);
      expect(second.version).not.toBe(first.version);
      expect(await s.delete("k")).toBe(true);
      expect(await s.delete("k")).toBe(false);
      expect(await s.get("k")).toBeUndefined();
      const { rows } = await admin!.query("SELECT to_regclass($1)::text AS t", [table]);
      expect(rows[0].t).toBe(table);
    });

    it("50 operations on a missing table at once: one migration, every operation succeeds", async () => {
      const table = freshTable();
      const stores = [store(a, { table }), store(b, { table })];
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 2]!.set(`k${i}`, i)));
      expect(results).toHaveLength(50);
      expect((await stores[1]!.get("k49"))?.value).toBe(49);
    }, SLOW_TEST_MS);

    it("50 concurrent insertIfAbsent from two pools: exactly one winner, every loser sees it", async () => {
      const table = freshTable();
      const stores = [store(a, { table }), store(b, { table })];
      await stores[0]!.migrate();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => stores[i % 2]!.insertIfAbsent("claim", { by: i })),
      );
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const won = winners[0]!.ok ? winners[0]!.entry : undefined;
      for (const r of results) if (!r.ok) expect(r.current).toEqual(won);
      expect(await stores[1]!.get("claim")).toEqual(won);
    }, SLOW_TEST_MS);

    it("50 concurrent compareAndSet on one version from two pools: exactly one winner, every loser sees it", async () => {
      const table = freshTable();
      const stores = [store(a, { table }), store(b, { table })];
      const base = await stores[0]!.set("cas", 0);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => stores[i % 2]!.compareAndSet("cas", base.version, i + 1)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const winner = results.find((r) => r.ok);
      const won = winner?.ok ? winner.entry : undefined;
      expect(await stores[0]!.get("cas")).toEqual(won);
      for (const r of results) if (!r.ok) expect(r.current).toEqual(won);
      expect((await stores[0]!.compareAndSet("missing", base.version, 1)).ok).toBe(false);
      expect((await stores[0]!.compareAndSet("cas", "not-a-version", 1)).ok).toBe(false);
    }, SLOW_TEST_MS);

    it("expires on the server's clock: invisible after the TTL, overwritten in place, purged on request", async () => {
      const table = freshTable();
      const s = store(a, { table });
      // Long enough for the checks before it lapses on a loaded machine.
      await s.set("short", "x", { ttlMs: 500 });
      await s.set("kept", 1, { ttlMs: 60_000 });
      await s.set("kept", 2);
      expect((await s.get("short"))?.value).toBe("x");
      expect((await s.get("kept"))?.expiresAt).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(await s.get("short")).toBeUndefined();
      expect(await s.delete("short")).toBe(false);
      await s.set("short", "x", { ttlMs: 50 });
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await s.insertIfAbsent("short", "y")).ok).toBe(true);
      expect((await s.get("short"))?.value).toBe("y");
      await s.set("gone", 1, { ttlMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await s.purgeExpired()).toBe(1);
      const { rows } = await admin!.query(`SELECT key FROM "${table}" ORDER BY key`);
      expect(rows.map((row) => row.key)).toEqual(["bulwark:kept", "bulwark:short"]);
    });

    it("takes the server's now(): expiresAt and update()'s nowMs ignore a client clock stuck at 0", async () => {
      const s = store(a, { table: freshTable(), clock: new ManualClock() });
      const { rows } = await admin!.query("SELECT floor(extract(epoch from now()) * 1000)::text AS now");
      const serverNow = Number(rows[0].now);
      expect(Math.abs((await s.update("probe", clockProbe, null)) - serverNow)).toBeLessThan(2_000);
      await s.set("t", 1, { ttlMs: 60_000 });
      expect(Math.abs((await s.get("t"))!.expiresAt! - (serverNow + 60_000))).toBeLessThan(2_000);
    });

    it("update(): 50 concurrent increments from two processes sum exactly", async () => {
      const table = "bulwark_store"; // the child uses the default table
      const prefix = `${freshTable()}:`;
      const s = store(a, { table, prefix, timeoutMs: 20_000 });
      await s.migrate();
      const child = await startContender([driver.childKind, server!.url, "counter", "25", prefix]);
      child.go();
      await Promise.all([child.done, ...Array.from({ length: 25 }, () => s.update("counter", increment, 1))]);
      expect((await s.get("counter"))?.value).toBe(50);
    }, SLOW_TEST_MS);

    it("update(): two round trips uncontended, one when nothing is written; a transition that deletes", async () => {
      const query = counting(a.query);
      const s = new PostgresStore({ query, table: freshTable() });
      await s.migrate();
      query.calls = 0;
      expect(await s.update("n", increment, 5)).toBe(5);
      expect(query.calls).toBe(2);
      query.calls = 0;
      await s.update("n", clockProbe, null);
      expect(query.calls).toBe(2); // read, then the delete clockProbe asks for
      expect(await s.get("n")).toBeUndefined();
      query.calls = 0;
      await s.update("n", clockProbe, null);
      expect(query.calls).toBe(1); // nothing to delete
      const remove: Transition<null, string> = { name: "test.remove", apply: () => ({ next: undefined, output: "kept" }) };
      expect(await s.update("absent", remove, null)).toBe("kept");
    });

    it("a table dropped behind its back is created again on the next use", async () => {
      const table = freshTable();
      const s = store(a, { table });
      await s.set("k", 1);
      await admin!.query(`DROP TABLE "${table}"`);
      expect(await s.get("k")).toBeUndefined();
      await s.set("k", 2);
      expect((await s.get("k"))?.value).toBe(2);
    });

    it("migrate: \"manual\" never creates the table: StoreError until migrate() is called", async () => {
      const s = store(a, { table: freshTable(), migrate: "manual" });
      const error = await s.get("k").then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreError);
      expect(((error as StoreError).cause as { code?: string }).code).toBe("42P01");
      await s.migrate();
      await s.migrate(); // idempotent
      await s.set("k", 1);
      expect((await s.get("k"))?.value).toBe(1);
    });

    it("nothing waits past timeoutMs while the table is locked", async () => {
      const table = freshTable();
      const s = store(a, { table, timeoutMs: 200 });
      await s.set("k", 1);
      await admin!.query("BEGIN");
      await admin!.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
      let errors: unknown[];
      const started = Date.now();
      try {
        errors = await Promise.all(
          [s.get("k"), s.set("k", 2), s.insertIfAbsent("j", 1), s.update("k", increment, 1)].map((p) =>
            p.then(() => undefined, (error: unknown) => error)
          ),
        );
      } finally {
        await admin!.query("COMMIT");
      }
      const elapsed = Date.now() - started;
      for (const error of errors) {
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).code).toBe("ERR_STORE_TIMEOUT");
      }
      expect(elapsed).toBeLessThan(900);
      expect((await s.get("k"))?.value).toBeGreaterThanOrEqual(1);
    }, SLOW_TEST_MS);

    it("an aborted signal rejects with its reason; bad input fails before any I/O", async () => {
      const query = counting(a.query);
      const s = new PostgresStore({ query, table: freshTable(), maxKeyBytes: 64, maxValueBytes: 32 });
      const controller = new AbortController();
      const reason = new Error("stop");
      controller.abort(reason);
      await expect(s.get("k", { signal: controller.signal })).rejects.toBe(reason);
      await expect(s.set("k".repeat(100), 1)).rejects.toMatchObject({ code: "ERR_STORE_LIMIT", limit: 64 });
      await expect(s.set("k", "v".repeat(100))).rejects.toMatchObject({ code: "ERR_STORE_LIMIT", limit: 32 });
      await expect(s.get(42 as unknown as string)).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(query.calls).toBe(0);
    });

    it("a key with U+0000 (which text cannot hold) fails with ERR_STORE; in a value it is escaped and fine", async () => {
      const s = store(a, { table: freshTable() });
      await expect(s.set("a\u0000b", 1)).rejects.toMatchObject({ code: "ERR_STORE" });
      await s.set("nul", "a\u0000b");
      expect((await s.get("nul"))?.value).toBe("a\u0000b");
    });
  });
}

describe("PostgresStore options", () => {
  const query: SqlQuery = () => Promise.resolve({ rows: [] });

  it("names every bad field, its own and the common ones, in one ConfigError; the table name must be an identifier", () => {
    let error: unknown;
    try {
      new PostgresStore({ query: "nope" as unknown as SqlQuery, table: 'x"; DROP TABLE users; --', migrate: "always" as "manual", prefix: 1 as unknown as string });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.field).sort()).toEqual(["migrate", "prefix", "query", "table"]);
    for (const table of ["1abc", "a-b", "a.b.c", "x".repeat(52), ""]) {
      expect(() => new PostgresStore({ query, table })).toThrow(ConfigError);
    }
    for (const table of ["state", "app.state", "_x9", "x".repeat(51)]) {
      expect(new PostgresStore({ query, table }).table).toBe(table);
    }
  });

  it("refuses a non-object where the options belong", () => {
    expect(() => new PostgresStore(null as unknown as PostgresStoreOptions)).toThrow(InvalidArgumentError);
  });
});

describe("PostgresStore when the server goes away", () => {
  for (const driver of DRIVERS) {
    it(`via ${driver.name}: StoreError while it is down, working again after a restart`, async () => {
      const connection = driver.connect(server!.url);
      try {
        const s = new PostgresStore({ query: connection.query, table: freshTable(), timeoutMs: 1_000 });
        await s.set("k", 1);
        await server!.stop();
        const error = await s.get("k").then(() => undefined, (caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreError);
        await server!.start();
        const deadline = Date.now() + 10_000;
        let read: unknown;
        while (read === undefined && Date.now() < deadline) {
          read = await s.get("k").catch(() => undefined);
          if (read === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(read).toMatchObject({ value: 1 });
      } finally {
        await connection.close();
        // The admin connection died with the server.
        admin = new pg.Client({ connectionString: server!.url });
        admin.on("error", () => {});
        await admin.connect();
      }
    }, SLOW_TEST_MS);
  }
});
