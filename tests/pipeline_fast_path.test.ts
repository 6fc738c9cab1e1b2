/**
 * The four-stage fused path (`Segment.runFour` in src/internal/fused.ts):
 * a pipeline of bulkhead, breaker and retry in any order with the timeout
 * innermost (ResiliencePipeline's default) runs on it. It must do exactly
 * what the general fused path does: the same outcomes, events in the same
 * order, the same final state, timers cleared and listeners removed. fast-check
 * generates the scenarios (successes, throws, rejections, calls slower than
 * the deadline, signal reads, aborts, calls with and without a signal, full
 * bulkheads, open circuits); each runs through both paths on its own
 * ManualClock, and through the layered pipeline as well.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Bulkhead,
  CircuitBreaker,
  type ExecutionContext,
  type Operation,
  Pipeline,
  ResiliencePipeline,
  RetryPolicy,
  TimeoutError,
  TimeoutPolicy,
} from "../mod.ts";
import { fuse, type Stage, withoutFastPath, withoutFusion } from "../src/internal/fused.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { type Behaviour, describeError, operation } from "./_support/call_plan.ts";

type Step = "bulkhead" | "breaker" | "retry";
type Mode = "fast" | "general" | "layered";

interface CallPlan {
  startAt: number;
  attempts: Behaviour[];
  /** No signal at all, a signal that never aborts, or one that aborts at this ms. */
  signal: "none" | "quiet" | number;
  readsSignal: boolean;
}

interface Scenario {
  order: Step[];
  maxConcurrent: number;
  maxQueue: number;
  maxFailures: number;
  maxAttempts: number;
  baseDelayMs: number;
  timeoutMs: number;
  /** Breaker `success`/`failure` listeners (they make the breaker time its calls). */
  outcomeListeners: boolean;
  /** A retry `success` listener, and a `retryOnResult` that retries "again" results. */
  retryResults: boolean;
  calls: CallPlan[];
}

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.record({ kind: fc.constantFrom("value" as const, "reject" as const, "syncValue" as const, "syncThrow" as const, "hang" as const) }),
  fc.record({ kind: fc.constant("later" as const), ms: fc.integer({ min: 1, max: 60 }), ok: fc.boolean() }),
);

