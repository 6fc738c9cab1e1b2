/**
 * Idempotency scenarios that run against any Store: tests/idempotency.test.ts
 * runs them on MemoryStore, tests/idempotency_file_store.node.test.ts on
 * FileStore, tests/idempotency_redis.node.test.ts, idempotency_postgres.node.test.ts
 * and idempotency_cloudflare.workers.test.ts on the real engines (give
 * `makeStore` and a clock the store and the polling both read, or
 * `realTimeEnv` for a store on the engine's clock).
 */
import { expect } from "vitest";
import {
  type Clock,
  idempotent,
  IdempotencyConflictError,
  IdempotencyKeyError,
  IdempotencyMismatchError,
  IdempotencyStore,
  IdempotencyStoredFailureError,
  type Store,
} from "../../mod.ts";
import { systemClock } from "../../src/clock.ts";

export interface IdempotencyEnv {
  /** A fresh, empty store, whose expiry reads `clock`. */
  makeStore(): Store | Promise<Store>;
  /** The clock the store and the polling read. */
  clock: Clock;
  /** Moves `clock` on by `ms` and lets timers and I/O run. */
  advance(ms: number): Promise<void>;
  /**
   * The store keeps time by the engine's clock (Redis `TIME`, PostgreSQL
   * `now()`, the Durable Object's `Date.now()`), not `clock`: `advance`
   * really waits, and timing checks keep a margin on both sides.
   */
  realTime?: boolean;
}

/**
 * The env of a store that keeps the engine's time: the system clock, and
 * `advance` sleeps for real.
 */
export function realTimeEnv(makeStore: () => Store | Promise<Store>): IdempotencyEnv {
  return {
    makeStore,
    clock: systemClock,
    advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    realTime: true,
  };
}

