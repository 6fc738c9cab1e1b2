import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { RetryExhaustedError, RetryPolicy } from "../mod.ts";
import { NowFailingClock } from "./_support/flaky_clock.ts";
import { started } from "./_support/thrown.ts";

describe("RetryPolicy with misbehaving callbacks", () => {
  it("a throwing retryOnResult reaches the caller on every attempt, never counted as a failed attempt", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), async (failuresFirst) => {
        const bug = new Error("predicate bug");
        let calls = 0;
        let judged = 0;
        const policy = new RetryPolicy({
          maxAttempts: 6,
          baseDelayMs: 0,
          retryOnResult: () => {
            judged++;
            throw bug;
          },
        });
        const outcome = await policy.execute(async () => {
          if (++calls <= failuresFirst) throw new Error("flaky");
          return "value";
        }).catch((error: unknown) => error);
        // The first value is judged once, and the predicate's error is the answer.
        expect(outcome).toBe(bug);
        expect(outcome).not.toBeInstanceOf(RetryExhaustedError);
        expect(calls).toBe(failuresFirst + 1);
        expect(judged).toBe(1);
      }),
      { numRuns: 20 },
    );
  });

  it("a throwing retryOn rejects the call, never throws from execute, whether the operation threw or rejected", async () => {
    const bug = new Error("predicate bug");
    const policy = new RetryPolicy({
      maxAttempts: 3,
      baseDelayMs: 0,
      retryOn: () => {
        throw bug;
      },
    });
    const operations = [
      () => {
        throw new Error("sync failure");
      },
      () => Promise.reject(new Error("async failure")),
    ];
    for (const operation of operations) {
      await expect(started(() => policy.execute(operation))).rejects.toBe(bug);
    }
  });
});

describe("RetryPolicy with maxElapsedMs on a clock that cannot tell the time", () => {
  it("execute rejects with the clock's error before running the operation (before: it threw)", async () => {
    const clock = new NowFailingClock();
    const policy = new RetryPolicy({ maxAttempts: 3, maxElapsedMs: 1_000, clock });
    let calls = 0;
    clock.failOn = 1;
    await expect(started(() => policy.execute(async () => ++calls))).rejects.toThrow("clock broken");
    expect(calls).toBe(0);
    await expect(policy.execute(async () => ++calls)).resolves.toBe(1);
  });
});
