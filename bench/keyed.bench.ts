// KeyedRateLimiter.tryAcquire over 1, 1,000 and 100,000 keys in use, taken
// round-robin (a hit is one probe of the limiter's own key index and two
// writes to the key's row, no reorder), and the live memory each limiter
// holds afterwards (heap and typed arrays), in one process
// (bench/harness.ts says how it measures), beside the floor of any per-key
// state kept in a Map (find the key's object, read the clock, write a
// field): with 100,000 keys that lookup misses the CPU caches, and no
// limiter built on a Map can be faster (this one is not built on a Map).
// bench/keyed_memory.ts feeds one limiter a million distinct keys.
//
//   npm run bench -- keyed                      all four runtimes
//   npx --yes -p node@24 node --expose-gc bench/keyed.bench.ts [--quick]
//
// Imports bulwark from dist/ (`npm run build` first).
import { formatBytes, liveHeapBytes, runBench, type Group, type Target } from "./harness.ts";
import { bulwark } from "./bulwark.ts";

const { KeyedRateLimiter } = bulwark;
const HUGE = 1e12;
// The default bound: 100,000 keys in use all fit.
const MAX_KEYS = 100_000;
const SIZES = [1, 1_000, 100_000] as const;

function keyGroup(size: number): Group {
  const keys = Array.from({ length: size }, (_, i) => `user-${i}`);
  let next = 0;
  // The same key choice in the baseline and the case.
  const key = (): string => {
    const chosen = keys[next]!;
    next = next + 1 === size ? 0 : next + 1;
    return chosen;
  };
  const before = liveHeapBytes();
  const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: HUGE, perMs: 1_000, maxKeys: MAX_KEYS });
  for (const name of keys) limiter.tryAcquire(name);
  const after = liveHeapBytes();
  // The floor of any per-key state held in a Map: find the key's object,
  // read the clock, write one field. Built after the limiter, so that its
  // memory is not billed to the limiter's heap figure.
  const floor = new Map<string, { lastUsedMs: number; state: { anchorMs: number } }>();
  for (const name of keys) floor.set(name, { lastUsedMs: 0.5, state: { anchorMs: 0.5 } });
  const label = size.toLocaleString("en");
  return {
    id: `keys-${size}`,
    title: `KeyedRateLimiter.tryAcquire, ${label} key${size === 1 ? "" : "s"} round-robin (sync)`,
    baseline: { name: "bare key choice", by: "baseline", call: key },
    cases: [
      { name: "bulwark KeyedRateLimiter.tryAcquire(key)", by: "bulwark", call: () => limiter.tryAcquire(key()) },
      {
        name: "Map.get(key), performance.now(), one field written (floor)",
        by: "platform",
        call: () => {
          const entry = floor.get(key())!;
          entry.lastUsedMs = performance.now();
          return entry;
        },
      },
    ],
    after: () => [
      `${limiter.stats.keys.toLocaleString("en")} ${limiter.stats.keys === 1 ? "key" : "keys"} held, ${limiter.stats.evictedKeys} evicted; ` +
        (before === undefined || after === undefined
          ? "live memory not measured (no collector)"
          : `live memory of the limiter with its keys (heap and typed arrays): ${formatBytes(after - before)}` +
            (size > 1 ? ` (${((after - before) / size).toFixed(0)} B per key, key strings excluded)` : "")),
    ],
  };
}

// One limiter built and dropped first, so that one-time allocations (code,
// shared tables) are not billed to the first size measured.
new KeyedRateLimiter({ algorithm: "token-bucket", rate: HUGE, perMs: 1_000, maxKeys: MAX_KEYS }).tryAcquire("warm-up");
const groups = SIZES.map(keyGroup);

const targets: Target[] = [
  {
    text: "keyed limiter at 100k keys within 2x of one key (added ns)",
    check: (figure) => {
      const one = figure("keys-1", "bulwark KeyedRateLimiter.tryAcquire(key)");
      const many = figure("keys-100000", "bulwark KeyedRateLimiter.tryAcquire(key)");
      if (one === undefined || many === undefined) return undefined;
      const ratio = many.addedNs / one.addedNs;
      return { value: `${ratio.toFixed(2)}x (+${many.addedNs.toFixed(0)} vs +${one.addedNs.toFixed(0)} ns)`, met: ratio <= 2 };
    },
  },
];

await runBench("bench/keyed.bench.ts", groups, targets);
