// Rate-limiter overhead, beside a bare call and the competing libraries, in
// one process:
//
//   npx --yes -p node@24 node bench/rate_limit.bench.ts
//
// Node >= 22.18 runs this file as is (type stripping). Results go to
// docs/benchmarks.md as ratios to the bare call. Limits are set so high that
// every call is admitted (the path that matters), except in the "refused"
// group.
import Bottleneck from "bottleneck";
import { RateLimiter as NpmLimiter } from "limiter";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { RateLimiterMemory } from "rate-limiter-flexible";
import {
  FixedWindowLimiter,
  GcraLimiter,
  KeyedRateLimiter,
  RateLimiter,
  rateLimiter,
  SlidingWindowLimiter,
} from "../src/rate_limit/mod.ts";

const HUGE = 1e12;
const syncFn = (): number => 1;
const asyncFn = async (): Promise<number> => 1;

const tokenBucket = new RateLimiter({ rate: HUGE, perMs: 1_000 });
const gcra = new GcraLimiter({ rate: HUGE, perMs: 1_000 });
const slidingCounter = new SlidingWindowLimiter({ limit: Number.MAX_SAFE_INTEGER, windowMs: 1_000, approximate: true });
// The exact log keeps one slot per unit in the window: a 1 ms window of 10⁶.
const slidingLog = new SlidingWindowLimiter({ limit: 1_000_000, windowMs: 1 });
const fixedWindow = new FixedWindowLimiter({ limit: Number.MAX_SAFE_INTEGER, windowMs: 1_000 });
const keyed = new KeyedRateLimiter({ algorithm: "token-bucket", rate: HUGE, perMs: 1_000 });
const decorated = rateLimiter(asyncFn, { rate: HUGE, perMs: 1_000 });

const npmLimiter = new NpmLimiter({ tokensPerInterval: HUGE, interval: "second" });
const flexible = new RateLimiterMemory({ points: HUGE, duration: 1 });
const bottleneck = new Bottleneck();

const emptyBucket = new RateLimiter({ rate: 1, perMs: 3_600_000 });
emptyBucket.tryAcquire();
const emptyNpm = new NpmLimiter({ tokensPerInterval: 1, interval: "hour" });
emptyNpm.tryRemoveTokens(1);

type Case = readonly [name: string, call: () => unknown];

const syncCases: Case[] = [
  ["bare fn()", syncFn],
  ["bulwark RateLimiter.tryAcquire (token bucket)", () => tokenBucket.tryAcquire()],
  ["bulwark GcraLimiter.tryAcquire", () => gcra.tryAcquire()],
  ["bulwark SlidingWindowLimiter.tryAcquire (approximate)", () => slidingCounter.tryAcquire()],
  ["bulwark SlidingWindowLimiter.tryAcquire (exact log)", () => slidingLog.tryAcquire()],
  ["bulwark FixedWindowLimiter.tryAcquire", () => fixedWindow.tryAcquire()],
  ["bulwark KeyedRateLimiter.tryAcquire (token bucket)", () => keyed.tryAcquire("user-42")],
  ["limiter RateLimiter.tryRemoveTokens(1)", () => npmLimiter.tryRemoveTokens(1)],
];

const refusedCases: Case[] = [
  ["bare fn()", syncFn],
  ["bulwark RateLimiter.tryAcquire (refused)", () => emptyBucket.tryAcquire()],
  ["limiter RateLimiter.tryRemoveTokens(1) (refused)", () => emptyNpm.tryRemoveTokens(1)],
];

const asyncCases: Case[] = [
  ["bare await fn()", asyncFn],
  ["bulwark await RateLimiter.acquire()", () => tokenBucket.acquire()],
  ["bulwark rateLimiter(fn) call", decorated],
  ["rate-limiter-flexible RateLimiterMemory.consume(key)", () => flexible.consume("user-42")],
  ["bottleneck schedule(fn) (no limits)", () => bottleneck.schedule(asyncFn)],
];

// The first group runs while the token bucket is the only limiter the
// process has used, as in an application with one kind of limiter: its call
// sites stay monomorphic. The later groups exercise every algorithm, so the
// shared sites see five kinds, which costs V8 an inline-cache lookup.
const alone: Case[] = [
  ["bare fn()", syncFn],
  ["performance.now() (the clock read inside)", () => performance.now()],
  ["bulwark RateLimiter.tryAcquire (token bucket)", () => tokenBucket.tryAcquire()],
  ["limiter RateLimiter.tryRemoveTokens(1)", () => npmLimiter.tryRemoveTokens(1)],
];
for (const [, call] of alone) for (let i = 0; i < 200_000; i++) call();

summary(() => {
  group("tryAcquire, admitted, one algorithm in the process (sync)", () => {
    for (const [name, call] of alone) bench(name, () => do_not_optimize(call()));
  });
});
summary(() => {
  group("tryAcquire, admitted (sync)", () => {
    for (const [name, call] of syncCases) bench(name, () => do_not_optimize(call()));
  });
});
summary(() => {
  group("tryAcquire, refused (sync)", () => {
    for (const [name, call] of refusedCases) bench(name, () => do_not_optimize(call()));
  });
});
summary(() => {
  group("acquire, admitted (async)", () => {
    for (const [name, call] of asyncCases) bench(name, async () => do_not_optimize(await call()));
  });
});

await run();
await bottleneck.stop();
