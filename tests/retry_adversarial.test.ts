import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { RetryExhaustedError, RetryPolicy } from "../mod.ts";
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
