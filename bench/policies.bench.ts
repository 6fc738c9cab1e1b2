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

summary(() => {
  group("retry (success, no failure)", () => {
    bench("bare await fn()", async () => do_not_optimize(await fn()));
    bench("bulwark RetryPolicy", async () => do_not_optimize(await ourRetry.execute(fn)));
    bench("cockatiel retry", async () => do_not_optimize(await theirRetry.execute(fn)));
    bench("p-retry", async () => do_not_optimize(await pRetry(fn, { retries: 2 })));
  });
});

summary(() => {
  group("timeout (settles in time)", () => {
    bench("bare await fn()", async () => do_not_optimize(await fn()));
    bench("bulwark TimeoutPolicy cooperative", async () => do_not_optimize(await ourCooperative.execute(fn)));
    bench("bulwark TimeoutPolicy aggressive", async () => do_not_optimize(await ourAggressive.execute(fn)));
    bench(
      "bulwark cooperative, fn reads signal",
      async () => do_not_optimize(await ourCooperative.execute(async ({ signal }) => signal.aborted)),
    );
    bench("cockatiel timeout cooperative", async () => do_not_optimize(await theirCooperative.execute(fn)));
    bench("cockatiel timeout aggressive", async () => do_not_optimize(await theirAggressive.execute(fn)));
    bench("p-timeout", async () => do_not_optimize(await pTimeout(fn(), { milliseconds: 1_000 })));
  });
});

summary(() => {
  group("bulkhead (slot free)", () => {
    bench("bare await fn()", async () => do_not_optimize(await fn()));
    bench("bulwark Bulkhead", async () => do_not_optimize(await ourBulkhead.execute(fn)));
    bench("cockatiel bulkhead", async () => do_not_optimize(await theirBulkhead.execute(fn)));
    bench("p-limit", async () => do_not_optimize(await limit(fn)));
  });
});

summary(() => {
  group("pipeline: bulkhead + breaker + retry + timeout", () => {
    bench("bare await fn()", async () => do_not_optimize(await fn()));
    bench("bulwark CircuitBreaker alone", async () => do_not_optimize(await ourBreaker.execute(fn)));
    bench("bulwark ResiliencePipeline", async () => do_not_optimize(await ourPipeline.execute(fn)));
    bench("cockatiel wrap(...)", async () => do_not_optimize(await theirPipeline.execute(fn)));
  });
});

const { benchmarks } = await run();

// Ratios to the bare call of each group, by mean and by median (the median
// holds up better on a busy machine). These are what docs/benchmarks.md records.
console.log("\nratio to bare await fn() (mean / median):");
let bare = { avg: 1, p50: 1 };
for (const trial of benchmarks) {
  const stats = trial.runs[0]?.stats;
  if (stats === undefined) continue;
  if (trial.alias === "bare await fn()") bare = stats;
  console.log(
    `  ${trial.alias.padEnd(42)} ${(stats.avg / bare.avg).toFixed(2).padStart(6)}x ${(stats.p50 / bare.p50).toFixed(2).padStart(6)}x`,
  );
}
