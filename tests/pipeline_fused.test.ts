/**
 * A fused pipeline (see src/internal/fused.ts) must behave as the layered
 * one: the same outcomes, the same events at the same instants, the same
 * final state, for any order of steps, with or without a foreign policy among
 * them, under concurrency, failures, hangs, deadlines and aborts. fast-check
 * generates the scenarios; both pipelines run each on their own ManualClock.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Bulkhead,
  CircuitBreaker,
  type ExecutionContext,
  type Operation,
  Pipeline,
  type Policy,
  RetryPolicy,
  TimeoutError,
  TimeoutPolicy,
} from "../mod.ts";
import { fuse, withoutFusion } from "../src/internal/fused.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { type Behaviour, describeError, operation } from "./_support/call_plan.ts";

type Step = "bulkhead" | "breaker" | "retry" | "timeout" | "foreign";

interface CallPlan {
  startAt: number;
  /** Attempt n does attempts[(n - 1) % length]. */
  attempts: Behaviour[];
  abortAt: number | undefined;
  readsSignal: boolean;
}

interface Scenario {
  order: Step[];
  maxConcurrent: number;
  maxQueue: number;
  /** 0: slots are handed over; else queued calls poll for them. */
  pollMs: number;
  maxFailures: number;
  maxAttempts: number;
  baseDelayMs: number;
  timeoutMs: number;
  calls: CallPlan[];
}

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.record({ kind: fc.constantFrom("value" as const, "reject" as const, "syncValue" as const, "syncThrow" as const) }),
  fc.record({ kind: fc.constant("later" as const), ms: fc.integer({ min: 1, max: 60 }), ok: fc.boolean() }),
  fc.record({ kind: fc.constant("hang" as const) }),
);

