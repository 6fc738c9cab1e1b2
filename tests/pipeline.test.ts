import { describe, expect, it } from "vitest";
import {
  Bulkhead,
  BulkheadRejectedError,
  CircuitBreaker,
  CircuitOpenError,
  ConfigError,
  type ExecutionContext,
  InvalidArgumentError,
  type Operation,
  Pipeline,
  pipeline,
  type Policy,
  ResiliencePipeline,
  RetryExhaustedError,
  RetryPolicy,
  TimeoutError,
  TimeoutPolicy,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { outcome } from "./_support/promises.ts";

function untilAborted({ signal }: ExecutionContext): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason));
  });
}

/** A foreign policy (not one of ours) that records what it sees. */
class Recorder implements Policy {
  readonly seen: Array<AbortSignal | undefined> = [];
  readonly name: string;
  readonly log: string[];
  constructor(name: string, log: string[]) {
    this.name = name;
    this.log = log;
  }
  async execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    this.seen.push(signal);
    this.log.push(`${this.name}:in`);
    try {
      return await fn({ signal: signal ?? new AbortController().signal });
    } finally {
      this.log.push(`${this.name}:out`);
    }
  }
}

describe("pipeline()", () => {
  it("applies policies with the first outermost", async () => {
    const log: string[] = [];
    const resilient = pipeline(new Recorder("a", log), new Recorder("b", log), new Recorder("c", log));
    expect(await resilient.execute(async () => (log.push("fn"), 1))).toBe(1);
    expect(log).toEqual(["a:in", "b:in", "c:in", "fn", "c:out", "b:out", "a:out"]);
  });

  it("passes the caller's signal through every layer to fn", async () => {
    const clock = new ManualClock();
    const recorder = new Recorder("foreign", []);
    const resilient = pipeline(
      new Bulkhead({ maxConcurrent: 2, clock }),
      recorder,
      new RetryPolicy({ maxAttempts: 3, baseDelayMs: 10, clock }),
      new TimeoutPolicy({ timeoutMs: 10_000, clock }),
    );
    const controller = new AbortController();
    const call = outcome(resilient.execute(untilAborted, controller.signal));
    await clock.flush();
    expect(recorder.seen).toEqual([controller.signal]);
    controller.abort("caller left");
    await clock.advance(100);
    // Aborted by the caller: not retried, rejected with the caller's reason.
    expect(call.error).toBe("caller left");
    expect(clock.pending).toBe(0);
  });

  it("gives fn the caller's own signal when no layer adds a deadline", async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await pipeline(new Bulkhead(), new RetryPolicy()).execute(({ signal }) => void (seen = signal), controller.signal);
    expect(seen).toBe(controller.signal);
  });

  it("an outer timeout bounds all attempts; an inner one each attempt", async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const overall = pipeline(
      new TimeoutPolicy({ timeoutMs: 250, clock }),
      new RetryPolicy({ maxAttempts: 10, baseDelayMs: 100, backoff: "constant", jitter: "none", clock }),
    );
    const call = outcome(overall.execute(async () => {
      attempts++;
      throw new Error("down");
    }));
    await clock.advance(1_000);
    // Attempts at 0, 100, 200; the wait ending at 300 is cut by the deadline at 250.
    expect(attempts).toBe(3);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);

    attempts = 0;
    const perAttempt = pipeline(
      new RetryPolicy({ maxAttempts: 3, baseDelayMs: 0, clock }),
      new TimeoutPolicy({ timeoutMs: 50, clock }),
    );
    const slow = outcome(perAttempt.execute((context) => (attempts++, untilAborted(context))));
    await clock.advance(200);
    expect(attempts).toBe(3);
    expect(slow.error).toBeInstanceOf(RetryExhaustedError);
    expect((slow.error as RetryExhaustedError).cause).toBeInstanceOf(TimeoutError);
  });

  it("is empty-safe and nests", async () => {
    expect(await pipeline().execute(async () => 3)).toBe(3);
    const inner = pipeline(new RetryPolicy({ baseDelayMs: 0 }));
    let calls = 0;
    expect(await pipeline(new Bulkhead(), inner).execute(async () => {
      if (++calls < 2) throw new Error("again");
      return calls;
    })).toBe(2);
  });

  it("rejects what is not a policy", () => {
    expect(() => pipeline({} as never)).toThrow(InvalidArgumentError);
    expect(() => new Pipeline([new Bulkhead(), 5 as never])).toThrow(/'policies.1' must be a policy/);
  });
});

