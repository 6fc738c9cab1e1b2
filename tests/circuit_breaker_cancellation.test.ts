/**
 * Cancellation is not failure (issue 14): a call refused for an aborted
 * signal never runs, and the caller's own abort is not the dependency
 * failing, so it never opens a breaker (unless `isFailure` says so).
 */
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  createResilientFetch,
  InvalidArgumentError,
  type Operation,
  Pipeline,
  TimeoutError,
  TimeoutPolicy,
} from "../mod.ts";
import { withoutFusion } from "../src/internal/fused.ts";
import { ManualClock } from "../src/testing/mod.ts";

/** An operation that waits for its signal and rejects with its reason. */
const untilAborted: Operation<never> = ({ signal }) =>
  new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));

async function cancelledCall(run: (fn: Operation<never>, signal: AbortSignal) => Promise<unknown>): Promise<unknown> {
  const controller = new AbortController();
  const call = run(untilAborted, controller.signal).catch((error: unknown) => error);
  await Promise.resolve();
  controller.abort(new Error("caller left"));
  return call;
}

describe("CircuitBreaker and the caller's cancellation", () => {
  it("refuses a call whose signal has already aborted: not run, rejected with the reason, not counted", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    const reason = new Error("gone");
    let ran = false;
    const error = await breaker.execute(() => {
      ran = true;
    }, AbortSignal.abort(reason)).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(ran).toBe(false);
    expect(breaker.stats.totalCalls).toBe(0);
    expect(breaker.state).toBe("closed");
  });

  it("does not count three cancelled calls against a maxFailures: 3 breaker", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 3 });
    for (let i = 0; i < 3; i++) {
      const error = await cancelledCall((fn, signal) => breaker.execute(fn, signal));
      expect((error as Error).message).toBe("caller left");
    }
    expect(breaker.state).toBe("closed");
    expect(breaker.failureCount).toBe(0);
    expect(breaker.stats.failedCalls).toBe(0);
    expect(breaker.stats.ignoredCalls).toBe(3);
  });

  it("does not count a synchronous throw of the caller's reason after the abort", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    const controller = new AbortController();
    const error = await breaker.execute(({ signal }) => {
      controller.abort(new Error("left"));
      throw signal.reason;
    }, controller.signal).catch((e: unknown) => e);
    expect((error as Error).message).toBe("left");
    expect(breaker.state).toBe("closed");
  });

  it("does not count cancellations with an isResultFailure predicate (the rethrowing path) either", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1, isResultFailure: () => false });
    await cancelledCall((fn, signal) => breaker.execute(fn, signal));
    expect(breaker.state).toBe("closed");
  });

  it("still counts a failure that is not the abort's reason, even on an aborted signal", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    const controller = new AbortController();
    await breaker.execute(() => {
      controller.abort(new Error("left"));
      return Promise.reject(new Error("server down"));
    }, controller.signal).catch(() => {});
    expect(breaker.state).toBe("open");
  });

  it("counts cancellations when isFailure says so", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 3, isFailure: () => true });
    for (let i = 0; i < 3; i++) await cancelledCall((fn, signal) => breaker.execute(fn, signal));
    expect(breaker.state).toBe("open");
  });

  it("does not count misuse: two execute(undefined) calls leave a maxFailures: 2 breaker closed", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 2 });
    for (let i = 0; i < 2; i++) {
      const error = await breaker.execute(undefined as unknown as Operation<never>).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
    }
    expect(breaker.state).toBe("closed");
    expect(breaker.stats.totalCalls).toBe(0);
  });

  for (const fused of [true, false]) {
    it(`does not count the caller's abort inside a ${fused ? "fused" : "layered"} pipeline`, async () => {
      const breaker = new CircuitBreaker({ maxFailures: 2 });
      const build = () => new Pipeline([breaker, new TimeoutPolicy({ timeoutMs: 10_000, clock: new ManualClock() })]);
      const pipeline = fused ? build() : withoutFusion(build);
      for (let i = 0; i < 2; i++) await cancelledCall((fn, signal) => pipeline.execute(fn, signal));
      expect(breaker.state).toBe("closed");
      const bare = fused ? new Pipeline([breaker]) : withoutFusion(() => new Pipeline([breaker]));
      for (let i = 0; i < 2; i++) await cancelledCall((fn, signal) => bare.execute(fn, signal));
      expect(breaker.state).toBe("closed");
    });

    it(`counts an enclosing timeout's expiry as a failure (${fused ? "fused" : "layered"})`, async () => {
      const clock = new ManualClock();
      const breaker = new CircuitBreaker({ maxFailures: 1, clock });
      const build = () => new Pipeline([new TimeoutPolicy({ timeoutMs: 100, clock }), breaker]);
      const pipeline = fused ? build() : withoutFusion(build);
      const call = pipeline.execute(untilAborted, new AbortController().signal).catch((e: unknown) => e);
      await clock.advance(100);
      expect(await call).toBeInstanceOf(TimeoutError);
      expect(breaker.state).toBe("open");
    });
  }
});

describe("createResilientFetch and the caller's cancellation", () => {
  it("three aborted calls do not open the origin's breaker", async () => {
    const hanging = (_input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
      new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal!.reason)));
    const fetch = createResilientFetch({ fetch: hanging, retry: false, circuitBreaker: { maxFailures: 3 } });
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const call = fetch("https://api.example.com/a", { signal: controller.signal }).catch((e: unknown) => e);
      await Promise.resolve();
      controller.abort(new Error("user navigated away"));
      expect(((await call) as Error).message).toBe("user navigated away");
    }
    const breaker = fetch.registry.get("https://api.example.com")!;
    expect(breaker.state).toBe("closed");
    expect(breaker.stats.failedCalls).toBe(0);
  });

  it("three aborted calls with retries and timeouts do not open it either", async () => {
    const clock = new ManualClock();
    const hanging = (_input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
      new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(new DOMException("copy", "AbortError"))));
    const fetch = createResilientFetch({
      fetch: hanging,
      clock,
      timeoutMs: 60_000,
      circuitBreaker: { maxFailures: 3 },
    });
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const call = fetch("https://api.example.com/a", { signal: controller.signal }).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 0));
      controller.abort(new Error("user navigated away"));
      expect(((await call) as Error).message).toBe("user navigated away");
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(fetch.registry.get("https://api.example.com")!.state).toBe("closed");
  });
});
