// The healthy call of a shared circuit breaker (a `store`, issue 9) beside
// the same breaker without one and a direct bare call, in one process
// (bench/harness.ts says how it measures). The store is a MemoryStore
// counted by CountingStore: the healthy path must make no store I/O (one
// background read per `refreshMs`, 1 s by default, is all).
//
//   npm run bench -- shared_breaker            all four runtimes
//   npx --yes -p node@24 node --expose-gc --import ./bench/ts_hooks.mjs bench/shared_breaker.bench.ts [--quick]
//
// Imports bulwark from dist/ (`npm run build` first).
import { runBench, type Group, type Target } from "./harness.ts";
import { bulwark, testing } from "./bulwark.ts";

const { CircuitBreaker, MemoryStore } = bulwark;
const { CountingStore } = testing;

const fn = async (): Promise<number> => 1;

const local = new CircuitBreaker({ maxFailures: 5 });
const store = new CountingStore(new MemoryStore());
const shared = new CircuitBreaker({ name: "bench", store, maxFailures: 5 });
// The first call reads the shared state; the healthy path starts after it.
await shared.execute(fn);
const opsBefore = store.total;
const started = performance.now();

const groups: Group[] = [
  {
    id: "healthy",
    title: "closed circuit, healthy call: shared (MemoryStore) beside local",
    baseline: { name: "bare fn()", by: "baseline", call: () => fn() },
    cases: [
      { name: "bulwark CircuitBreaker, local", by: "bulwark", call: () => local.execute(fn) },
      { name: "bulwark CircuitBreaker, shared (store)", by: "bulwark", call: () => shared.execute(fn) },
    ],
    after: () => {
      const seconds = (performance.now() - started) / 1_000;
      return [
        `store operations during the run: ${store.total - opsBefore} (${JSON.stringify(store.counts)}) in ${seconds.toFixed(1)} s ` +
        `(refreshMs 1000: one read per second at most), shared breaker ${shared.state}`,
      ];
    },
  },
];

const targets: Target[] = [
  {
    text: "shared breaker's healthy call within 1.1x of a local breaker's",
    check: (figure) => {
      const ours = figure("healthy", "bulwark CircuitBreaker, shared (store)");
      const localFigure = figure("healthy", "bulwark CircuitBreaker, local");
      if (ours === undefined || localFigure === undefined) return undefined;
      const ratio = ours.ns / localFigure.ns;
      return { value: `${ratio.toFixed(3)}x (${ours.ns.toFixed(1)} vs ${localFigure.ns.toFixed(1)} ns)`, met: ratio <= 1.1 };
    },
  },
];

await runBench("bench/shared_breaker.bench.ts", groups, targets);