describe("ResiliencePipeline", () => {
  it("builds each step from options in the default order: bulkhead, breaker, retry, timeout", async () => {
    const clock = new ManualClock();
    const resilient = new ResiliencePipeline({
      bulkhead: { maxConcurrent: 1 },
      circuitBreaker: { maxFailures: 1, clock },
      retry: { maxAttempts: 2, baseDelayMs: 10, jitter: "none", clock },
      timeout: { timeoutMs: 100, clock },
    });
    expect(resilient.order).toEqual(["bulkhead", "circuitBreaker", "retry", "timeout"]);
    expect(resilient.policies).toEqual([resilient.bulkhead, resilient.circuitBreaker, resilient.retry, resilient.timeout]);
    expect(resilient.circuitBreaker).toBeInstanceOf(CircuitBreaker);

    const events: string[] = [];
    resilient.retry!.on("retry", ({ attempt }) => events.push(`retry ${attempt}`));
    resilient.timeout!.on("timeout", () => events.push("timeout"));
    resilient.bulkhead!.on("reject", () => events.push("bulkhead reject"));

    // Each attempt times out (timeout is inside retry); retry gives up; the
    // breaker counts one failure and opens.
    const call = outcome(resilient.execute(untilAborted));
    expect(await resilient.execute(async () => 1).catch((e) => e)).toBeInstanceOf(BulkheadRejectedError);
    await clock.advance(210);
    expect(call.error).toBeInstanceOf(RetryExhaustedError);
    expect(events).toEqual(["bulkhead reject", "timeout", "retry 1", "timeout"]);
    expect(await resilient.execute(async () => 1).catch((e) => e)).toBeInstanceOf(CircuitOpenError);
    expect(clock.pending).toBe(0);
  });

  it("follows a custom order and skips steps not configured", async () => {
    const clock = new ManualClock();
    const resilient = new ResiliencePipeline({
      retry: { maxAttempts: 5, baseDelayMs: 100, backoff: "constant", jitter: "none", clock },
      timeout: { timeoutMs: 150, clock },
      order: ["timeout", "retry", "bulkhead"],
    });
    expect(resilient.order).toEqual(["timeout", "retry"]);
    let attempts = 0;
    const call = outcome(resilient.execute(async () => {
      attempts++;
      throw new Error("down");
    }));
    await clock.advance(1_000);
    expect(attempts).toBe(2);
    expect(call.error).toBeInstanceOf(TimeoutError);
  });

  it("accepts policy instances, and keeps them observable", async () => {
    const retry = new RetryPolicy({ maxAttempts: 2, baseDelayMs: 0 });
    const breaker = new CircuitBreaker();
    const resilient = new ResiliencePipeline({ retry, circuitBreaker: breaker });
    expect(resilient.retry).toBe(retry);
    expect(resilient.circuitBreaker).toBe(breaker);
    let retries = 0;
    resilient.retry!.on("retry", () => retries++);
    let calls = 0;
    expect(await resilient.execute(async () => {
      if (++calls === 1) throw new Error("once");
      return "ok";
    })).toBe("ok");
    expect(retries).toBe(1);
  });

  it("reports every bad option at once, named by its path", () => {
    let error: unknown;
    try {
      new ResiliencePipeline({
        retry: { maxAttempts: 0 },
        timeout: { timeoutMs: Number.NaN },
        bulkhead: { maxConcurrent: 1.5 },
      });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.field)).toEqual([
      "bulkhead.maxConcurrent",
      "retry.maxAttempts",
      "timeout.timeoutMs",
    ]);
  });

  it("rejects an order with an unknown, repeated or missing step", () => {
    expect(() => new ResiliencePipeline({ order: ["retry", "cache" as never] })).toThrow(/'order.1' must be one of/);
    expect(() => new ResiliencePipeline({ order: ["retry", "retry"] })).toThrow(/'order.1' must be a step not already/);
    expect(() => new ResiliencePipeline({ order: ["circuit_breaker" as never] })).toThrow(ConfigError);
    expect(() => new ResiliencePipeline({ retry: {}, order: ["timeout"] })).toThrow(/'retry' is missing/);
    expect(() => new ResiliencePipeline({ order: "retry" as never })).toThrow(/'order' must be an array/);
    expect(() => new ResiliencePipeline({ retyr: {} } as never)).toThrow(/did you mean 'retry'/);
    expect(() => new ResiliencePipeline({ retry: 3 as never })).toThrow(/'retry' must be a policy or an options object/);
  });
});