const scenario: fc.Arbitrary<Scenario> = fc.record({
  order: fc.shuffledSubarray(["bulkhead", "breaker", "retry"] as Step[], { minLength: 3, maxLength: 3 }),
  maxConcurrent: fc.integer({ min: 1, max: 3 }),
  maxQueue: fc.integer({ min: 0, max: 2 }),
  maxFailures: fc.integer({ min: 1, max: 3 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  baseDelayMs: fc.integer({ min: 0, max: 20 }),
  timeoutMs: fc.integer({ min: 5, max: 50 }),
  outcomeListeners: fc.boolean(),
  retryResults: fc.boolean(),
  calls: fc.array(
    fc.record({
      startAt: fc.integer({ min: 0, max: 150 }),
      attempts: fc.array(behaviour, { minLength: 1, maxLength: 3 }),
      signal: fc.oneof(fc.constantFrom("none" as const, "quiet" as const), fc.integer({ min: 0, max: 200 })),
      readsSignal: fc.boolean(),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

// As in pipeline_fused.test.ts: distinct offsets, so that no two timers are due at the same instant.
const OFFSET = {
  timeout: Math.SQRT2 * 1e-3,
  retry: Math.sqrt(3) * 1e-4,
  abort: Math.PI * 1e-5,
  // A "later" attempt's sleep: laterOffset in tests/_support/call_plan.ts.
};

/** A caller's signal that counts the listeners added to it and not removed. */
function countedSignal(controller: AbortController): { signal: AbortSignal; listening: () => number } {
  const signal = controller.signal;
  let listening = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const added = new Set<unknown>();
  signal.addEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: unknown) => {
    if (!added.has(listener)) listening++;
    added.add(listener);
    add(type, listener, options as AddEventListenerOptions);
  }) as AbortSignal["addEventListener"];
  signal.removeEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: unknown) => {
    if (added.delete(listener)) listening--;
    remove(type, listener, options as EventListenerOptions);
  }) as AbortSignal["removeEventListener"];
  return { signal, listening: () => listening };
}

/** Runs `s` through the pipeline built in `mode`; returns every entry it logged, then the final state. */
async function run(s: Scenario, mode: Mode): Promise<string[]> {
  const clock = new ManualClock();
  const log: string[] = [];
  const note = (entry: string) => log.push(`${clock.now().toFixed(9)} ${entry}`);
  const build = () => {
    const bulkhead = new Bulkhead({ maxConcurrent: s.maxConcurrent, maxQueue: s.maxQueue, pollMs: 0, clock });
    const breaker = new CircuitBreaker({ name: "b", maxFailures: s.maxFailures, resetTimeoutMs: 40, clock });
    const baseDelayMs = s.baseDelayMs === 0 ? 0 : s.baseDelayMs + OFFSET.retry;
    const retry = new RetryPolicy<string>({
      maxAttempts: s.maxAttempts,
      baseDelayMs,
      jitter: "none",
      clock,
      ...(s.retryResults ? { retryOnResult: (result: string) => result.endsWith("again") } : {}),
    });
    const timeout = new TimeoutPolicy({ timeoutMs: s.timeoutMs + OFFSET.timeout, clock });
    bulkhead.on("reject", (e) => note(`bulkhead reject ${e.reason}`));
    breaker.on("stateChange", (e) => note(`breaker ${e.from}->${e.to}`));
    breaker.on("reject", () => note("breaker reject"));
    if (s.outcomeListeners) {
      breaker.on("success", () => note("breaker success"));
      breaker.on("failure", (e) => note(`breaker failure ${describeError(e.error)}`));
    }
    retry.on("retry", (e) => note(`retry ${e.attempt} after ${e.delayMs}`));
    retry.on("giveUp", (e) => note(`giveUp ${e.attempts} ${e.reason}`));
    if (s.retryResults) retry.on("success", (e) => note(`retry success ${e.attempts}`));
    timeout.on("timeout", () => note("timeout"));
    const policies = { bulkhead, breaker, retry };
    return {
      pipeline: new Pipeline([...s.order.map((step) => policies[step]), timeout]),
      report: () => [
        `bulkhead active=${bulkhead.active} queued=${bulkhead.queued} rejected=${bulkhead.rejected}`,
        `breaker ${breaker.state} ${JSON.stringify(breaker.stats)}`,
      ],
    };
  };
  const { pipeline, report } = mode === "fast"
    ? build()
    : mode === "general"
    ? withoutFastPath(build)
    : withoutFusion(build);
  const listening: Array<() => number> = [];
  s.calls.forEach((plan, index) => {
    let signal: AbortSignal | undefined;
    if (plan.signal !== "none") {
      const controller = new AbortController();
      const counted = countedSignal(controller);
      signal = counted.signal;
      listening.push(counted.listening);
      if (typeof plan.signal === "number") {
        clock.schedule(() => controller.abort(new Error(`call${index} aborted`)), plan.signal + OFFSET.abort);
      }
    }
    clock.schedule(() => {
      note(`call${index} starts`);
      pipeline.execute(operation(plan, index, clock, note, { logSignal: true, againFirst: true }), signal).then(
        (value) => note(`call${index} -> ${value}`),
        (error) => note(`call${index} x> ${describeError(error)}`),
      );
    }, plan.startAt);
  });
  await clock.advance(1_000);
  return [
    ...log,
    ...report(),
    `pending timers ${clock.pending}`,
    `listeners left ${listening.map((count) => count()).join(",")}`,
  ];
}

/** Entries grouped by instant, each instant's entries sorted: fusion may order one instant's events of different calls otherwise. */
function byInstant(entries: string[]): string[] {
  const instants = new Map<string, string[]>();
  const rest: string[] = [];
  for (const entry of entries) {
    const space = entry.indexOf(" ");
    const at = entry.slice(0, space);
    if (!/^\d/.test(at)) rest.push(entry);
    else instants.set(at, [...(instants.get(at) ?? []), entry]);
  }
  return [...[...instants.values()].flatMap((group) => group.sort()), ...rest];
}

const RUNS = Number((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.FUSED_RUNS ?? 300);

describe("four-stage fused path", () => {
  it("behaves exactly as the general fused path (same events in the same order) and as the layered pipeline", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const fast = await run(s, "fast");
        expect(fast).toEqual(await run(s, "general"));
        // Layered: a slot handed to a queued call under a breaker outside the bulkhead may be counted in another order.
        const breakerOutside = s.order.indexOf("breaker") < s.order.indexOf("bulkhead");
        if (!(breakerOutside && s.maxQueue > 0)) expect(byInstant(fast)).toEqual(byInstant(await run(s, "layered")));
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it("runs ResiliencePipeline's default order: values, errors, deadlines and the breaker's counts as the general path", async () => {
    const scenarioOf = async (fast: boolean) => {
      const clock = new ManualClock();
      const build = () =>
        new ResiliencePipeline({
          bulkhead: { maxConcurrent: 2, clock },
          circuitBreaker: { maxFailures: 3, clock },
          retry: { maxAttempts: 2, baseDelayMs: 0, clock },
          timeout: { timeoutMs: 10, clock },
        });
      const resilient = fast ? build() : withoutFastPath(build);
      const outcomes: unknown[] = [];
      const settle = (promise: Promise<unknown>) =>
        promise.then((value) => outcomes.push(value), (error: unknown) => outcomes.push(describeError(error)));
      let calls = 0;
      await settle(resilient.execute(async () => "ok"));
      await settle(resilient.execute(() => "sync"));
      await settle(resilient.execute(async () => {
        if (++calls === 1) throw new Error("flaky");
        return calls;
      }));
      const slow = settle(resilient.execute(({ signal }) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
      ));
      await clock.advance(25);
      await slow;
      await settle(resilient.execute(() => {
        throw new Error("always");
      }));
      return {
        outcomes,
        state: resilient.circuitBreaker.state,
        stats: resilient.circuitBreaker.stats,
        active: resilient.bulkhead!.active,
        timers: clock.pending,
      };
    };
    const fast = await scenarioOf(true);
    expect(fast.outcomes).toEqual([
      "ok",
      "sync",
      2,
      "RetryExhaustedError(ERR_RETRY_EXHAUSTED) Gave up after 2 attempts (cause: TimeoutError(ERR_TIMEOUT) Operation timed out after 10 ms)",
      "RetryExhaustedError(ERR_RETRY_EXHAUSTED) Gave up after 2 attempts (cause: Error always)",
    ]);
    expect(fast).toMatchObject({ active: 0, timers: 0 });
    expect(fast).toEqual(await scenarioOf(false));
  });

  it("reuses its handlers safely: a call started by a listener while a call exits settles on its own", async () => {
    const outcome = async (fast: boolean) => {
      const clock = new ManualClock();
      const breaker = new CircuitBreaker({ maxFailures: 1, clock });
      const timeout = new TimeoutPolicy({ timeoutMs: 10, clock });
      const build = () => new Pipeline([new Bulkhead({ maxConcurrent: 200 }), breaker, new RetryPolicy({ maxAttempts: 1 }), timeout]);
      const resilient = fast ? build() : withoutFastPath(build);
      const seen: unknown[] = [];
      let nested: Promise<unknown> | undefined;
      // The failure's exit opens the circuit; its listener starts calls through the same pipeline.
      breaker.on("stateChange", ({ to }) => {
        if (to !== "open" || nested !== undefined) return;
        breaker.reset();
        nested = Promise.all([
          resilient.execute(async () => "nested value"),
          resilient.execute(async () => {
            throw new Error("nested failure");
          }).catch(describeError),
        ]);
      });
      const outer = await resilient.execute(async () => {
        throw new Error("outer failure");
      }).catch(describeError);
      seen.push(outer, await nested);
      breaker.reset();
      // Many calls in flight at once, more than the pool keeps, then one after the other.
      const many = await Promise.all(Array.from({ length: 100 }, (_, i) => resilient.execute(async () => i)));
      seen.push(many.reduce((sum, value) => sum + value, 0));
      for (let i = 0; i < 5; i++) seen.push(await resilient.execute(async () => i));
      const late = resilient.execute(({ signal }) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
      ).catch((error: unknown) => error instanceof TimeoutError);
      await clock.advance(10);
      seen.push(await late, breaker.stats, clock.pending);
      return seen;
    };
    const fast = await outcome(true);
    expect(fast.slice(0, 3)).toEqual([
      "RetryExhaustedError(ERR_RETRY_EXHAUSTED) Gave up after 1 attempt (cause: Error outer failure)",
      ["nested value", "RetryExhaustedError(ERR_RETRY_EXHAUSTED) Gave up after 1 attempt (cause: Error nested failure)"],
      4950,
    ]);
    expect(fast).toEqual(await outcome(false));
  });
});

/**
 * The timeout's per-call record keeps what only some calls need (the
 * signal's controller, the deadline's error, an aggressive caller's
 * rejection) in a side object made on first need. These read it late: a
 * context kept past the call, read after the call settled, after the
 * caller aborted, after the deadline passed; through the four-stage path,
 * the general fused path, the layered pipeline and the timeout alone.
 */
describe("fused stages", () => {
  // Pipelines share the fused path's call sites: a stage whose methods were
  // closures made per policy showed each site a new target per pipeline,
  // which Node 20's compiler handles slower (docs/benchmarks.md, "Fused
  // stages as classes").
  it("share their methods between policies of one kind, so a shared call site sees one target", () => {
    const stagesOf = (): Stage[] => [
      new Bulkhead({ maxConcurrent: 10 })[fuse](),
      new CircuitBreaker({ maxFailures: 5 })[fuse](),
      new RetryPolicy({ maxAttempts: 3 })[fuse](undefined),
      new TimeoutPolicy({ timeoutMs: 1_000 })[fuse]()!,
    ];
    const first = stagesOf();
    const second = stagesOf();
    for (let index = 0; index < first.length; index++) {
      const [one, other] = [first[index]!, second[index]!];
      expect(one).not.toBe(other);
      expect(other.enter).toBe(one.enter);
      expect(other.onValue).toBe(one.onValue);
      expect(other.onError).toBe(one.onError);
      expect(other.started).toBe(one.started);
    }
    const [record, otherRecord] = [first[3]!.record!, second[3]!.record!];
    expect(otherRecord.newCall).toBe(record.newCall);
    expect(otherRecord.stage.enter).toBe(record.stage.enter);
    expect(otherRecord.stage.onValue).toBe(record.stage.onValue);
  });
});

describe("the timeout's per-call record", () => {
  type Form = Mode | "alone";
  const forms: Form[] = ["fast", "general", "layered", "alone"];

  function build(form: Form, clock: ManualClock): { execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> } {
    const timeout = new TimeoutPolicy({ timeoutMs: 10, clock });
    if (form === "alone") return timeout;
    const make = () =>
      new Pipeline([new Bulkhead({ maxConcurrent: 5 }), new CircuitBreaker({ maxFailures: 5, clock }), new RetryPolicy({ maxAttempts: 1 }), timeout]);
    return form === "fast" ? make() : form === "general" ? withoutFastPath(make) : withoutFusion(make);
  }

  const state = (signal: AbortSignal): string =>
    signal.aborted ? `aborted: ${describeError(signal.reason)}` : "live";

  async function late(form: Form): Promise<unknown[]> {
    const clock = new ManualClock();
    const policy = build(form, clock);
    const seen: unknown[] = [];
    // 1. A context kept past the call; its signal first read once the call has settled, then the caller aborts.
    const first = new AbortController();
    const firstCaller = countedSignal(first);
    let kept: ExecutionContext | undefined;
    seen.push(await policy.execute(async (context) => {
      kept = context;
      return "one";
    }, firstCaller.signal));
    seen.push(state(kept!.signal), firstCaller.listening());
    first.abort(new Error("caller gone"));
    seen.push(state(kept!.signal), firstCaller.listening());
    // 2. The caller aborts after the call settled, before the first read.
    const second = new AbortController();
    seen.push(await policy.execute(async (context) => {
      kept = context;
      return "two";
    }, second.signal));
    second.abort(new Error("caller gone later"));
    seen.push(state(kept!.signal));
    // 3. The deadline passes while the operation ignores its signal; it reads it late, then settles with a value.
    let release!: (value: string) => void;
    const third = policy.execute((context) => {
      kept = context;
      return new Promise<string>((resolve) => release = resolve);
    });
    await clock.advance(10);
    seen.push(state(kept!.signal), clock.pending);
    release("three, late");
    seen.push(await third.catch(describeError));
    // 4. The deadline passes, the caller aborts, then the operation reads its signal and fails.
    const fourth = new AbortController();
    const fourthCaller = countedSignal(fourth);
    let fail!: (error: unknown) => void;
    const call = policy.execute((context) => {
      kept = context;
      return new Promise<string>((_, reject) => fail = reject);
    }, fourthCaller.signal).catch(describeError);
    await clock.advance(10);
    fourth.abort(new Error("caller gone too"));
    seen.push(state(kept!.signal));
    fail(new Error("own failure"));
    seen.push(await call, fourthCaller.listening(), clock.pending);
    return seen;
  }

  it("gives the same signal, outcome and listeners whichever path made it, read late", async () => {
    const expected = [
      "one",
      "live",
      0,
      "live",
      0,
      "two",
      "aborted: Error caller gone later",
      "aborted: TimeoutError(ERR_TIMEOUT) Operation timed out after 10 ms",
      0,
    ];
    for (const form of forms) {
      const seen = await late(form);
      // The form rides along, so that a failure names the path.
      expect({ form, seen: seen.slice(0, expected.length) }).toEqual({ form, seen: expected });
      expect({ form, seen }).toEqual({ form, seen: await late("alone") });
    }
  });

  it("lets an outer timeout's deadline reach the operation through the record (two timeouts in one fused pipeline)", async () => {
    for (const form of ["fast", "general", "layered"] as const) {
      const clock = new ManualClock();
      const make = () =>
        new Pipeline([
          new TimeoutPolicy({ timeoutMs: 5, clock }),
          new Bulkhead({ maxConcurrent: 5 }),
          new RetryPolicy({ maxAttempts: 1 }),
          new TimeoutPolicy({ timeoutMs: 50, clock }),
        ]);
      const pipeline = form === "fast" ? make() : form === "general" ? withoutFastPath(make) : withoutFusion(make);
      const outcome = pipeline.execute(({ signal }) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
      ).catch(describeError);
      await clock.advance(5);
      // The outer timeout answers with its own error.
      expect({ form, outcome: await outcome }).toEqual({ form, outcome: "TimeoutError(ERR_TIMEOUT) Operation timed out after 5 ms" });
      await clock.advance(100);
      expect({ form, pending: clock.pending }).toEqual({ form, pending: 0 });
    }
  });
});
