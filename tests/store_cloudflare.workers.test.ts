// The Cloudflare stores on the real local engines (workerd through the
// Workers vitest integration: KV, a SQLite-backed Durable Object and D1, as
// bound in wrangler.toml), then what only they do: KV's short TTLs and one
// write per second per key, decisions by name inside the Durable Object,
// exactly one winner among concurrent requests on the atomic stores, and
// stores built at module scope serving concurrent requests.
import { env, runDurableObjectAlarm, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  D1Store,
  type DurableObjectNamespaceLike,
  DurableObjectStore,
  type KvNamespaceLike,
  KvStore,
  LaggingKvNamespace,
  type StateObjectRpc,
} from "../adapters/cloudflare/mod.ts";
import { ConfigError, IdempotencyStore, InvalidArgumentError, StoreError } from "../mod.ts";
import { ManualClock, runStoreConformance, type StoreConformanceReport } from "../src/testing/mod.ts";
import { reportConformance } from "./_support/conformance.ts";
import { skewed } from "./_support/skewed_clock.ts";
import { addTransition, clockTransition, CONFORMANCE_TTL_MS, fillTransition } from "./_support/store_transitions.ts";

/** What `promise` rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

let unique = 0;
/** A prefix no other test uses: the engines' storage is shared by the whole run. */
function prefix(): string {
  return `t${Date.now().toString(36)}${(unique++).toString(36)}:`;
}

/** A KV namespace that records the options of every put. */
function recordingKv(): KvNamespaceLike & { puts: { key: string; options: unknown }[] } {
  const puts: { key: string; options: unknown }[] = [];
  return {
    puts,
    getWithMetadata: (key, options) => env.STATE_KV.getWithMetadata(key, options),
    put: (key, value, options) => {
      puts.push({ key, options });
      return env.STATE_KV.put(key, value, options);
    },
    delete: (key) => env.STATE_KV.delete(key),
  };
}

/** The Durable Object namespace, counting the stubs made and the object names asked for. */
function countingObjects(): DurableObjectNamespaceLike & { names: string[]; stubs: number } {
  const counting = {
    names: [] as string[],
    stubs: 0,
    idFromName(name: string) {
      counting.names.push(name);
      return env.STATE_OBJECTS.idFromName(name);
    },
    get(id: unknown) {
      counting.stubs++;
      return env.STATE_OBJECTS.get(id);
    },
  };
  return counting;
}

/** Never settles: an engine that does not answer. */
const never = (): Promise<never> => new Promise(() => {});
const hangingKv: KvNamespaceLike = { getWithMetadata: never, put: never, delete: never };
const hangingObjects: DurableObjectNamespaceLike = {
  idFromName: (name) => name,
  get: () => new Proxy({}, { get: () => never }),
};
const hangingStatement = { bind: () => hangingStatement, first: never, run: never };
const hangingDb = { prepare: () => hangingStatement };


/** The failed checks, with their errors, for a readable assertion. */
function failures(report: StoreConformanceReport): string[] {
  return report.failed.map(({ name, error }) => `${name}: ${error instanceof Error ? error.message : String(error)}`);
}

