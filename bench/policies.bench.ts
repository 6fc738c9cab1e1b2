// Retry, timeout, bulkhead and pipeline overhead on the success path, beside
// a bare `await fn()` and the competing libraries, in one process.
//
//   npx --yes -p node@24 node bench/policies.bench.ts
//
// Node >= 22.18 runs this file as is (type stripping); cockatiel 4 needs
// Node >= 22. Results go to docs/benchmarks.md as ratios to the bare call.
import {
  bulkhead as cockatielBulkhead,
  circuitBreaker as cockatielBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap,
} from "cockatiel";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { printRatios } from "./ratios.ts";
import pLimit from "p-limit";
import pRetry from "p-retry";
import pTimeout from "p-timeout";
import { Bulkhead } from "../src/bulkhead.ts";
import { CircuitBreaker } from "../src/circuit_breaker.ts";
import { ResiliencePipeline } from "../src/pipeline.ts";
import { RetryPolicy } from "../src/retry.ts";
import { TimeoutPolicy } from "../src/timeout.ts";

const fn = async (): Promise<number> => 1;

const ourRetry = new RetryPolicy({ maxAttempts: 3 });
const theirRetry = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() });

const ourCooperative = new TimeoutPolicy({ timeoutMs: 1_000 });
const ourAggressive = new TimeoutPolicy({ timeoutMs: 1_000, strategy: "aggressive" });
const theirCooperative = cockatielTimeout(1_000, TimeoutStrategy.Cooperative);
const theirAggressive = cockatielTimeout(1_000, TimeoutStrategy.Aggressive);

const ourBulkhead = new Bulkhead({ maxConcurrent: 10 });
const theirBulkhead = cockatielBulkhead(10);
const limit = pLimit(10);

const ourPipeline = new ResiliencePipeline({
  bulkhead: { maxConcurrent: 10 },
  circuitBreaker: { maxFailures: 5 },
  retry: { maxAttempts: 3 },
  timeout: { timeoutMs: 1_000 },
});
const theirPipeline = wrap(
  cockatielBulkhead(10),
  cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
  cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  cockatielTimeout(1_000, TimeoutStrategy.Cooperative),
);
const ourBreaker = new CircuitBreaker({ maxFailures: 5 });

const groups: Array<[string, Array<[string, () => Promise<unknown>]>]> = [
  ["retry (success, no failure)", [
    ["bare await fn()", () => fn()],
    ["bulwark RetryPolicy", () => ourRetry.execute(fn)],
    ["cockatiel retry", () => theirRetry.execute(fn)],
    ["p-retry", () => pRetry(fn, { retries: 2 })],
  ]],
  ["timeout (settles in time)", [
    ["bare await fn()", () => fn()],
    ["bulwark TimeoutPolicy cooperative", () => ourCooperative.execute(fn)],
    ["bulwark TimeoutPolicy aggressive", () => ourAggressive.execute(fn)],
    ["bulwark cooperative, fn reads signal", () => ourCooperative.execute(async ({ signal }) => signal.aborted)],
    ["cockatiel timeout cooperative", () => theirCooperative.execute(fn)],
    ["cockatiel timeout aggressive", () => theirAggressive.execute(fn)],
    ["p-timeout", () => pTimeout(fn(), { milliseconds: 1_000 })],
  ]],
  ["bulkhead (slot free)", [
    ["bare await fn()", () => fn()],
    ["bulwark Bulkhead", () => ourBulkhead.execute(fn)],
    ["cockatiel bulkhead", () => theirBulkhead.execute(fn)],
    ["p-limit", () => limit(fn)],
  ]],
  ["pipeline: bulkhead + breaker + retry + timeout", [
    ["bare await fn()", () => fn()],
    ["bulwark CircuitBreaker alone", () => ourBreaker.execute(fn)],
    ["bulwark ResiliencePipeline", () => ourPipeline.execute(fn)],
    ["cockatiel wrap(...)", () => theirPipeline.execute(fn)],
  ]],
];

// Warm every path up first (as bench/circuit_breaker.bench.ts does), so that
// mitata measures steady state, not the JIT: unwarmed, the pipeline's
// deeper call chain was still being optimized during its samples and
// measured 3.2x instead of 2.6x.
for (const [, cases] of groups) {
  for (const [, call] of cases) for (let i = 0; i < 300_000; i++) await call();
}

for (const [title, cases] of groups) {
  summary(() => {
    group(title, () => {
      for (const [name, call] of cases) bench(name, async () => do_not_optimize(await call()));
    });
  });
}

const { benchmarks } = await run();

printRatios(benchmarks);
