// Every rate-limiting algorithm's `tryAcquire` in one process, admitted:
// the limiters share code (`AlgorithmLimiter`), whose call sites turn
// polymorphic once several kinds run, as in an application that uses them
// all. bench/rate_limit.bench.ts measures the token bucket alone.
//
//   npm run bench -- rate_limit_algorithms      all four runtimes
//   npx --yes -p node@24 node --expose-gc bench/rate_limit_algorithms.bench.ts [--quick]
//
// Imports bulwark from dist/ (`npm run build` first).
import { caseOf, load, runBench, type Group } from "./harness.ts";
import { bulwark } from "./bulwark.ts";

const { FixedWindowLimiter, GcraLimiter, KeyedRateLimiter, RateLimiter, SlidingWindowLimiter } = bulwark;
const limiter = await load(() => import("limiter"));

const HUGE = 1e12;
const tokenBucket = new RateLimiter({ rate: HUGE, perMs: 1_000 });
const gcra = new GcraLimiter({ rate: HUGE, perMs: 1_000 });
const slidingCounter = new SlidingWindowLimiter({ limit: Number.MAX_SAFE_INTEGER, windowMs: 1_000, approximate: true });
// The exact log keeps one slot per unit in the window: a 1 ms window of 10⁶.
const slidingLog = new SlidingWindowLimiter({ limit: 1_000_000, windowMs: 1 });
const fixedWindow = new FixedWindowLimiter({ limit: Number.MAX_SAFE_INTEGER, windowMs: 1_000 });
const keyed = new KeyedRateLimiter({ algorithm: "token-bucket", rate: HUGE, perMs: 1_000 });

const groups: Group[] = [
  {
    id: "algorithms",
    title: "tryAcquire, admitted, every algorithm in the process (sync)",
    baseline: { name: "bare fn()", by: "baseline", call: () => 1 },
    cases: [
      { name: "performance.now() (the clock read inside)", by: "platform", call: () => performance.now() },
      { name: "bulwark RateLimiter (token bucket)", by: "bulwark", call: () => tokenBucket.tryAcquire() },
      { name: "bulwark GcraLimiter", by: "bulwark", call: () => gcra.tryAcquire() },
      { name: "bulwark SlidingWindowLimiter (approximate)", by: "bulwark", call: () => slidingCounter.tryAcquire() },
      { name: "bulwark SlidingWindowLimiter (exact log)", by: "bulwark", call: () => slidingLog.tryAcquire() },
      { name: "bulwark FixedWindowLimiter", by: "bulwark", call: () => fixedWindow.tryAcquire() },
      { name: "bulwark KeyedRateLimiter (token bucket, one key)", by: "bulwark", call: () => keyed.tryAcquire("user-42") },
      caseOf("limiter RateLimiter.tryRemoveTokens(1)", "limiter", limiter, (l) => {
        const npm = new l.RateLimiter({ tokensPerInterval: HUGE, interval: "second" });
        return () => npm.tryRemoveTokens(1);
      }),
    ],
  },
];

await runBench("bench/rate_limit_algorithms.bench.ts", groups);