// The conformance suite of bulwark/testing on the real local engines. KV
// keeps time on the store's side only (expiry beside the value, checked by
// the store's clock), so it runs on a ManualClock; the Durable Object runs
// transitions on its own clock, and D1's update loop backs off on the
// store's clock, so they run on real time, with TTLs long enough not to
// lapse between two calls on a busy machine. KV is not
// atomic, so the suite skips its race checks there (as the store declares);
// KV paces writes of a key to one per second by default, which local KV
// does not need and the suite's bursts of writes to one key would turn into
// minutes, so the suite runs with onWriteTooSoon: "ignore" (the pacing is
// tested below).
describe("the store conformance suite on the local engines", () => {
  it("conformance[cloudflare/kv] passes on KvStore (race checks skipped: not atomic)", async () => {
    const p = prefix();
    const clock = new ManualClock();
    const report = reportConformance(
      "cloudflare/kv",
      await runStoreConformance(() => new KvStore(env.STATE_KV, { prefix: p, clock, onWriteTooSoon: "ignore" }), {
        advance: (ms) => clock.advance(ms),
        makeHangingStore: () => new KvStore(hangingKv, { prefix: p, clock, timeoutMs: 200 }),
      }),
    );
    expect(failures(report)).toEqual([]);
    expect(report.skipped.map((s) => s.reason)).toEqual(Array(3).fill("the store declares atomic: false"));
    expect(report.passed.length).toBeGreaterThan(15);
  }, 120_000);

  it("conformance[cloudflare/durable-object] passes on DurableObjectStore, every check", async () => {
    const p = prefix();
    const report = reportConformance(
      "cloudflare/durable-object",
      await runStoreConformance(() => new DurableObjectStore(env.STATE_OBJECTS, { prefix: p }), {
        ttlMs: CONFORMANCE_TTL_MS,
        makeHangingStore: () => new DurableObjectStore(hangingObjects, { prefix: p, timeoutMs: 200 }),
      }),
    );
    expect(failures(report)).toEqual([]);
    expect(report.skipped).toEqual([]);
  }, 120_000);

  it("conformance[cloudflare/d1] passes on D1Store, every check", async () => {
    const p = prefix();
    const report = reportConformance(
      "cloudflare/d1",
      await runStoreConformance(() => new D1Store(env.STATE_DB, { prefix: p }), {
        ttlMs: CONFORMANCE_TTL_MS,
        makeHangingStore: () => new D1Store(hangingDb, { prefix: p, timeoutMs: 200 }),
      }),
    );
    expect(failures(report)).toEqual([]);
    expect(report.skipped).toEqual([]);
  }, 120_000);
});

