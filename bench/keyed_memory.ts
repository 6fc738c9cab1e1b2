// KeyedRateLimiter memory and fairness, every algorithm, on a ManualClock:
//
// 1. bytes per key at the worst case (every key drains its whole limit in
//    one call), at limit 5 and 10,000, 20,000 keys;
// 2. live heap with 10⁵ and 10⁶ distinct keys through the default
//    maxKeys (100,000), each key taking 1 unit of 5;
// 3. newcomers under a flood: 100,000 distinct keys through maxKeys 1,000
//    in one window, every 10th a brand-new key whose first call is
//    recorded; the flood takes 1 unit of 5 (the issue's case), then all 5;
// 4. no fresh burst: every drained flood key comes back once, still inside
//    its window, and must be refused.
//
//   npx --yes -p node@24 node --expose-gc bench/keyed_memory.ts [section...]
//
// Imports bulwark from dist/ (`npm run build` first). Results go to
// docs/benchmarks.md ("Keyed limiter: memory, newcomers, many keys").
import type { AlgorithmOptions } from "../mod.ts";
import { bulwark, testing } from "./bulwark.ts";

const { KeyedRateLimiter } = bulwark;
type KeyedRateLimiter = InstanceType<typeof KeyedRateLimiter>;
const { ManualClock } = testing;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");
const argv = (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
const sections = argv.length > 0 ? argv : ["bytes", "heap", "newcomers"];

/** The heap plus V8's memory outside it (typed arrays' storage: the keyed limiter's tables). */
function liveHeap(): number {
  gc!();
  const usage = (globalThis as unknown as { process: { memoryUsage(): { heapUsed: number; external: number } } })
    .process.memoryUsage();
  return usage.heapUsed + usage.external;
}

const MiB = 2 ** 20;
const fmt = (n: number): string => n.toLocaleString("en");

function algorithms(limit: number, windowMs: number): Array<[string, AlgorithmOptions]> {
  return [
    ["token bucket", { algorithm: "token-bucket", rate: limit, perMs: windowMs, burst: limit }],
    ["GCRA", { algorithm: "gcra", rate: limit, perMs: windowMs, burst: limit }],
    ["sliding window, exact log", { algorithm: "sliding-window", limit, windowMs }],
    ["sliding window, approximate", { algorithm: "sliding-window", limit, windowMs, approximate: true }],
    ["fixed window", { algorithm: "fixed-window", limit, windowMs }],
  ];
}

if (sections.includes("bytes")) {
  console.log("\n## bytes per key, worst case (each key drains its limit), 20,000 keys, maxKeys 100,000");
  console.log("| algorithm | limit | keys held | log entries held | live heap | per held key |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const limit of [5, 10_000]) {
    for (const [label, options] of algorithms(limit, 60_000)) {
      const clock = new ManualClock();
      const before = liveHeap();
      let limiter: KeyedRateLimiter | undefined = new KeyedRateLimiter({ ...options, clock });
      for (let i = 0; i < 20_000; i++) limiter.tryAcquire(`user-${i}`, limit);
      const heap = liveHeap() - before;
      const { keys, logEntries } = limiter.stats;
      limiter = undefined;
      console.log(
        `| ${label} | ${fmt(limit)} | ${fmt(keys)} | ${fmt(logEntries)} | ${(heap / MiB).toFixed(1)} MiB | ${
          fmt(Math.round(heap / keys))
        } B |`,
      );
    }
  }
}

if (sections.includes("heap")) {
  console.log("\n## live heap through the default maxKeys (100,000), each key taking 1 unit of 5");
  console.log("| algorithm | after 10⁵ keys | peak up to 10⁶ keys | keys held | evicted |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [label, options] of algorithms(5, 1_000)) {
    const clock = new ManualClock();
    const before = liveHeap();
    let limiter: KeyedRateLimiter | undefined = new KeyedRateLimiter({ ...options, clock });
    let at100k = 0;
    let peak = 0;
    for (let i = 0; i < 1_000_000; i++) {
      limiter.tryAcquire(`user-${i}`);
      // 10 ms per 1,000 keys: evicted keys are still inside their window, so they leave summaries.
      if ((i + 1) % 1_000 === 0) void clock.set(clock.now() + 10);
      if ((i + 1) % 100_000 === 0) {
        const heap = liveHeap() - before;
        if (i + 1 === 100_000) at100k = heap;
        peak = Math.max(peak, heap);
      }
    }
    const { keys, evictedKeys } = limiter.stats;
    limiter = undefined;
    console.log(
      `| ${label} | ${(at100k / MiB).toFixed(1)} MiB | ${(peak / MiB).toFixed(1)} MiB | ${fmt(keys)} | ${
        fmt(evictedKeys)
      } |`,
    );
  }
}

/**
 * `flood` distinct keys through maxKeys 1,000 in one second of a 60 s window,
 * each taking `take` units of 5; every 10th call is a brand-new key's first.
 * Then every flood key comes back once, still inside its window.
 */
function flood(options: AlgorithmOptions, floodKeys: number, take: number) {
  const clock = new ManualClock();
  const limiter = new KeyedRateLimiter({ ...options, maxKeys: 1_000, clock });
  let newcomers = 0;
  let refused = 0;
  const perMs = Math.max(1, Math.round(floodKeys / 1_000));
  for (let i = 0; i < floodKeys; i++) {
    if (i % 10 === 9) {
      newcomers++;
      if (!limiter.tryAcquire(`newcomer-${i}`)) refused++;
    } else {
      limiter.tryAcquire(`flood-${i}`, take);
    }
    if (i % perMs === perMs - 1) void clock.set(clock.now() + 1);
  }
  // A drained key that comes back inside its window must be refused.
  let fresh = 0;
  let returning = 0;
  if (take === 5) {
    for (let i = 0; i < floodKeys; i++) {
      if (i % 10 === 9) continue;
      returning++;
      if (limiter.tryAcquire(`flood-${i}`)) fresh++;
    }
  }
  return { newcomers, refused, returning, fresh, dropped: limiter.stats.tombstonesDropped };
}

const pct = (part: number, whole: number): string => `${(100 * part / whole).toFixed(2)} %`;

if (sections.includes("newcomers")) {
  console.log("\n## a flood of 100,000 keys through maxKeys 1,000 within one 60 s window, limit 5");
  console.log("| algorithm | flood takes | newcomers refused on their first call | drained keys admitted on return |");
  console.log("|---|---:|---:|---:|");
  for (const take of [1, 5]) {
    for (const [label, options] of algorithms(5, 60_000)) {
      const r = flood(options, 100_000, take);
      console.log(
        `| ${label} | ${take} of 5 | ${pct(r.refused, r.newcomers)} (${fmt(r.refused)} of ${fmt(r.newcomers)}) | ${
          take === 5 ? `${pct(r.fresh, r.returning)} (${fmt(r.fresh)} of ${fmt(r.returning)})` : "—"
        } |`,
      );
    }
  }
  console.log("\n## drained keys admitted on return, by flood size (fixed window, limit 5, maxKeys 1,000: 2,048 summary slots)");
  console.log("| distinct keys in the window | newcomers refused | summaries dropped | drained keys admitted on return |");
  console.log("|---:|---:|---:|---:|");
  for (const keys of [1_500, 2_000, 3_000, 5_000, 10_000, 100_000]) {
    const r = flood({ algorithm: "fixed-window", limit: 5, windowMs: 60_000 }, keys, 5);
    console.log(
      `| ${fmt(keys)} | ${pct(r.refused, r.newcomers)} | ${fmt(r.dropped)} | ${pct(r.fresh, r.returning)} (${
        fmt(r.fresh)
      } of ${fmt(r.returning)}) |`,
    );
  }
}