const scenario: fc.Arbitrary<Scenario> = fc.record({
  order: fc.shuffledSubarray(["bulkhead", "breaker", "retry", "timeout", "foreign"] as Step[], { minLength: 2 }),
  maxConcurrent: fc.integer({ min: 1, max: 3 }),
  maxQueue: fc.integer({ min: 0, max: 2 }),
  pollMs: fc.constantFrom(0, 0, 3),
  maxFailures: fc.integer({ min: 1, max: 3 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  baseDelayMs: fc.integer({ min: 0, max: 20 }),
  timeoutMs: fc.integer({ min: 5, max: 50 }),
  calls: fc.array(
    fc.record({
      startAt: fc.integer({ min: 0, max: 150 }),
      attempts: fc.array(behaviour, { minLength: 1, maxLength: 3 }),
      abortAt: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
      readsSignal: fc.boolean(),
    }),
    { minLength: 1, maxLength: 8 },
  ),
}).map((s) => {
  // With a breaker outside a queueing bulkhead, a slot freed by one call's
  // exit starts a queued call in the same instant. Fused, every exit of the
  // first call (its breaker count included) runs before the queued call
  // does; layered, the two interleave by microtask turns, so the breaker
  // may count them in the other order. Not an equivalence: see the test
  // "counts a call before the queued call it hands its slot to".
  const breakerOutside = s.order.includes("breaker") && s.order.includes("bulkhead") &&
    s.order.indexOf("breaker") < s.order.indexOf("bulkhead");
  return breakerOutside ? { ...s, maxQueue: 0 } : s;
});

/**
 * Timers due at the same instant fire in the order they were scheduled, and
 * that order depends on microtask turns, which fusion changes: a retry's
 * wait and a deadline due at the same ms may fire in either order. Both are
 * right; to compare, the test makes such ties impossible by giving every
 * kind of timer (and every call's own timers) a distinct irrational offset.
 */
const OFFSET = {
  timeout: Math.SQRT2 * 1e-3,
  retry: Math.sqrt(3) * 1e-4,
  abort: Math.PI * 1e-5,
  poll: Math.sqrt(11) * 1e-7,
  // A "later" attempt's sleep: laterOffset in tests/_support/call_plan.ts.
};

/** A policy that is not ours: runs fn as is, logging around it. */
class Foreign implements Policy {
  readonly #log: (entry: string) => void;
  constructor(log: (entry: string) => void) {
    this.#log = log;
  }
  async execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    this.#log("foreign:in");
    try {
      return await fn({ signal: signal ?? new AbortController().signal });
    } finally {
      this.#log("foreign:out");
    }
  }
}

/** Runs `s` through a pipeline built by `build`, returning everything observable. */
async function run(s: Scenario, fused: boolean): Promise<string[]> {
  const clock = new ManualClock();
  const log: string[] = [];
  const note = (entry: string) => log.push(`${clock.now().toFixed(9)} ${entry}`);
  const build = () => {
    const pollMs = s.pollMs === 0 ? 0 : s.pollMs + OFFSET.poll;
    const bulkhead = new Bulkhead({ maxConcurrent: s.maxConcurrent, maxQueue: s.maxQueue, pollMs, clock });
    const breaker = new CircuitBreaker({ name: "b", maxFailures: s.maxFailures, resetTimeoutMs: 40, clock });
    const baseDelayMs = s.baseDelayMs === 0 ? 0 : s.baseDelayMs + OFFSET.retry;
    const retry = new RetryPolicy({ maxAttempts: s.maxAttempts, baseDelayMs, jitter: "none", clock });
    const timeout = new TimeoutPolicy({ timeoutMs: s.timeoutMs + OFFSET.timeout, clock });
    bulkhead.on("reject", (e) => note(`bulkhead reject ${e.reason}`));
    breaker.on("stateChange", (e) => note(`breaker ${e.from}->${e.to}`));
    breaker.on("success", () => note("breaker success"));
    breaker.on("failure", (e) => note(`breaker failure ${describeError(e.error, { messages: false })}`));
    breaker.on("reject", () => note("breaker reject"));
    retry.on("retry", (e) => note(`retry ${e.attempt} after ${e.delayMs}`));
    retry.on("giveUp", (e) => note(`giveUp ${e.attempts} ${e.reason}`));
    retry.on("success", (e) => note(`retry success ${e.attempts}`));
    timeout.on("timeout", () => note("timeout"));
    const policies = { bulkhead, breaker, retry, timeout, foreign: new Foreign(note) };
    return {
      pipeline: new Pipeline(s.order.map((step) => policies[step])),
      report: () => [
        `bulkhead active=${bulkhead.active} queued=${bulkhead.queued} rejected=${bulkhead.rejected}`,
        `breaker ${breaker.state} ${JSON.stringify(breaker.stats)}`,
        `pending timers ${clock.pending}`,
      ],
    };
  };
  const { pipeline, report } = fused ? build() : withoutFusion(build);
  s.calls.forEach((plan, index) => {
    const controller = new AbortController();
    if (plan.abortAt !== undefined) clock.schedule(() => controller.abort(new Error(`call${index} aborted`)), plan.abortAt + OFFSET.abort);
    clock.schedule(() => {
      note(`call${index} starts`);
      pipeline.execute(operation(plan, index, clock, note), controller.signal).then(
        (value) => note(`call${index} -> ${value}`),
        (error) => note(`call${index} x> ${describeError(error, { messages: false })}`),
      );
    }, plan.startAt);
  });
  await clock.advance(1_000);
  // Hung calls whose signal never aborts stay pending in both. Within one
  // instant, fused exits take fewer microtask turns, so events of different
  // calls may interleave differently: compare each instant's entries as a
  // set, and the instants in order.
  const instants = new Map<string, string[]>();
  for (const entry of log) {
    const at = entry.slice(0, entry.indexOf(" "));
    instants.set(at, [...(instants.get(at) ?? []), entry]);
  }
  return [...[...instants.values()].flatMap((entries) => entries.sort()), ...report()];
}

/** More runs locally: FUSED_RUNS=10000 (Node, Deno, Bun; browsers have no process). */
const RUNS = Number((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.FUSED_RUNS ?? 300);

describe("fused pipeline", () => {
  it("fuses our policies: a fused pipeline takes fewer microtask turns than a layered one", async () => {
    const policies = () => [new Bulkhead(), new CircuitBreaker(), new RetryPolicy(), new TimeoutPolicy()];
    expect(policies().every((policy) => fuse in policy)).toBe(true);
    const turns = async (pipeline: Pipeline) => {
      let count = 0;
      let done = false;
      pipeline.execute(async () => 1).then(() => (done = true));
      while (!done) {
        await undefined;
        count++;
      }
      return count;
    };
    const fused = await turns(new Pipeline(policies()));
    const layered = await turns(withoutFusion(() => new Pipeline(policies())));
    expect(fused).toBeLessThan(layered);
  });

  it("arms every timeout of a fused segment: with two, the earlier deadline ends the call, whichever is inside", async () => {
    for (const [outerMs, innerMs] of [[30, 10], [10, 30]] as const) {
      const clock = new ManualClock();
      const resilient = new Pipeline([
        new TimeoutPolicy({ timeoutMs: outerMs, clock }),
        new Bulkhead({ maxConcurrent: 1 }),
        new TimeoutPolicy({ timeoutMs: innerMs, clock }),
      ]);
      const outcome = resilient.execute(({ signal }) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
      ).then(() => undefined, (error: unknown) => error);
      await clock.advance(Math.min(outerMs, innerMs));
      const error = await outcome;
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).timeoutMs).toBe(Math.min(outerMs, innerMs));
    }
  });

  it("hands the operation a context that shows nothing of the call record it shares with the timeout", async () => {
    const clock = new ManualClock();
    const resilient = new Pipeline([new Bulkhead(), new TimeoutPolicy({ timeoutMs: 10, clock })]);
    let seen: ExecutionContext | undefined;
    expect(await resilient.execute(async (context) => {
      seen = context;
      return 1;
    })).toBe(1);
    // No reference to itself (JSON.stringify would throw), and a signal that works.
    expect(() => JSON.stringify(seen)).not.toThrow();
    expect("context" in seen! && Object.keys(seen!).includes("context")).toBe(false);
    let aborted: unknown;
    const hanging = resilient.execute(({ signal }) =>
      new Promise((_, reject) => signal.addEventListener("abort", () => reject((aborted = signal.reason))))
    ).catch((error: unknown) => error);
    await clock.advance(10);
    expect(await hanging).toBeInstanceOf(TimeoutError);
    expect(aborted).toBeInstanceOf(TimeoutError);
  });

  it("counts a call before the queued call it hands its slot to", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const resilient = new Pipeline([breaker, bulkhead]);
    let fail!: (error: Error) => void;
    const first = resilient.execute(() => new Promise((_, reject) => (fail = reject)));
    const second = resilient.execute(async () => "second");
    expect(bulkhead.queued).toBe(1);
    fail(new Error("first failed"));
    await expect(first).rejects.toThrow("first failed");
    // The first call's failure opened the circuit before the second ran;
    // the second was already admitted, so it runs and is counted late.
    expect(await second).toBe("second");
    expect(breaker.stats).toMatchObject({ failedCalls: 1, successfulCalls: 1 });
    expect(breaker.state).toBe("open");
  });

  it("exits the layers already entered when an entry throws, as the layered pipeline does", async () => {
    // A retry that tracks elapsed time reads its clock on entry: a clock that
    // throws there fails the call after the bulkhead and breaker entered.
    class BrokenClock extends ManualClock {
      broken = false;
      override now(): number {
        if (this.broken) throw new Error("clock broken");
        return super.now();
      }
    }
    const outcome = async (fused: boolean) => {
      const clock = new BrokenClock();
      const bulkhead = new Bulkhead({ maxConcurrent: 2, clock });
      const breaker = new CircuitBreaker({ maxFailures: 5, clock });
      const build = () =>
        new Pipeline([
          bulkhead,
          breaker,
          new RetryPolicy({ maxAttempts: 2, maxElapsedMs: 1_000, clock }),
          new TimeoutPolicy({ timeoutMs: 100, clock }),
        ]);
      const resilient = fused ? build() : withoutFusion(build);
      expect(await resilient.execute(async () => "ok")).toBe("ok");
      clock.broken = true;
      let ran = false;
      const error = await resilient.execute(async () => (ran = true)).then(() => undefined, (caught: unknown) => caught);
      clock.broken = false;
      // The next call runs as usual: nothing was left held.
      expect(await resilient.execute(async () => "again")).toBe("again");
      return { message: (error as Error).message, ran, active: bulkhead.active, stats: breaker.stats, pending: clock.pending };
    };
    const fused = await outcome(true);
    expect(fused).toMatchObject({ message: "clock broken", ran: false, active: 0, pending: 0 });
    expect(fused).toEqual(await outcome(false));
  });

  it("fuses more than four layers as the layered pipeline runs them, freeing every slot and timer", async () => {
    const scenario = async (fused: boolean) => {
      const clock = new ManualClock();
      const inner = new Bulkhead({ maxConcurrent: 1, clock });
      const outer = new Bulkhead({ maxConcurrent: 2, clock });
      const build = () =>
        new Pipeline([
          outer,
          new CircuitBreaker({ maxFailures: 5, clock }),
          new RetryPolicy({ maxAttempts: 2, baseDelayMs: 1, jitter: "none", clock }),
          new TimeoutPolicy({ timeoutMs: 50, clock }),
          inner,
          new TimeoutPolicy({ timeoutMs: 20, clock }),
        ]);
      const resilient = fused ? build() : withoutFusion(build);
      let calls = 0;
      const flaky = resilient.execute(async () => {
        if (++calls === 1) throw new Error("flaky");
        return calls;
      });
      await clock.advance(1);
      const value = await flaky;
      const late = resilient.execute(({ signal }) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
      ).then(() => undefined, (error: unknown) => error as Error & { cause?: unknown });
      await clock.advance(100);
      const error = await late;
      return {
        value,
        error: error?.name,
        cause: error?.cause instanceof TimeoutError ? error.cause.timeoutMs : error?.cause,
        outer: outer.active,
        inner: inner.active,
        timers: clock.pending,
      };
    };
    const fused = await scenario(true);
    expect(fused).toMatchObject({ value: 2, cause: 20, outer: 0, inner: 0, timers: 0 });
    expect(fused).toEqual(await scenario(false));
  });

  it("takes a primitive result as a value even when Number.prototype has a `then` (as Promise.resolve does)", async () => {
    const proto = Number.prototype as unknown as { then?: unknown };
    proto.then = () => {
      throw new Error("a primitive is never a thenable");
    };
    try {
      const resilient = new Pipeline([new Bulkhead(), new RetryPolicy({ maxAttempts: 2 }), new TimeoutPolicy({ timeoutMs: 100 })]);
      expect(await resilient.execute(async () => 7)).toBe(7);
      expect(await resilient.execute(() => 8)).toBe(8);
    } finally {
      delete proto.then;
    }
  });

  it("behaves exactly as the layered pipeline", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        expect(await run(s, true)).toEqual(await run(s, false));
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