describe("KvStore on local Workers KV", () => {
  it("declares what KV guarantees: eventual, not atomic, 512-byte keys, 60 s TTLs, one write per second", () => {
    const store = new KvStore(env.STATE_KV);
    expect(store.capabilities).toMatchObject({
      atomic: false,
      consistency: "eventual",
      maxKeyBytes: 512,
      minTtlMs: 60_000,
      minWriteIntervalMs: 1_000,
      runsTransitions: false,
    });
    expect(store.capabilities.maxValueBytes).toBeLessThan(25 * 1024 * 1024);
    expect(store.capabilities.maxValueBytes).toBeGreaterThan(25 * 1024 * 1024 - 200);
  });

  it("round-trips a value under the prefixed key, with the version beside it", async () => {
    const p = prefix();
    const store = new KvStore(env.STATE_KV, { prefix: p });
    const written = await store.set("k", { a: [1, "é", null] });
    const read = await store.get("k");
    expect(read).toEqual({ value: { a: [1, "é", null] }, version: written.version, expiresAt: undefined });
    expect((await env.STATE_KV.getWithMetadata(`${p}k`, { type: "text" })).value).toContain(written.version);
  });

  it("keeps a TTL shorter than 60 s inside the value, checked on read, and asks KV for its 60 s minimum", async () => {
    const clock = new ManualClock();
    const kv = recordingKv();
    const p = prefix();
    const store = new KvStore(kv, { prefix: p, clock });
    const written = await store.set("short", "v", { ttlMs: 5_000 });
    expect(written.expiresAt).toBe(clock.wallNow() + 5_000);
    expect(kv.puts).toEqual([{ key: `${p}short`, options: { expirationTtl: 60 } }]);
    await clock.advance(4_999);
    expect((await store.get("short"))?.value).toBe("v");
    await clock.advance(1);
    expect(await store.get("short")).toBeUndefined();
    // Still in KV until its native 60 s run out; the store no longer shows it.
    expect((await env.STATE_KV.getWithMetadata(`${p}short`, { type: "text" })).value).not.toBeNull();
    // An expired entry counts as absent for a conditional write.
    expect((await store.insertIfAbsent("short", "again")).ok).toBe(true);
  });

  it("gives KV a TTL of 60 s or more in whole seconds", async () => {
    const clock = new ManualClock();
    const kv = recordingKv();
    const store = new KvStore(kv, { prefix: prefix(), clock });
    await store.set("long", 1, { ttlMs: 90_500 });
    expect(kv.puts[0]?.options).toEqual({ expirationTtl: 91 });
  });

  it("waits out the rest of the second before writing a key again, and keeps the writes in order", async () => {
    const clock = new ManualClock();
    const kv = recordingKv();
    const store = new KvStore(kv, { prefix: prefix(), clock });
    await store.set("k", 1);
    const second = store.set("k", 2);
    const third = store.set("k", 3);
    const other = await store.set("other", 1); // another key does not wait
    expect(other.value).toBe(1);
    await Promise.resolve();
    expect(kv.puts.map((p) => p.key.split(":").pop())).toEqual(["k", "other"]);
    await clock.advance(1_000);
    await second;
    expect(kv.puts.length).toBe(3);
    await clock.advance(1_000);
    await third;
    expect((await store.get("k"))?.value).toBe(3);
  });

  it("fails a write within the second at once with onWriteTooSoon: \"fail\", writing nothing", async () => {
    const clock = new ManualClock();
    const kv = recordingKv();
    const store = new KvStore(kv, { prefix: prefix(), clock, onWriteTooSoon: "fail" });
    await store.set("k", 1);
    const error = await rejection(store.set("k", 2));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe("ERR_STORE");
    expect((error as StoreError).message).toContain("one write per second per key");
    expect(kv.puts.length).toBe(1);
    await clock.advance(1_000);
    expect((await store.set("k", 3)).value).toBe(3);
  });

  it("fails at once a write that would have to wait past timeoutMs", async () => {
    const clock = new ManualClock();
    const store = new KvStore(env.STATE_KV, { prefix: prefix(), clock, timeoutMs: 500 });
    await store.set("k", 1);
    const error = await rejection(store.set("k", 2));
    expect((error as StoreError).code).toBe("ERR_STORE");
    expect((error as StoreError).message).toContain("past timeoutMs (500)");
  });

  it("counts the time its read took against timeoutMs before waiting for the slot", async () => {
    const clock = new ManualClock();
    const kv = recordingKv();
    const slowReads: KvNamespaceLike = {
      ...kv,
      getWithMetadata: async (key, options) => {
        await clock.advance(300);
        return await kv.getWithMetadata(key, options);
      },
      put: (key, value, options) => kv.put(key, value, options),
    };
    const store = new KvStore(slowReads, { prefix: prefix(), clock, timeoutMs: 1_000 });
    const first = await store.set("k", 1);
    // Read 300 ms, then 700 ms more to wait: the 1000 ms budget is spent.
    const error = await rejection(store.compareAndSet("k", first.version, 2));
    expect(error).toMatchObject({ code: "ERR_STORE", operation: "compareAndSet" });
    expect((error as Error).message).toContain("past timeoutMs (1000)");
    expect(kv.puts.length).toBe(1);
  });

  it("stops waiting for its write slot when aborted, and never writes", async () => {
    const clock = new ManualClock();
    const kv = recordingKv();
    const store = new KvStore(kv, { prefix: prefix(), clock });
    await store.set("k", 1);
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const waiting = rejection(store.set("k", 2, { signal: controller.signal }));
    controller.abort(reason);
    expect(await waiting).toBe(reason);
    await clock.advance(5_000);
    expect(kv.puts.length).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("reports KV's 429 (another isolate wrote the key this second) as ERR_STORE with the engine's error as cause", async () => {
    const tooMany = new Error("KV PUT failed: 429 Too Many Requests");
    const store = new KvStore({
      getWithMetadata: (key, options) => env.STATE_KV.getWithMetadata(key, options),
      put: () => Promise.reject(tooMany),
      delete: (key) => env.STATE_KV.delete(key),
    });
    const error = await rejection(store.set("k", 1));
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: "ERR_STORE", operation: "set", cause: tooMany });
  });

  it("refuses a key over 512 bytes before any I/O", async () => {
    const kv = recordingKv();
    const store = new KvStore(kv, { prefix: "p:" });
    const error = await rejection(store.set("k".repeat(511), 1));
    expect(error).toMatchObject({ code: "ERR_STORE_LIMIT", limit: 512, actual: 513 });
    expect(kv.puts).toEqual([]);
  });

  it("lets two contenders both win insertIfAbsent when reads lag writes (best effort, as declared)", async () => {
    const clock = new ManualClock();
    const lagging = new LaggingKvNamespace(env.STATE_KV, { lagMs: 60_000, clock });
    const p = prefix();
    const a = new KvStore(lagging, { prefix: p, clock });
    const b = new KvStore(lagging, { prefix: p, clock });
    expect((await a.insertIfAbsent("lock", "a")).ok).toBe(true);
    // b's read does not see a's write yet.
    expect((await b.insertIfAbsent("lock", "b")).ok).toBe(true);
    expect(await b.get("lock")).toBeUndefined();
    await clock.advance(60_000);
    expect((await a.get("lock"))?.value).toBe("b");
  });

  it("refuses a binding that is not a namespace or a function, and a bad onWriteTooSoon", () => {
    expect(() => new KvStore(42 as never)).toThrow(InvalidArgumentError);
    expect(() => new KvStore({ get: () => 1 } as never)).toThrow(/getWithMetadata, put, delete/);
    expect(() => new KvStore(env.STATE_KV, { onWriteTooSoon: "drop" as never })).toThrow(ConfigError);
  });
});

