// Rate limiting with one algorithm in the process (the token bucket), as in
// an application that uses one kind of limiter: `tryAcquire` admitted and
// refused, and the async forms, beside a bare call and the competing
// libraries, in one process (bench/harness.ts says how it measures).
// bench/rate_limit_algorithms.bench.ts measures every algorithm together.
//
//   npm run bench -- rate_limit                 all four runtimes
//   npx --yes -p node@24 node --expose-gc bench/rate_limit.bench.ts [--quick]
//
// Limits are so high that every call is admitted, except where refused.
// Imports bulwark from dist/ (`npm run build` first).
import { caseOf, load, runBench, type Group } from "./harness.ts";
import { bulwark } from "./bulwark.ts";

const { RateLimiter, rateLimiter } = bulwark;
const limiter = await load(() => import("limiter"));
const flexible = await load(() => import("rate-limiter-flexible"));
const Bottleneck = await load(async () => (await import("bottleneck")).default);

const HUGE = 1e12;
const syncFn = (): number => 1;
const asyncFn = async (): Promise<number> => 1;

const tokenBucket = new RateLimiter({ rate: HUGE, perMs: 1_000 });
const emptyBucket = new RateLimiter({ rate: 1, perMs: 3_600_000 });
emptyBucket.tryAcquire();
const decorated = rateLimiter(asyncFn, { rate: HUGE, perMs: 1_000 });

// A sync bare call is inlined to about nothing, so the sync groups also
// show the clock read every limiter makes, `performance.now()`.
const syncBare: Group["baseline"] = { name: "bare fn()", by: "baseline", call: syncFn };
const clock = { name: "performance.now() (the clock read inside)", by: "platform", call: () => performance.now() };

const groups: Group[] = [
  {
    id: "admitted",
    title: "tryAcquire, admitted (sync)",
    baseline: syncBare,
    cases: [
      clock,
      { name: "bulwark RateLimiter.tryAcquire (token bucket)", by: "bulwark", call: () => tokenBucket.tryAcquire() },
      caseOf("limiter RateLimiter.tryRemoveTokens(1)", "limiter", limiter, (l) => {
        const npm = new l.RateLimiter({ tokensPerInterval: HUGE, interval: "second" });
        return () => npm.tryRemoveTokens(1);
      }),
    ],
  },
  {
    id: "refused",
    title: "tryAcquire, refused: bucket empty (sync)",
    baseline: syncBare,
    cases: [
      clock,
      { name: "bulwark RateLimiter.tryAcquire (token bucket)", by: "bulwark", call: () => emptyBucket.tryAcquire() },
      caseOf("limiter RateLimiter.tryRemoveTokens(1)", "limiter", limiter, (l) => {
        const empty = new l.RateLimiter({ tokensPerInterval: 1, interval: "hour" });
        empty.tryRemoveTokens(1);
        return () => empty.tryRemoveTokens(1);
      }),
    ],
  },
  {
    id: "async",
    title: "acquire, admitted (async)",
    baseline: { name: "bare fn()", by: "baseline", call: () => asyncFn() },
    cases: [
      { name: "bulwark RateLimiter.acquire()", by: "bulwark", call: () => tokenBucket.acquire() },
      { name: "bulwark rateLimiter(fn) call (acquire, then fn)", by: "bulwark", call: () => decorated() },
      caseOf("rate-limiter-flexible RateLimiterMemory.consume(key)", "rate-limiter-flexible", flexible, (f) => {
        const memory = new f.RateLimiterMemory({ points: HUGE, duration: 1 });
        return () => memory.consume("user-42");
      }),
      caseOf("bottleneck schedule(fn), no limits set", "bottleneck", Bottleneck, (B) => {
        const instance = new B();
        return () => instance.schedule(asyncFn);
      }),
    ],
  },
];

await runBench("bench/rate_limit.bench.ts", groups);