/** A macrotask turn: lets real I/O (files, `crypto.subtle`) complete. */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Settles `promises`, advancing the clock by `stepMs` while any is pending (bounded). */
export async function settleAll<T>(
  env: IdempotencyEnv,
  promises: Promise<T>[],
  stepMs = 25,
  maxSteps = 2_000,
): Promise<PromiseSettledResult<T>[]> {
  let done = false;
  const all = Promise.allSettled(promises).then((results) => {
    done = true;
    return results;
  });
  for (let step = 0; !done && step < maxSteps; step++) {
    await macrotask();
    if (!done) await env.advance(stepMs);
  }
  if (!done) throw new Error(`calls still pending after ${maxSteps} steps of ${stepMs} ms`);
  return await all;
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** 100 concurrent identical calls: `fn` runs once, every caller gets the same result. */
export async function hundredConcurrentCalls(env: IdempotencyEnv): Promise<void> {
  const store = new IdempotencyStore({ store: await env.makeStore(), inProgressTtlMs: 60_000 });
  let runs = 0;
  const gate = deferred<void>();
  const charge = idempotent(
    async (order: { id: string; amount: number }) => {
      runs++;
      await gate.promise;
      return { receipt: `r-${order.id}`, amount: order.amount };
    },
    { store, key: (order) => order.id, clock: env.clock },
  );
  const calls = Array.from({ length: 100 }, () => charge({ id: "order-1", amount: 42 }));
  // Let every caller claim or start waiting before the first finishes.
  for (let i = 0; i < 20; i++) await macrotask();
  gate.resolve();
  const results = await settleAll(env, calls);
  expect(runs).toBe(1);
  expect(results.filter((r) => r.status === "rejected")).toEqual([]);
  for (const result of results) {
    expect((result as PromiseFulfilledResult<unknown>).value).toEqual({ receipt: "r-order-1", amount: 42 });
  }
  expect((await store.getRecord("order-1"))?.status).toBe("completed");
}

/** A call that crashed mid-way (claimed, never finished): its key is claimable again after inProgressTtlMs, not before. */
export async function crashedCallFreesItsKey(env: IdempotencyEnv): Promise<void> {
  const store = new IdempotencyStore({ store: await env.makeStore(), inProgressTtlMs: 1_000 });
  const crashed = await store.acquire("order-2", { fingerprint: await fingerprintOf(["order-2"]) });
  expect(crashed.outcome).toBe("acquired");
  let runs = 0;
  const run = idempotent(async (id: string) => `done ${id} ${++runs}`, {
    store,
    key: (id) => id,
    onConflict: "throw",
    clock: env.clock,
  });
  // On the engine's clock: well before the lapse, then well after it (timers may fire a hair early).
  await env.advance(env.realTime ? 500 : 999);
  const early = await run("order-2").catch((error: unknown) => error);
  expect(early).toBeInstanceOf(IdempotencyConflictError);
  expect((early as IdempotencyConflictError).code).toBe("ERR_IDEMPOTENCY_CONFLICT");
  expect(runs).toBe(0);
  await env.advance(env.realTime ? 650 : 1);
  expect(await run("order-2")).toBe("done order-2 1");
  expect(await run("order-2")).toBe("done order-2 1");
  // The crashed call, finishing late, cannot overwrite the new record.
  if (crashed.outcome === "acquired") expect(await store.complete("order-2", crashed.token, "late")).toBe(false);
  expect(await store.get("order-2")).toBe("done order-2 1");
}

async function fingerprintOf(args: unknown[]): Promise<string> {
  const { sha256Fingerprint } = await import("../../mod.ts");
  return await sha256Fingerprint(args);
}

/** Waiters give up after waitTimeoutMs with IdempotencyConflictError; the first call still completes. */
export async function waitIsBounded(env: IdempotencyEnv): Promise<void> {
  const store = new IdempotencyStore({ store: await env.makeStore(), inProgressTtlMs: 10_000 });
  const gate = deferred<void>();
  const run = idempotent(async () => {
    await gate.promise;
    return 1;
  }, { store, key: "slow", waitTimeoutMs: 500, clock: env.clock, fingerprint: false });
  const first = run();
  for (let i = 0; i < 5; i++) await macrotask();
  const [second] = await settleAll(env, [run()], 50);
  expect(second!.status).toBe("rejected");
  const error = (second as PromiseRejectedResult).reason as IdempotencyConflictError;
  expect(error).toBeInstanceOf(IdempotencyConflictError);
  expect(error.waitedMs).toBeGreaterThanOrEqual(500);
  gate.resolve();
  expect(await first).toBe(1);
}

/** A different payload under a used key: IdempotencyMismatchError, fn not run. */
export async function mismatchIsRefused(env: IdempotencyEnv): Promise<void> {
  const store = new IdempotencyStore({ store: await env.makeStore() });
  let runs = 0;
  const pay = idempotent(async (key: string, amount: number) => {
    runs++;
    return amount;
  }, { store, key: (key) => key, clock: env.clock });
  expect(await pay("p-1", 10)).toBe(10);
  const error = await pay("p-1", 11).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(IdempotencyMismatchError);
  expect((error as IdempotencyMismatchError).code).toBe("ERR_IDEMPOTENCY_MISMATCH");
  expect(runs).toBe(1);
  expect(await pay("p-1", 10)).toBe(10);
}

/** A throwing fn releases its key (the retry runs); with storeFailures the failure is replayed. */
export async function failuresReleaseOrReplay(env: IdempotencyEnv): Promise<void> {
  const store = new IdempotencyStore({ store: await env.makeStore() });
  let runs = 0;
  const flaky = idempotent(async (id: string) => {
    runs++;
    if (runs === 1) throw new TypeError("first attempt fails");
    return `ok ${id}`;
  }, { store, key: (id) => id, clock: env.clock });
  await expect(flaky("f-1")).rejects.toThrow(TypeError);
  expect(await store.getRecord("f-1")).toBeUndefined();
  expect(await flaky("f-1")).toBe("ok f-1");
  expect(runs).toBe(2);

  let declines = 0;
  const declined = idempotent(async (_id: string) => {
    declines++;
    throw new RangeError("card declined");
  }, { store, key: (id) => id, storeFailures: (error) => error instanceof RangeError, clock: env.clock });
  await expect(declined("f-2")).rejects.toThrow(RangeError);
  const replay = await declined("f-2").catch((e: unknown) => e);
  expect(replay).toBeInstanceOf(IdempotencyStoredFailureError);
  expect((replay as IdempotencyStoredFailureError).failure).toEqual({ name: "RangeError", message: "card declined" });
  expect(declines).toBe(1);
}

/** Missing, empty, 256-character and non-ASCII keys: IdempotencyKeyError, nothing stored, fn not run. */
export async function badKeysAreRefused(env: IdempotencyEnv): Promise<void> {
  const raw = await env.makeStore();
  const store = new IdempotencyStore({ store: raw, keyPrefix: "idem:" });
  let runs = 0;
  const run = idempotent(async (key: unknown) => ++runs, { store, key: (key) => key as string, clock: env.clock });
  for (const key of [undefined, "", "x".repeat(256), "café", "tab\there", "line\nbreak"]) {
    const error = await run(key).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyKeyError);
    expect((error as IdempotencyKeyError).code).toBe("ERR_IDEMPOTENCY_KEY");
    await expect(store.acquire(key as string)).rejects.toThrow(key === undefined ? /'key' must be a string/ : /Invalid idempotency key/);
  }
  expect(runs).toBe(0);
  // The longest valid key, prefixed, still works.
  expect(await run("k".repeat(255))).toBe(1);
  expect((await raw.get(`idem:${"k".repeat(255)}`))?.value).toMatchObject({ s: "c", r: 1 });
}

/** Every scenario, by name, for a test file to run on its store. */
export const idempotencyScenarios: Record<string, (env: IdempotencyEnv) => Promise<void>> = {
  "100 concurrent identical calls run the function once and all get its result": hundredConcurrentCalls,
  "a crashed call frees its key after inProgressTtlMs, not before": crashedCallFreesItsKey,
  "waiting for the first call is bounded by waitTimeoutMs": waitIsBounded,
  "another payload under a used key is refused": mismatchIsRefused,
  "a failure releases the key, or is replayed with storeFailures": failuresReleaseOrReplay,
  "bad keys are refused and store nothing": badKeysAreRefused,
};