describe("DurableObjectStore on a local SQLite-backed Durable Object", () => {
  it("declares strong, atomic and transitions in the object", () => {
    expect(new DurableObjectStore(env.STATE_OBJECTS).capabilities).toMatchObject({
      atomic: true,
      consistency: "strong",
      runsTransitions: true,
      minWriteIntervalMs: 0,
    });
  });

  it("keeps each key in its own object by default, one stub per operation", async () => {
    const objects = countingObjects();
    const p = prefix();
    const store = new DurableObjectStore(objects, { prefix: p });
    await store.set("a", 1);
    await store.set("b", 2);
    expect((await store.get("a"))?.value).toBe(1);
    expect(objects.names).toEqual([`${p}a`, `${p}b`, `${p}a`]);
    expect(objects.stubs).toBe(3);
  });

  it("groups keys into the objects shard(key) names", async () => {
    const objects = countingObjects();
    const p = prefix();
    const store = new DurableObjectStore(objects, { prefix: p, shard: (key) => key.split("/")[0]! });
    await store.set("tenant1/a", 1);
    await store.set("tenant1/b", 2);
    expect(objects.names).toEqual([`${p}tenant1`, `${p}tenant1`]);
    // Both keys in one object's storage.
    const stub = env.STATE_OBJECTS.get(env.STATE_OBJECTS.idFromName(`${p}tenant1`)) as StateObjectRpc;
    expect((await stub.get(`${p}tenant1/b`, Date.now()))?.value).toBe("2");
  });

  it("runs a registered transition inside the object in one round trip", async () => {
    const objects = countingObjects();
    const store = new DurableObjectStore(objects, { prefix: prefix() });
    expect(await store.update("hits", addTransition, { add: 2 })).toBe(2);
    expect(await store.update("hits", addTransition, { add: 3 })).toBe(5);
    expect(objects.stubs).toBe(2);
    expect((await store.get("hits"))?.value).toBe(5);
  });

  it("sends the transition's name, not its code: the object runs the one registered under that name", async () => {
    const store = new DurableObjectStore(env.STATE_OBJECTS, { prefix: prefix() });
    const impostor = { name: addTransition.name, apply: () => ({ next: 1_000, output: 1_000 }) };
    expect(await store.update("k", impostor, { add: 1 })).toBe(1);
  });

  it("fails a transition the object does not know with ERR_STORE that says how to register it", async () => {
    const store = new DurableObjectStore(env.STATE_OBJECTS, { prefix: prefix() });
    const unknown = { name: "app.unregistered", apply: () => ({ next: 1, output: 1 }) };
    const error = await rejection(store.update("k", unknown, null));
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: "ERR_STORE", operation: "update", key: "k" });
    expect((error as Error).message).toContain("no transition 'app.unregistered'");
    expect((error as Error).message).toContain("stateObjectClass(DurableObject, { transitions");
  });

  it("refuses a transition's value over maxValueBytes with ERR_STORE_LIMIT, writing nothing", async () => {
    const store = new DurableObjectStore(env.STATE_OBJECTS, { prefix: prefix() });
    const max = store.capabilities.maxValueBytes;
    await store.update("k", fillTransition, max - 2); // exactly at the limit, quotes included
    const before = await store.get("k");
    expect((before?.value as string).length).toBe(max - 2);
    const error = await rejection(store.update("k", fillTransition, max - 1));
    expect(error).toMatchObject({ code: "ERR_STORE_LIMIT", operation: "update", limit: max, actual: max + 1 });
    expect((await store.get("k"))?.version).toBe(before?.version);
  });

  it("gives transitions the object's own clock, whatever the store's clock says", async () => {
    const clock = new ManualClock(); // wall time near the epoch: not what the object sees
    const store = new DurableObjectStore(env.STATE_OBJECTS, { prefix: prefix(), clock });
    const before = Date.now();
    const objectNow = await store.update("k", clockTransition, null);
    expect(objectNow).toBeGreaterThanOrEqual(before - 1_000);
    expect(Math.abs(objectNow - clock.wallNow())).toBeGreaterThan(1_000);
  });

  it("expires entries by the store's clock, and the object's alarm deletes their rows", async () => {
    const clock = new ManualClock(); // wall time near the epoch: the entry is long expired for the object
    const p = prefix();
    const store = new DurableObjectStore(env.STATE_OBJECTS, { prefix: p, clock });
    await store.set("brief", "v", { ttlMs: 1_000 });
    expect((await store.get("brief"))?.value).toBe("v");
    await clock.advance(1_000);
    expect(await store.get("brief")).toBeUndefined();
    const stub = env.STATE_OBJECTS.get(env.STATE_OBJECTS.idFromName(`${p}brief`)) as StateObjectRpc;
    await runDurableObjectAlarm(stub); // if it has not run already
    // Asked as of the epoch, a row that were still there would be returned: it is gone.
    expect(await stub.get(`${p}brief`, 0)).toBeNull();
  });

  it("a read by a store whose clock runs ahead deletes no row the object holds live (a claim stays claimed)", async () => {
    const p = prefix();
    const onTime = new DurableObjectStore(env.STATE_OBJECTS, { prefix: p });
    const ahead = new DurableObjectStore(env.STATE_OBJECTS, { prefix: p, clock: skewed(3_600_000) });
    // A row the object dated (update: its own clock), live for a minute.
    await onTime.update("hits", addTransition, { add: 1, ttlMs: 60_000 });
    expect(await ahead.get("hits")).toBeUndefined(); // expired by the reader's own clock: its view
    expect(await ahead.delete("gone")).toBe(false);
    expect((await onTime.get("hits"))?.value).toBe(1); // still in the object
    // The user-visible case: an idempotency claim read by a Worker whose clock runs ahead.
    const claims = new IdempotencyStore({ store: onTime });
    const first = await claims.acquire("job");
    expect(first.outcome).toBe("acquired");
    expect(await new IdempotencyStore({ store: ahead }).getRecord("job")).toBeUndefined();
    expect((await claims.acquire("job")).outcome).toBe("in-progress");
  });

  it("refuses a namespace that is not one, and a shard that is not a function", () => {
    expect(() => new DurableObjectStore({} as never)).toThrow(/idFromName, get/);
    expect(() => new DurableObjectStore(env.STATE_OBJECTS, { shard: "by-tenant" as never })).toThrow(ConfigError);
  });
});

