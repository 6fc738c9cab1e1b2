// Retry, timeout, bulkhead and pipelines on the success path, the function
// forms `retry(fn, options)` and `withTimeout(fn, options)`, and a function
// that reads the timeout's signal beside the platform's own deadline
// signals; each beside a direct bare call and the competing libraries, in
// one process (bench/harness.ts says how it measures).
//
//   npm run bench -- policies                   all four runtimes
//   npx --yes -p node@24 node --expose-gc bench/policies.bench.ts [--quick]
//
// Imports bulwark from dist/ (`npm run build` first).
import { caseOf, load, runBench, type Group, type Target } from "./harness.ts";
import { bulwark, fused, unbundled } from "./bulwark.ts";

const { Bulkhead, ResiliencePipeline, RetryPolicy, TimeoutPolicy, CircuitBreaker, pipeline, retry, withTimeout } = bulwark;
const cockatiel = await load(() => import("cockatiel"));
const pRetry = await load(async () => (await import("p-retry")).default);
const pTimeout = await load(async () => (await import("p-timeout")).default);
const pLimit = await load(async () => (await import("p-limit")).default);

const fn = async (): Promise<number> => 1;
const bare: Group["baseline"] = { name: "bare fn()", by: "baseline", call: () => fn() };

const retryPolicy = new RetryPolicy({ maxAttempts: 3 });
const cooperative = new TimeoutPolicy({ timeoutMs: 1_000 });
const aggressive = new TimeoutPolicy({ timeoutMs: 1_000, strategy: "aggressive" });
const bulkhead = new Bulkhead({ maxConcurrent: 10 });

const pipelineOptions = {
  bulkhead: { maxConcurrent: 10 },
  circuitBreaker: { maxFailures: 5 },
  retry: { maxAttempts: 3 },
  timeout: { timeoutMs: 1_000 },
};
const fusedPipeline = new ResiliencePipeline(pipelineOptions);
// From the modules `withoutFusion` switches (bench/bulwark.ts says why).
const layeredPipeline = fused.withoutFusion(() => new unbundled.ResiliencePipeline(pipelineOptions));
const composed = pipeline(
  new Bulkhead({ maxConcurrent: 10 }),
  new CircuitBreaker({ maxFailures: 5 }),
  new RetryPolicy({ maxAttempts: 3 }),
  new TimeoutPolicy({ timeoutMs: 1_000 }),
);

// A function that reads its deadline signal, and the same function handed a
// signal that already exists (the baseline: no deadline to build).
const readsSignal = async ({ signal }: { signal: AbortSignal }): Promise<number> => (signal.aborted ? 0 : 1);
const existing = { signal: new AbortController().signal };
const abort = (controller: AbortController): void => controller.abort();
// The floor of any wrapper that sees the outcome: one promise reaction with
// its derived promise, the handlers allocated once.
const passValue = (value: number): number => value;
const passError = (error: unknown): never => {
  throw error;
};
// The least a deadline that sees the outcome and can still fire adds: one
// reaction, and one microtask turn after which a still-pending call would
// get its timer (a timer per call, or a clock read per call, costs more).
const settledPromise = Promise.resolve();
const nothing = (): void => {};

