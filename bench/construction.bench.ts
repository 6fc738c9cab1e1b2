// Construction: what building one breaker or policy costs, beside
// cockatiel's equivalents, in one process. Options are validated once, at
// construction (zod/mini), so this is where validation shows.
//
//   npx --yes -p node@24 node bench/construction.bench.ts
//
// Node >= 22.18 runs this file as is (type stripping); cockatiel 4 needs
// Node >= 22. Two harnesses: mitata (median per construction, GC included),
// then the best of alternating rounds of 30 000 constructions per variant,
// in wall time and in CPU time (noise only ever adds time, so the best
// round is the steadiest figure on a busy machine). Ratios go to
// docs/benchmarks.md.
import {
  bulkhead as cockatielBulkhead,
  circuitBreaker as cockatielBreaker,
  ConsecutiveBreaker,
  CountBreaker,
  ExponentialBackoff,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  TimeoutStrategy,
} from "cockatiel";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { Bulkhead } from "../src/bulkhead.ts";
import { CircuitBreaker } from "../src/breaker/circuit_breaker.ts";
import { RetryPolicy } from "../src/retry.ts";
import { TimeoutPolicy } from "../src/timeout.ts";

const groups: Array<[string, Array<[string, () => unknown]>]> = [
  ["circuit breaker, consecutive failures", [
    ["bulwark new CircuitBreaker", () => new CircuitBreaker({ maxFailures: 5, resetTimeoutMs: 10_000 })],
    [
      "cockatiel circuitBreaker",
      () => cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    ],
  ]],
  ["circuit breaker, count window", [
    [
      "bulwark new CircuitBreaker",
      () => new CircuitBreaker({ windowSize: 100, failureRateThreshold: 0.5, resetTimeoutMs: 10_000 }),
    ],
    [
      "cockatiel circuitBreaker",
      () => cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new CountBreaker({ threshold: 0.5, size: 100 }) }),
    ],
  ]],
  ["retry", [
    ["bulwark new RetryPolicy", () => new RetryPolicy({ maxAttempts: 3 })],
    ["cockatiel retry", () => cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() })],
  ]],
  ["timeout", [
    ["bulwark new TimeoutPolicy", () => new TimeoutPolicy({ timeoutMs: 1_000 })],
    ["cockatiel timeout", () => cockatielTimeout(1_000, TimeoutStrategy.Cooperative)],
  ]],
  ["bulkhead", [
    ["bulwark new Bulkhead", () => new Bulkhead({ maxConcurrent: 10 })],
    ["cockatiel bulkhead", () => cockatielBulkhead(10)],
  ]],
];

// Warm up: the first construction builds the schemas (once per process).
for (const [, cases] of groups) for (const [, make] of cases) for (let i = 0; i < 20_000; i++) make();

// mitata's aliases must be unique: each name carries its group's title.
const alias = (title: string, name: string): string => `${name} (${title})`;
for (const [title, cases] of groups) {
  summary(() => {
    group(title, () => {
      for (const [name, make] of cases) bench(alias(title, name), () => do_not_optimize(make()));
    });
  });
}

const { benchmarks } = await run();

console.log("\nbulwark / cockatiel, per construction (median ns):");
for (const [title, [ours, theirs]] of groups) {
  const p50 = (name: string): number =>
    benchmarks.find((trial) => trial.alias === alias(title, name))?.runs[0]?.stats?.p50 ?? NaN;
  const a = p50(ours![0]);
  const b = p50(theirs![0]);
  console.log(`  ${title.padEnd(40)} ${a.toFixed(0).padStart(6)} ns / ${b.toFixed(0).padStart(6)} ns = ${(a / b).toFixed(2)}x`);
}

// Best of rounds: every variant in turn, nine times; each keeps its best
// round, in wall time and in the process's CPU time (`process.cpuUsage`,
// user + system: on a machine shared with other jobs, time spent
// descheduled is not the code's, and wall time then says little).
const ROUND = 30_000;
const best = new Map<string, number>();
const bestCpu = new Map<string, number>();
for (let round = 0; round < 9; round++) {
  for (const [title, cases] of groups) {
    for (const [name, make] of cases) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < ROUND; i++) do_not_optimize(make());
      const ns = ((performance.now() - started) * 1e6) / ROUND;
      const used = process.cpuUsage(cpu);
      const cpuNs = ((used.user + used.system) * 1e3) / ROUND;
      const key = alias(title, name);
      best.set(key, Math.min(best.get(key) ?? Infinity, ns));
      bestCpu.set(key, Math.min(bestCpu.get(key) ?? Infinity, cpuNs));
    }
  }
}
for (const [label, figures] of [["wall", best], ["CPU", bestCpu]] as const) {
  console.log(`\nbest of 9 rounds of 30 000, ${label} time, bulwark / cockatiel (ns per construction):`);
  for (const [title, [ours, theirs]] of groups) {
    const a = figures.get(alias(title, ours![0]))!;
    const b = figures.get(alias(title, theirs![0]))!;
    console.log(`  ${title.padEnd(40)} ${a.toFixed(0).padStart(6)} ns / ${b.toFixed(0).padStart(6)} ns = ${(a / b).toFixed(2)}x`);
  }
}
