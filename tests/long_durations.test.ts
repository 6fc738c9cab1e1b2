import { afterEach, describe, expect, it } from "vitest";
import {
  Bulkhead,
  BulkheadRejectedError,
  chaos,
  CircuitBreaker,
  configure,
  RetryPolicy,
  TimeoutError,
  TimeoutPolicy,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { outcome } from "./_support/promises.ts";

// Durations past 2³¹−1 ms (about 24.8 days), where a bare setTimeout
// overflows and fires after about 1 ms, are honoured to the millisecond by
// every policy that takes a duration. (The real clock's chunked timers are
// checked on real time in long_durations.node.test.ts.)
const LONG = 2 ** 31;
const LONGER = 2 ** 32 + 5;

/** An operation that never settles and ignores its signal. */
const forever = (): Promise<never> => new Promise<never>(() => {});

describe("durations past 2^31-1 ms", () => {
  it("a timeout fires at its deadline, not before", async () => {
    for (const timeoutMs of [LONG, LONGER]) {
      const clock = new ManualClock();
      const timeout = new TimeoutPolicy({ timeoutMs, clock, strategy: "aggressive" });
      const call = outcome(timeout.execute(forever));
      await clock.advance(timeoutMs - 1);
      expect(call.settled).toBe(false);
      await clock.advance(1);
      expect(call.error).toBeInstanceOf(TimeoutError);
      expect(clock.pending).toBe(0);
    }
  });

  it("a bulkhead's queue timeout rejects a queued call at its deadline, not before", async () => {
    const clock = new ManualClock();
    // pollMs: 0: on Workers, polling every 5 ms would fire 800 million timers on the way.
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: LONGER, pollMs: 0, clock });
    void bulkhead.execute(forever);
    const queued = outcome(bulkhead.execute(async () => "ran"));
    await clock.advance(LONGER - 1);
    expect(queued.settled).toBe(false);
    expect(bulkhead.queued).toBe(1);
    await clock.advance(1);
    expect(queued.error).toBeInstanceOf(BulkheadRejectedError);
    expect(bulkhead.queued).toBe(0);
  });

  it("a retry waits its whole backoff delay", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({
      maxAttempts: 3,
      baseDelayMs: 3e9,
      maxDelayMs: 1e10,
      backoff: "constant",
      jitter: "none",
      clock,
    });
    const startedAt: number[] = [];
    const call = outcome(policy.execute(async () => {
      startedAt.push(clock.now());
      if (startedAt.length < 3) throw new Error("flaky");
      return "ok";
    }));
    await clock.advance(3e9 - 1);
    expect(startedAt).toEqual([0]);
    await clock.advance(1);
    expect(startedAt).toEqual([0, 3e9]);
    await clock.advance(3e9);
    expect(startedAt).toEqual([0, 3e9, 6e9]);
    expect(call.value).toBe("ok");
  });

  it("a retry waits a Retry-After past 2^31-1 ms", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({
      maxAttempts: 2,
      baseDelayMs: 1,
      maxDelayMs: 1e10,
      jitter: "none",
      retryAfter: () => LONGER,
      clock,
    });
    let attempts = 0;
    const call = outcome(policy.execute(async () => {
      if (++attempts === 1) throw new Error("busy");
      return "ok";
    }));
    await clock.advance(LONGER - 1);
    expect(attempts).toBe(1);
    await clock.advance(1);
    expect(attempts).toBe(2);
    expect(call.value).toBe("ok");
  });

  it("chaos latency delays the call by the whole latency", async () => {
    const clock = new ManualClock();
    const policy = chaos({ latencyMs: LONGER, clock });
    let ran = false;
    const call = outcome(policy.execute(async () => {
      ran = true;
      return "late";
    }));
    await clock.advance(LONGER - 1);
    expect(ran).toBe(false);
    await clock.advance(1);
    expect(call.value).toBe("late");
  });

  it("a breaker stays open for its whole reset timeout", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: LONGER, clock });
    await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => {});
    expect(breaker.state).toBe("open");
    await clock.advance(LONGER - 1);
    expect(breaker.state).toBe("open");
    expect(breaker.remainingMs).toBe(1);
    await clock.advance(1);
    expect(breaker.state).toBe("half-open");
  });

  it("a sleep of Infinity never wakes, and its abort leaves nothing behind", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const slept = outcome(clock.sleep(Infinity, controller.signal));
    await clock.advance(Number.MAX_SAFE_INTEGER);
    expect(slept.settled).toBe(false);
    controller.abort(new Error("enough"));
    await clock.flush();
    expect((slept.error as Error).message).toBe("enough");
    expect(clock.pending).toBe(0);
  });

  describe("through configure()", () => {
    afterEach(() => configure({}));

    it("cascades long defaults, honoured to the millisecond", async () => {
      configure({
        timeout: { timeoutMs: LONGER, strategy: "aggressive" },
        circuitBreaker: { resetTimeoutMs: LONGER },
        retry: { baseDelayMs: LONG, maxDelayMs: LONGER, jitter: "none" },
      });
      const clock = new ManualClock();
      const call = outcome(new TimeoutPolicy({ clock }).execute(forever));
      expect(new CircuitBreaker().options.resetTimeoutMs).toBe(LONGER);
      expect(new RetryPolicy().options.baseDelayMs).toBe(LONG);
      await clock.advance(LONGER - 1);
      expect(call.settled).toBe(false);
      await clock.advance(1);
      expect(call.error).toBeInstanceOf(TimeoutError);
    });
  });
});
