// KeyedRateLimiter.tryAcquire as the number of keys in use grows: one hot
// key, 1,000 and 100,000 keys taken in turn (each call a hit), and 200,000
// keys through a limiter of 100,000 (each call a miss: a new key, an
// eviction and its summary). Token bucket, limits so high every call is
// admitted. The floor rows do the same with a bare Map over the same keys:
// read the clock and get an entry (a hit), or delete the oldest key and add
// the new one (a miss): what any map-based design pays before deciding.
//
//   npm run build && npx --yes -p node@24 node bench/keyed_lookup.bench.ts
//   npx esbuild bench/keyed_lookup.bench.ts --bundle --packages=external --platform=node \
//     --format=esm --outfile=bench/keyed_lookup.mjs && node bench/keyed_lookup.mjs   # Node 20
//
// Results go to docs/benchmarks.md ("Keyed limiter: memory, newcomers, many keys").
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { bulwark } from "./bulwark.ts";

const { KeyedRateLimiter } = bulwark;

const HUGE = 1e12;

function keysOf(count: number): string[] {
  const keys = Array.from({ length: count }, (_, i) => `user-${i}`);
  // A fixed shuffle, so consecutive calls do not walk the table in order.
  let seed = 42;
  for (let i = keys.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    const j = seed % (i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return keys;
}

function caseFor(keyCount: number, maxKeys = 100_000): () => boolean {
  // A long idleMs: with this rate the default (the refill time) is ~0, and
  // idle eviction would turn every call into a miss.
  const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: HUGE, perMs: 1_000, maxKeys, idleMs: 3_600_000 });
  const keys = keysOf(keyCount);
  for (const key of keys) limiter.tryAcquire(key);
  if (limiter.size !== Math.min(keyCount, maxKeys)) throw new Error(`${limiter.size} keys held, not ${keyCount}`);
  let i = 0;
  return () => {
    const key = keys[i]!;
    if (++i === keys.length) i = 0;
    return limiter.tryAcquire(key);
  };
}

/** The floor: a bare Map.get of an entry-shaped value over the same keys, plus the clock read. */
function mapFor(keyCount: number): () => boolean {
  const map = new Map<string, { state: { anchorMs: number; consumed: number }; lastUsedMs: number }>();
  const keys = keysOf(keyCount);
  for (const key of keys) map.set(key, { state: { anchorMs: performance.now(), consumed: 0 }, lastUsedMs: 0 });
  let i = 0;
  return () => {
    const key = keys[i]!;
    if (++i === keys.length) i = 0;
    const entry = map.get(key)!;
    entry.lastUsedMs = performance.now();
    return entry.state.consumed === 0;
  };
}

/** The floor of a miss: a bare Map of maxKeys entries that deletes its oldest key and adds the new one. */
function churnFor(keyCount: number, maxKeys: number): () => boolean {
  const map = new Map<string, { key: string }>();
  const keys = keysOf(keyCount);
  for (let i = 0; i < maxKeys; i++) map.set(keys[i]!, { key: keys[i]! });
  let i = maxKeys;
  return () => {
    const key = keys[i]!;
    // The map holds the maxKeys keys before this one: the oldest is maxKeys back.
    const oldest = keys[(i + keyCount - maxKeys) % keyCount]!;
    if (++i === keys.length) i = 0;
    if (map.get(key) !== undefined) return true;
    map.delete(oldest);
    map.set(key, { key });
    return false;
  };
}

const cases: Array<[string, () => boolean]> = [
  ["floor: performance.now() + Map.get, 1 key", mapFor(1)],
  ["floor: performance.now() + Map.get, 100,000 keys", mapFor(100_000)],
  ["1 key", caseFor(1)],
  ["1,000 keys", caseFor(1_000)],
  ["100,000 keys", caseFor(100_000)],
  ["floor: Map.get + Map.delete + Map.set, 200,000 keys through 100,000", churnFor(200_000, 100_000)],
  ["200,000 keys, maxKeys 100,000 (every call a miss)", caseFor(200_000)],
];
for (const [, call] of cases) for (let i = 0; i < 300_000; i++) call();

summary(() => {
  group("KeyedRateLimiter.tryAcquire (token bucket, admitted)", () => {
    for (const [name, call] of cases) bench(name, () => do_not_optimize(call()));
  });
});

const { benchmarks } = await run();
// The machine this runs on is often shared: the minimum and the median
// hold up far better than the mean.
console.log("\n| case | min ns | median ns | mean ns |\n|---|---:|---:|---:|");
for (const trial of benchmarks) {
  const stats = trial.runs[0]?.stats;
  if (stats === undefined) continue;
  console.log(`| ${trial.alias} | ${stats.min.toFixed(0)} | ${stats.p50.toFixed(0)} | ${stats.avg.toFixed(0)} |`);
}
