// The worst misuses of issue 13 on the real clock and real timers: before
// the argument checks, each of these left a timer or a promise behind that
// ended the process (an uncaught exception in a timer callback, or an
// unhandled rejection) after the caller had already caught the error. Here
// they must all reject cleanly and leave nothing to fire. Real time, a few
// ms, because the crash came from real timers; the behaviour itself is
// pinned with ManualClock in robustness_arguments.test.ts.
import process from "node:process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  Bulkhead,
  ChaosPolicy,
  CircuitBreaker,
  createResilientFetch,
  InvalidArgumentError,
  pipeline,
  RetryPolicy,
  systemClock,
  TimeoutManager,
  TimeoutPolicy,
} from "../mod.ts";
import { deferred } from "./_support/promises.ts";

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function poisoned(): unknown {
  return Object.defineProperty({}, "then", {
    get() {
      throw new Error("the then getter threw");
    },
  });
}

/** Calls `call`, catching a synchronous throw as a caller would, and returns the settled error. */
async function caught(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return await call().then(() => undefined, (error: unknown) => error);
  } catch (error) {
    return error;
  }
}

describe("misuse on the real clock: nothing reaches unhandledRejection or uncaughtException", () => {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown): void => {
    escaped.push(error);
  };

  beforeEach(() => {
    escaped.length = 0;
    process.on("unhandledRejection", onEscape);
    process.on("uncaughtException", onEscape);
  });

  afterEach(() => {
    process.off("unhandledRejection", onEscape);
    process.off("uncaughtException", onEscape);
  });

  it("junk signals at retry, chaos, sleep, timeouts, the bulkhead and the resilient fetch", async () => {
    const junk = [{}, "x", { aborted: false }] as unknown as AbortSignal[];
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 10 });
    const gate = deferred<string>();
    const running = limiter.execute(() => gate.promise);
    const errors: unknown[] = [];
    for (const signal of junk) {
      const late = (): Promise<string> => new Promise((resolve) => setTimeout(() => resolve("late"), 10));
      errors.push(
        await caught(() => new RetryPolicy({ maxAttempts: 3, baseDelayMs: 5 }).execute(() => Promise.reject(new Error("down")), signal)),
        await caught(() => new ChaosPolicy({ latencyMs: 5 }).execute(async () => "late", signal)),
        await caught(() => systemClock.sleep(5, signal)),
        await caught(() => new TimeoutPolicy({ timeoutMs: 5, strategy: "aggressive" }).execute(late, signal)),
        await caught(() => new TimeoutManager({ defaultMs: 5, strategy: "aggressive" }).run("op", late, signal)),
        await caught(() => limiter.execute(async () => "queued", signal)),
        await caught(() => pipeline(limiter, new RetryPolicy({ baseDelayMs: 5 })).execute(async () => "queued", signal)),
        await caught(() => createResilientFetch({ fetch: async () => new Response("ok") })("https://api.example.com/", { signal })),
      );
    }
    gate.resolve("own result");
    expect(await running).toBe("own result");
    expect(limiter.active).toBe(0);
    expect(errors.every((error) => error instanceof InvalidArgumentError)).toBe(true);
    await pause(40);
    expect(escaped).toEqual([]);
  });

  it("an operation whose then getter throws, through every policy and a fused pipeline", async () => {
    const limiter = new Bulkhead({ maxConcurrent: 1 });
    const policies = [
      limiter,
      new RetryPolicy({ maxAttempts: 2, baseDelayMs: 5 }),
      new TimeoutPolicy({ timeoutMs: 5 }),
      new TimeoutPolicy({ timeoutMs: 5, strategy: "aggressive" }),
      new CircuitBreaker(),
      pipeline(limiter, new CircuitBreaker(), new RetryPolicy({ maxAttempts: 2, baseDelayMs: 5 }), new TimeoutPolicy({ timeoutMs: 5 })),
    ];
    for (const policy of policies) {
      const error = await caught(() => policy.execute(() => poisoned() as never));
      expect(error).toBeInstanceOf(Error);
    }
    expect(limiter.active).toBe(0);
    await pause(40);
    expect(escaped).toEqual([]);
  });
});
