// Circuit-breaker overhead on a closed circuit around an async no-op, beside
// a bare `await fn()` and the competing libraries, in one process.
//
//   npx --yes -p node@24 node bench/circuit_breaker.bench.ts
//
// Node >= 22.18 runs this file as is (type stripping); cockatiel 4 and
// opossum 10 need Node >= 22. Results go to docs/benchmarks.md as ratios to
// the bare call.
import {
  circuitBreaker as cockatielBreaker,
  ConsecutiveBreaker,
  CountBreaker,
  handleAll,
  SamplingBreaker,
} from "cockatiel";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { printRatios } from "./ratios.ts";
import Opossum from "opossum";
import { CircuitBreaker } from "../src/circuit_breaker.ts";

const fn = async (): Promise<number> => 1;

const consecutive = new CircuitBreaker({ maxFailures: 5 });
const countWindow = new CircuitBreaker({ windowSize: 100, failureRateThreshold: 0.5 });
const timeWindow = new CircuitBreaker({ windowMs: 10_000, failureRateThreshold: 0.5 });

const cockatielConsecutive = cockatielBreaker(handleAll, {
  halfOpenAfter: 10_000,
  breaker: new ConsecutiveBreaker(5),
});
const cockatielCount = cockatielBreaker(handleAll, {
  halfOpenAfter: 10_000,
  breaker: new CountBreaker({ threshold: 0.5, size: 100 }),
});
const cockatielSampling = cockatielBreaker(handleAll, {
  halfOpenAfter: 10_000,
  breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
});

// opossum's own timeout adds a timer per call: measured both ways.
const opossumNoTimeout = new Opossum(fn, { timeout: false, resetTimeout: 10_000 });
const opossumDefault = new Opossum(fn, { resetTimeout: 10_000 });

type Case = readonly [name: string, call: () => Promise<unknown>];

const consecutiveCases: Case[] = [
  ["bare await fn()", fn],
  ["bulwark CircuitBreaker (consecutive)", () => consecutive.execute(fn)],
  ["cockatiel ConsecutiveBreaker", () => cockatielConsecutive.execute(fn)],
  ["opossum fire (timeout: false)", () => opossumNoTimeout.fire()],
  ["opossum fire (default 10 s timeout)", () => opossumDefault.fire()],
];
const windowCases: Case[] = [
  ["bare await fn()", fn],
  ["bulwark CircuitBreaker (windowSize: 100)", () => countWindow.execute(fn)],
  ["bulwark CircuitBreaker (windowMs: 10 s)", () => timeWindow.execute(fn)],
  ["cockatiel CountBreaker (size 100)", () => cockatielCount.execute(fn)],
  ["cockatiel SamplingBreaker (10 s)", () => cockatielSampling.execute(fn)],
];

// Warm every path up first, so that the first bench of a group (the bare
// baseline) is not the one that pays for the JIT.
for (const [, call] of [...consecutiveCases, ...windowCases]) {
  for (let i = 0; i < 200_000; i++) await call();
}

for (const [title, cases] of [
  ["closed circuit, consecutive-failures rule", consecutiveCases],
  ["closed circuit, sliding-window rate rule", windowCases],
] as const) {
  summary(() => {
    group(title, () => {
      for (const [name, call] of cases) bench(name, async () => do_not_optimize(await call()));
    });
  });
}

const { benchmarks } = await run();
opossumNoTimeout.shutdown();

printRatios(benchmarks);
opossumDefault.shutdown();
