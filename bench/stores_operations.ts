// The operations bench/stores.bench.ts times on every engine, and how a
// row is measured: shared by the Node process (memory, Redis, PostgreSQL),
// the Worker it runs in Miniflare (Workers KV, Durable Objects, D1:
// bench/stores_worker.ts) and the Deno process (Deno KV:
// bench/stores_deno.ts), so that every engine runs the very same calls.
// Plain TypeScript with web-standard globals only: it is bundled into the
// Worker and run as is by Node 24 and Deno.
import type { Store, Transition } from "../mod.ts";

/** Timed calls per row, in sequence (one caller: latency, not throughput). */
export const ROUNDS = 400;
/** Untimed calls before them. */
export const WARMUP = 100;

/** The transition `update` runs (a Durable Object registers it by name). */
export const increment: Transition<number, number> = {
  name: "bench.increment",
  apply: (current, by) => {
    const next = (typeof current === "number" ? current : 0) + by;
    return { next, output: next };
  },
};

export interface Operation {
  readonly name: string;
  readonly run: (store: Store, i: number) => Promise<unknown>;
}

/** Each operation on its own keys, so that none sees another's leftovers. */
export function operations(): Operation[] {
  const versions = new Map<Store, string | undefined>();
  return [
    { name: "get (hit)", run: (s) => s.get("hot") },
    { name: "get (miss)", run: (s, i) => s.get(`missing:${i}`) },
    { name: "set", run: (s, i) => s.set(`set:${i % 50}`, { n: i, tag: "bench" }) },
    { name: "set with ttlMs", run: (s, i) => s.set(`ttl:${i % 50}`, { n: i }, { ttlMs: 60_000 }) },
    { name: "insertIfAbsent (wins)", run: (s, i) => s.insertIfAbsent(`ins:${i}:${Math.random()}`, i) },
    { name: "insertIfAbsent (loses)", run: (s) => s.insertIfAbsent("hot", 0) },
    {
      name: "compareAndSet (wins)",
      run: async (s, i) => {
        const result = await s.compareAndSet("cas", versions.get(s), i);
        versions.set(s, result.ok ? result.entry.version : result.current?.version);
      },
    },
    { name: "update (increment)", run: (s) => s.update("counter", increment, 1) },
    { name: "delete", run: (s, i) => s.delete(`set:${i % 50}`) },
  ];
}

/** What one engine measured for one operation. */
export interface Row {
  readonly engine: string;
  readonly operation: string;
  /** Per-call median and 99th percentile, µs; absent where the clock cannot time one call (workerd). */
  readonly medianUs?: number;
  readonly p99Us?: number;
  /** Mean over the timed calls, µs. */
  readonly meanUs: number;
  /** Round trips per call, counted at the client; 0 in process. */
  readonly trips: number;
}

/** Round trips so far, or `undefined` for a store in process. */
export type TripCounter = () => number | undefined;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/**
 * Times `operation` on `store`: WARMUP calls, then ROUNDS calls each timed
 * with `performance.now()`. With `perCall: false` (workerd, whose clock
 * moves in whole milliseconds and only between I/O) only the whole run is
 * timed, and the row has a mean but no median or p99.
 */
export async function measureRow(
  engine: string,
  store: Store,
  trips: TripCounter,
  operation: Operation,
  perCall = true,
): Promise<Row> {
  for (let i = 0; i < WARMUP; i++) await operation.run(store, i);
  const before = trips();
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) {
    if (perCall) {
      const callStarted = performance.now();
      await operation.run(store, WARMUP + i);
      samples.push((performance.now() - callStarted) * 1000);
    } else {
      await operation.run(store, WARMUP + i);
    }
  }
  const meanUs = ((performance.now() - started) * 1000) / ROUNDS;
  const after = trips();
  const perCallTrips = before === undefined || after === undefined ? 0 : (after - before) / ROUNDS;
  samples.sort((a, b) => a - b);
  return {
    engine,
    operation: operation.name,
    ...(perCall ? { medianUs: percentile(samples, 0.5), p99Us: percentile(samples, 0.99) } : {}),
    meanUs,
    trips: perCallTrips,
  };
}

/** Every operation on one engine, "hot" written first (the hit and loss rows read it). */
export async function measureEngine(engine: string, store: Store, trips: TripCounter, perCall = true): Promise<Row[]> {
  await store.set("hot", { n: 0, tag: "bench" });
  const rows: Row[] = [];
  for (const operation of operations()) rows.push(await measureRow(engine, store, trips, operation, perCall));
  return rows;
}
