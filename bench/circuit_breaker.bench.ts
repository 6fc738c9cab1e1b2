// Circuit breakers around an async no-op: the closed path of each rule, and
// the open path (a rejection), beside a direct bare call and the competing
// libraries, in one process (bench/harness.ts says how it measures).
//
//   npm run bench -- circuit_breaker            all four runtimes
//   npx --yes -p node@24 node --expose-gc bench/circuit_breaker.bench.ts [--quick]
//
// Imports bulwark from dist/ (`npm run build` first).
import { added, caseOf, load, runBench, type Case, type Group, type Target } from "./harness.ts";
import { bulwark } from "./bulwark.ts";

const { CircuitBreaker, CircuitOpenError } = bulwark;
const cockatiel = await load(() => import("cockatiel"));
const opossum = await load(async () => (await import("opossum")).default);

const fn = async (): Promise<number> => 1;
const noop = (): void => {};
const HOUR = 3_600_000;

const bare: Group["baseline"] = { name: "bare fn()", by: "baseline", call: () => fn() };

// Closed circuit.
const consecutive = new CircuitBreaker({ maxFailures: 5 });
const countWindow = new CircuitBreaker({ windowSize: 100, failureRateThreshold: 0.5 });
const timeWindow = new CircuitBreaker({ windowMs: 10_000, failureRateThreshold: 0.5 });

// Open circuit: each library's breaker tripped by one failure (opossum is
// opened by hand), with an hour before it lets a probe through.
const failing = async (): Promise<number> => {
  throw new Error("down");
};
const DOWN = new Error("down");
const rejecting = async (): Promise<number> => {
  throw DOWN;
};
const openBreaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: HOUR });
await openBreaker.execute(failing).catch(noop);

/** The case, its rejection caught, if its first call rejects with an error that `is` accepts. */
async function rejectionOf(item: Case, expected: string, is: (error: unknown) => boolean): Promise<Case> {
  if (item.call === undefined) return item;
  const call = item.call as () => Promise<unknown>;
  const error = await call().then(() => "nothing", (reason: unknown) => reason);
  if (is(error)) return { ...item, call: () => call().catch(noop) };
  return { name: item.name, by: item.by, unavailable: `setup failed: did not reject with ${expected}: ${String(error)}` };
}

// cockatiel's breaker opens once the failure has settled.
const cockatielOpen = "module" in cockatiel
  ? cockatiel.module.circuitBreaker(cockatiel.module.handleAll, {
    halfOpenAfter: HOUR,
    breaker: new cockatiel.module.ConsecutiveBreaker(1),
  })
  : undefined;
await cockatielOpen?.execute(failing).catch(noop);

const open = [
  await rejectionOf(
    { name: "bulwark CircuitBreaker, open", by: "bulwark", call: () => openBreaker.execute(fn) },
    "CircuitOpenError",
    (error) => error instanceof CircuitOpenError,
  ),
  await rejectionOf(
    caseOf("cockatiel ConsecutiveBreaker, open", "cockatiel", cockatiel, () => () => cockatielOpen!.execute(fn)),
    "BrokenCircuitError",
    (error) => "module" in cockatiel && error instanceof cockatiel.module.BrokenCircuitError,
  ),
  await rejectionOf(
    caseOf("opossum fire, open", "opossum", opossum, (Opossum) => {
      const breaker = new Opossum(fn, { timeout: false, resetTimeout: HOUR });
      breaker.open();
      return () => breaker.fire();
    }),
    "EOPENBREAKER",
    (error) => (error as { code?: unknown }).code === "EOPENBREAKER",
  ),
];

