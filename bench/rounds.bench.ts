// A quieter cross-check of the mitata figures on a shared machine: alternate
// short rounds of sequential calls between the variants and keep each
// variant's best round, so that noise from other jobs (which only ever adds
// time) mostly drops out.
//
//   npx --yes -p node@24 node bench/rounds.bench.ts [rounds] [callsPerRound]
//
// (`npm run bench` runs it with the mitata files.)
import { Bulkhead } from "../src/bulkhead.ts";
import { CircuitBreaker } from "../src/circuit_breaker.ts";
import { withoutFusion } from "../src/internal/fused.ts";
import { ResiliencePipeline } from "../src/pipeline.ts";
import { RetryPolicy } from "../src/retry.ts";
import { TimeoutPolicy } from "../src/timeout.ts";

const rounds = Number(process.argv[2] ?? 15);
const calls = Number(process.argv[3] ?? 200_000);

const fn = async (): Promise<number> => 1;
const retry = new RetryPolicy({ maxAttempts: 3 });
const cooperative = new TimeoutPolicy({ timeoutMs: 1_000 });
const aggressive = new TimeoutPolicy({ timeoutMs: 1_000, strategy: "aggressive" });
const bulkhead = new Bulkhead({ maxConcurrent: 10 });
const breaker = new CircuitBreaker({ maxFailures: 5 });
const pipelineOptions = {
  bulkhead: { maxConcurrent: 10 },
  circuitBreaker: { maxFailures: 5 },
  retry: { maxAttempts: 3 },
  timeout: { timeoutMs: 1_000 },
};
const pipeline = new ResiliencePipeline(pipelineOptions);
// The same pipeline with every layer in turn, as before fusion.
const layered = withoutFusion(() => new ResiliencePipeline(pipelineOptions));

// Each iteration is an async function awaiting one call, as mitata's
// `bench(name, async () => do_not_optimize(await call()))` measures it.
const variants: Record<string, () => Promise<number>> = {
  "bare await fn()": async () => await fn(),
  "breaker": async () => await breaker.execute(fn),
  "retry": async () => await retry.execute(fn),
  "timeout, cooperative": async () => await cooperative.execute(fn),
  "timeout, aggressive": async () => await aggressive.execute(fn),
  "bulkhead": async () => await bulkhead.execute(fn),
  "pipeline": async () => await pipeline.execute(fn),
  "pipeline, layered": async () => await layered.execute(fn),
};

async function round(call: () => Promise<number>): Promise<number> {
  let sink = 0;
  const start = performance.now();
  for (let i = 0; i < calls; i++) sink += await call();
  const elapsed = performance.now() - start;
  if (sink !== calls) throw new Error("wrong result");
  return (elapsed * 1e6) / calls;
}

const best: Record<string, number> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, call] of Object.entries(variants)) {
    const ns = await round(call);
    best[name] = Math.min(best[name] ?? Infinity, ns);
  }
}
const bare = best["bare await fn()"]!;
console.log(`best of ${rounds} rounds of ${calls} calls, ${process.version}`);
for (const [name, ns] of Object.entries(best)) {
  console.log(`${name.padEnd(24)} ${ns.toFixed(1).padStart(7)} ns  ${(ns / bare).toFixed(2)}x`);
}
