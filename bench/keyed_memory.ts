// Memory of a KeyedRateLimiter fed 1,000,000 distinct keys: live heap,
// sampled after a full GC every 50,000 keys, for a few `maxKeys` bounds.
//
//   npx --yes -p node@24 node --expose-gc bench/keyed_memory.ts
//
// Imports bulwark from dist/ (`npm run build` first). Results go to
// docs/benchmarks.md ("Rate limiting").
import type { KeyedRateLimiter as Keyed } from "../mod.ts";
import { bulwark, testing } from "./bulwark.ts";

const { KeyedRateLimiter } = bulwark;
const { ManualClock } = testing;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

function liveHeapMb(): number {
  gc!();
  return (globalThis as unknown as { process: { memoryUsage(): { heapUsed: number } } }).process.memoryUsage()
    .heapUsed / 2 ** 20;
}

const KEYS = 1_000_000;
for (const maxKeys of [10_000, 100_000, 1_000_000]) {
  const clock = new ManualClock();
  const before = liveHeapMb();
  let limiter: Keyed | undefined = new KeyedRateLimiter({
    algorithm: "token-bucket",
    rate: 10,
    perMs: 1_000,
    maxKeys,
    clock,
  });
  let peak = 0;
  for (let i = 0; i < KEYS; i++) {
    // Each key drains part of its bucket, so evictions leave tombstones.
    limiter.tryAcquire(`user-${i}`, 5);
    if ((i + 1) % 50_000 === 0) {
      await clock.advance(1);
      peak = Math.max(peak, liveHeapMb() - before);
    }
  }
  const stats = limiter.stats;
  limiter = undefined;
  console.log(
    `maxKeys ${maxKeys.toLocaleString("en")}: ${KEYS.toLocaleString("en")} keys seen, ${stats.keys.toLocaleString("en")} held, ` +
      `${stats.evictedKeys.toLocaleString("en")} evicted, peak live heap +${peak.toFixed(1)} MiB ` +
      `(${((peak * 2 ** 20) / Math.min(maxKeys, KEYS)).toFixed(0)} B per held key)`,
  );
}