const groups: Group[] = [
  {
    id: "consecutive",
    title: "closed circuit, consecutive-failures rule (maxFailures: 5)",
    baseline: bare,
    cases: [
      { name: "bulwark CircuitBreaker", by: "bulwark", call: () => consecutive.execute(fn) },
      caseOf("cockatiel ConsecutiveBreaker(5)", "cockatiel", cockatiel, (c) => {
        const breaker = c.circuitBreaker(c.handleAll, { halfOpenAfter: 10_000, breaker: new c.ConsecutiveBreaker(5) });
        return () => breaker.execute(fn);
      }),
    ],
  },
  {
    id: "count",
    title: "closed circuit, count window (last 100 calls, 50 %)",
    baseline: bare,
    cases: [
      { name: "bulwark CircuitBreaker", by: "bulwark", call: () => countWindow.execute(fn) },
      caseOf("cockatiel CountBreaker (size 100)", "cockatiel", cockatiel, (c) => {
        const breaker = c.circuitBreaker(c.handleAll, {
          halfOpenAfter: 10_000,
          breaker: new c.CountBreaker({ threshold: 0.5, size: 100 }),
        });
        return () => breaker.execute(fn);
      }),
    ],
  },
  {
    id: "time",
    title: "closed circuit, time window (10 s, 50 %)",
    baseline: bare,
    cases: [
      { name: "bulwark CircuitBreaker", by: "bulwark", call: () => timeWindow.execute(fn) },
      caseOf("cockatiel SamplingBreaker (10 s)", "cockatiel", cockatiel, (c) => {
        const breaker = c.circuitBreaker(c.handleAll, {
          halfOpenAfter: 10_000,
          breaker: new c.SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
        });
        return () => breaker.execute(fn);
      }),
      // opossum's rule is a rolling time window (10 s by default); its own
      // timeout adds a timer per call, so it is measured both ways.
      caseOf("opossum fire (timeout: false)", "opossum", opossum, (Opossum) => {
        const breaker = new Opossum(fn, { timeout: false, resetTimeout: 10_000 });
        return () => breaker.fire();
      }),
      caseOf("opossum fire (default 10 s timeout)", "opossum", opossum, (Opossum) => {
        const breaker = new Opossum(fn, { resetTimeout: 10_000 });
        return () => breaker.fire();
      }),
    ],
  },
  {
    id: "open",
    title: "open circuit: the rejection, caught",
    baseline: { name: "bare fn() rejecting with a prebuilt error, caught", by: "baseline", call: () => rejecting().catch(noop) },
    cases: [
      ...open,
      // What any rejection with a fresh error costs: the stack trace.
      { name: "Promise.reject(new Error()), caught", by: "platform", call: () => Promise.reject(new Error("open")).catch(noop) },
    ],
    after: () => [`bulwark breaker still ${openBreaker.state} after the run`],
  },
];

const bulwarkFigure = "bulwark CircuitBreaker";
const targets: Target[] = [
  ...(["consecutive", "count"] as const).map((id): Target => ({
    text: `${id === "count" ? "count window" : "consecutive"}: bulwark adds ≤ 40 ns`,
    check: (figure) => {
      const ours = figure(id, bulwarkFigure);
      return ours && { value: added(ours), met: ours.addedNs <= 40 };
    },
  })),
  {
    text: "time window: bulwark adds less than cockatiel",
    check: (figure) => {
      const ours = figure("time", bulwarkFigure);
      const theirs = figure("time", "cockatiel SamplingBreaker (10 s)");
      return ours && theirs && { value: `${added(ours)} vs ${added(theirs)}`, met: ours.addedNs < theirs.addedNs };
    },
  },
  {
    text: "open circuit: bulwark rejects faster than cockatiel and opossum",
    check: (figure) => {
      const ours = figure("open", "bulwark CircuitBreaker, open");
      const theirs = [figure("open", "cockatiel ConsecutiveBreaker, open"), figure("open", "opossum fire, open")];
      const present = theirs.filter((item) => item !== undefined);
      if (ours === undefined || present.length === 0) return undefined;
      return {
        value: `${added(ours)} vs ${present.map(added).join(" / ")}${present.length < theirs.length ? " (a peer missing)" : ""}`,
        met: present.every((item) => ours.addedNs < item.addedNs),
      };
    },
  },
];

await runBench("bench/circuit_breaker.bench.ts", groups, targets);