describe("D1Store on local D1", () => {
  it("creates its table on first use, and migrate() is idempotent", async () => {
    const table = `t_${prefix().replace(":", "")}`;
    const store = new D1Store(env.STATE_DB, { table });
    await store.set("k", "v");
    await store.migrate();
    const row = await env.STATE_DB.prepare(`SELECT key, value FROM ${table}`).first();
    expect(row).toEqual({ key: "bulwark:k", value: '"v"' });
  });

  it("compare-and-sets with UPDATE ... WHERE version = ?, and only the current version wins", async () => {
    const store = new D1Store(env.STATE_DB, { prefix: prefix() });
    const first = await store.set("k", 1);
    const second = await store.compareAndSet("k", first.version, 2);
    expect(second.ok).toBe(true);
    const stale = await store.compareAndSet("k", first.version, 3);
    expect(stale).toMatchObject({ ok: false, current: { value: 2 } });
  });

  it("treats an expired row as absent (the store's clock), replaces it on insert, and purges it", async () => {
    const clock = new ManualClock();
    const store = new D1Store(env.STATE_DB, { prefix: prefix(), clock, table: "bulwark_purge_test" });
    await store.set("k", 1, { ttlMs: 1_000 });
    await clock.advance(1_000);
    expect(await store.get("k")).toBeUndefined();
    expect(await store.purgeExpired()).toBe(1);
    await store.set("k2", 1, { ttlMs: 1_000 });
    await clock.advance(1_000);
    expect((await store.insertIfAbsent("k2", 2)).ok).toBe(true);
    expect((await store.get("k2"))?.value).toBe(2);
  });

  it("runs update as a compare-and-set loop: 20 concurrent increments, none lost", async () => {
    const store = new D1Store(env.STATE_DB, { prefix: prefix() });
    await Promise.all(Array.from({ length: 20 }, () => store.update("n", addTransition, { add: 1 })));
    expect((await store.get("n"))?.value).toBe(20);
  });

  it("refuses a table name that is not an identifier", () => {
    expect(() => new D1Store(env.STATE_DB, { table: "x; DROP TABLE y" })).toThrow(ConfigError);
  });
});