const groups: Group[] = [
  {
    id: "retry",
    title: "retry, success on the first attempt (3 attempts allowed)",
    baseline: bare,
    cases: [
      { name: "bulwark RetryPolicy.execute", by: "bulwark", call: () => retryPolicy.execute(fn) },
      caseOf("cockatiel retry (maxAttempts: 2 retries)", "cockatiel", cockatiel, (c) => {
        const policy = c.retry(c.handleAll, { maxAttempts: 2, backoff: new c.ExponentialBackoff() });
        return () => policy.execute(fn);
      }),
      caseOf("p-retry (retries: 2)", "p-retry", pRetry, (run) => () => run(fn, { retries: 2 })),
    ],
  },
  {
    id: "forms",
    title: "function forms beside the class forms",
    baseline: bare,
    cases: [
      { name: "bulwark RetryPolicy.execute(fn)", by: "bulwark", call: () => retryPolicy.execute(fn) },
      { name: "bulwark retry(fn, { maxAttempts: 3 })", by: "bulwark", call: () => retry(fn, { maxAttempts: 3 }) },
      { name: "bulwark TimeoutPolicy.execute(fn)", by: "bulwark", call: () => cooperative.execute(fn) },
      { name: "bulwark withTimeout(fn, { timeoutMs: 1000 })", by: "bulwark", call: () => withTimeout(fn, { timeoutMs: 1_000 }) },
    ],
  },
  {
    id: "timeout",
    title: "timeout 1 s, settles in time",
    baseline: bare,
    cases: [
      { name: "bulwark TimeoutPolicy cooperative", by: "bulwark", call: () => cooperative.execute(fn) },
      { name: "bulwark TimeoutPolicy aggressive", by: "bulwark", call: () => aggressive.execute(fn) },
      caseOf("cockatiel timeout cooperative", "cockatiel", cockatiel, (c) => {
        const policy = c.timeout(1_000, c.TimeoutStrategy.Cooperative);
        return () => policy.execute(fn);
      }),
      caseOf("cockatiel timeout aggressive", "cockatiel", cockatiel, (c) => {
        const policy = c.timeout(1_000, c.TimeoutStrategy.Aggressive);
        return () => policy.execute(fn);
      }),
      caseOf("p-timeout", "p-timeout", pTimeout, (within) => () => within(fn(), { milliseconds: 1_000 })),
    ],
  },
  {
    id: "signal",
    title: "timeout 1 s, the function reads its signal",
    baseline: { name: "bare fn(context), a signal already at hand", by: "baseline", call: () => readsSignal(existing) },
    cases: [
      { name: "bulwark TimeoutPolicy cooperative", by: "bulwark", call: () => cooperative.execute(readsSignal) },
      { name: "bulwark TimeoutPolicy aggressive", by: "bulwark", call: () => aggressive.execute(readsSignal) },
      caseOf("cockatiel timeout cooperative", "cockatiel", cockatiel, (c) => {
        const policy = c.timeout(1_000, c.TimeoutStrategy.Cooperative);
        return () => policy.execute(readsSignal);
      }),
      // The platform's floors for "a signal that aborts at a deadline".
      {
        name: "new AbortController() + setTimeout / clearTimeout",
        by: "platform",
        call: () => {
          const controller = new AbortController();
          const timer = setTimeout(abort, 1_000, controller);
          const done = readsSignal(controller);
          const clear = (): void => clearTimeout(timer);
          done.then(clear, clear);
          return done;
        },
      },
      // The least a lazily armed deadline with a signal costs: the
      // controller, one reaction and one microtask turn (no timer: the
      // call settles before one would be armed).
      {
        name: "new AbortController() + one reaction + one microtask turn",
        by: "platform",
        call: () => {
          const done = readsSignal(new AbortController()).then(passValue, passError);
          void settledPromise.then(nothing);
          return done;
        },
      },
      // Its timer cannot be cleared: it fires a second later, so the
      // harness idles after measuring it rather than bill the next case.
      { name: "AbortSignal.timeout(1000)", by: "platform", call: () => readsSignal({ signal: AbortSignal.timeout(1_000) }), drainMs: 1_100 },
    ],
  },
  {
    id: "bulkhead",
    title: "bulkhead of 10, a slot free",
    baseline: bare,
    cases: [
      { name: "bulwark Bulkhead", by: "bulwark", call: () => bulkhead.execute(fn) },
      caseOf("cockatiel bulkhead(10)", "cockatiel", cockatiel, (c) => {
        const policy = c.bulkhead(10);
        return () => policy.execute(fn);
      }),
      caseOf("p-limit(10)", "p-limit", pLimit, (limit) => {
        const limited = limit(10);
        return () => limited(fn);
      }),
    ],
  },
  {
    id: "pipeline",
    title: "pipeline: bulkhead + breaker + retry + timeout",
    baseline: bare,
    cases: [
      { name: "bulwark ResiliencePipeline (fused)", by: "bulwark", call: () => fusedPipeline.execute(fn) },
      { name: "bulwark ResiliencePipeline, layered (withoutFusion)", by: "bulwark", call: () => layeredPipeline.execute(fn) },
      { name: "bulwark pipeline(bulkhead, breaker, retry, timeout)", by: "bulwark", call: () => composed.execute(fn) },
      // The least a wrapper that must see failures can add (see docs/benchmarks.md).
      { name: "fn().then(onValue, onError), handlers preallocated", by: "platform", call: () => fn().then(passValue, passError) },
      // ... and the least a deadline that can still fire adds to that.
      {
        name: "the same + one microtask turn (a lazy deadline's check)",
        by: "platform",
        call: () => {
          const done = fn().then(passValue, passError);
          void settledPromise.then(nothing);
          return done;
        },
      },
      caseOf("cockatiel wrap(bulkhead, breaker, retry, timeout)", "cockatiel", cockatiel, (c) => {
        const policy = c.wrap(
          c.bulkhead(10),
          c.circuitBreaker(c.handleAll, { halfOpenAfter: 10_000, breaker: new c.ConsecutiveBreaker(5) }),
          c.retry(c.handleAll, { maxAttempts: 2, backoff: new c.ExponentialBackoff() }),
          c.timeout(1_000, c.TimeoutStrategy.Cooperative),
        );
        return () => policy.execute(fn);
      }),
    ],
  },
];

/** Within 1.5x of the class form, per call. */
const formTarget = (form: string, classForm: string): Target => ({
  text: `${form.replace("bulwark ", "")} within 1.5x of ${classForm.replace("bulwark ", "")}`,
  check: (figure) => {
    const ours = figure("forms", form);
    const reference = figure("forms", classForm);
    if (ours === undefined || reference === undefined) return undefined;
    const ratio = ours.ns / reference.ns;
    return { value: `${ratio.toFixed(2)}x (${ours.ns.toFixed(0)} vs ${reference.ns.toFixed(0)} ns)`, met: ratio <= 1.5 };
  },
});

const targets: Target[] = [
  {
    text: "pipeline of four (ResiliencePipeline) ≤ 3x a direct bare call",
    check: (figure) => {
      const ours = figure("pipeline", "bulwark ResiliencePipeline (fused)");
      return ours && { value: `${ours.ratio.toFixed(2)}x`, met: ours.ratio <= 3 };
    },
  },
  formTarget("bulwark retry(fn, { maxAttempts: 3 })", "bulwark RetryPolicy.execute(fn)"),
  formTarget("bulwark withTimeout(fn, { timeoutMs: 1000 })", "bulwark TimeoutPolicy.execute(fn)"),
  {
    text: "fn reads the signal: bulwark (cooperative) adds at most the platform floor (+10 %)",
    check: (figure) => {
      const ours = figure("signal", "bulwark TimeoutPolicy cooperative");
      const floors = [
        figure("signal", "new AbortController() + setTimeout / clearTimeout"),
        figure("signal", "AbortSignal.timeout(1000)"),
      ].filter((item) => item !== undefined);
      if (ours === undefined || floors.length === 0) return undefined;
      const floor = Math.min(...floors.map((item) => item.addedNs));
      return { value: `+${ours.addedNs.toFixed(0)} ns vs floor +${floor.toFixed(0)} ns`, met: ours.addedNs <= floor * 1.1 };
    },
  },
];

await runBench("bench/policies.bench.ts", groups, targets);