async function route(path: string): Promise<Record<string, unknown>> {
  const response = await SELF.fetch(`https://worker.test${path}`);
  return await response.json();
}

describe("module-scope stores serving concurrent real requests in workerd", () => {
  for (const store of ["do", "d1"]) {
    it(`${store}: of 50 concurrent requests claiming one key, exactly one wins`, async () => {
      const key = `claim-${prefix()}`;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, id) => route(`/store/claim?store=${store}&key=${key}&id=${id}`)),
      );
      expect(results.filter((r) => r.error !== undefined)).toEqual([]);
      expect(results.filter((r) => r.won === true).length).toBe(1);
    }, 30_000);

    it(`${store}: 50 concurrent requests each add one, and none is lost`, async () => {
      const key = `add-${prefix()}`;
      const results = await Promise.all(Array.from({ length: 50 }, () => route(`/store/add?store=${store}&key=${key}`)));
      expect(results.filter((r) => r.error !== undefined)).toEqual([]);
      expect(results.map((r) => r.count).sort((a, b) => Number(a) - Number(b))).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      expect((await route(`/store/get?store=${store}&key=${key}`)).value).toBe(50);
    }, 30_000);
  }

  it("kv: concurrent requests read and write through a store built at import, each with its own binding", async () => {
    const keys = Array.from({ length: 10 }, () => `kv-${prefix()}`);
    const claims = await Promise.all(keys.map((key, id) => route(`/store/claim?store=kv&key=${key}&id=${id}`)));
    expect(claims.every((r) => r.won === true)).toBe(true);
    const reads = await Promise.all(keys.map((key) => route(`/store/get?store=kv&key=${key}`)));
    expect(reads.map((r) => r.value)).toEqual(keys.map((_, id) => ({ id })));
  });

  it("why stubs are made per operation: a stub kept from an earlier request fails in the next", async () => {
    expect(await route("/store/kept-stub")).toEqual({ first: true, ok: true });
    const second = await route("/store/kept-stub");
    expect(String(second.error)).toContain("Cannot perform I/O on behalf of a different request");
  });
});
