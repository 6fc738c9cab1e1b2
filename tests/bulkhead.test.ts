import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Bulkhead, bulkhead, BulkheadRejectedError, ConfigError, configure } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { deferred, outcome } from "./_support/promises.ts";
import { withUserAgent } from "./_support/user_agent.ts";

const flush = (): Promise<void> => new ManualClock().flush();

describe("Bulkhead", () => {
  it("runs at most maxConcurrent at once and rejects the rest when there is no queue", async () => {
    const limiter = new Bulkhead({ maxConcurrent: 2 });
    const gates = [deferred(), deferred()];
    const running = gates.map((gate) => outcome(limiter.execute(() => gate.promise)));
    expect(limiter.active).toBe(2);
    const refused = await limiter.execute(async () => "never").catch((error) => error);
    expect(refused).toBeInstanceOf(BulkheadRejectedError);
    expect(refused.code).toBe("ERR_BULKHEAD_REJECTED");
    expect(refused.maxConcurrent).toBe(2);
    expect(limiter.rejected).toBe(1);
    gates[0]!.resolve();
    await flush();
    expect(running[0]!.settled).toBe(true);
    expect(limiter.active).toBe(1);
    expect(await limiter.execute(async () => "now fits")).toBe("now fits");
    gates[1]!.resolve();
    await flush();
    expect(limiter.active).toBe(0);
  });

  it("queues in FIFO order up to maxQueue", async () => {
    // pollMs: 0, the hand-over (the default everywhere but on Workers).
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 3, pollMs: 0 });
    const order: number[] = [];
    const first = deferred();
    const calls = [outcome(limiter.execute(async () => {
      await first.promise;
      order.push(0);
    }))];
    for (let i = 1; i <= 3; i++) calls.push(outcome(limiter.execute(async () => void order.push(i))));
    expect(limiter.queued).toBe(3);
    const overflow = outcome(limiter.execute(async () => void order.push(99)));
    await flush();
    expect(overflow.error).toBeInstanceOf(BulkheadRejectedError);
    first.resolve();
    await flush();
    expect(order).toEqual([0, 1, 2, 3]);
    expect(calls.every((call) => call.settled && call.error === undefined)).toBe(true);
    expect(limiter.active).toBe(0);
    expect(limiter.queued).toBe(0);
  });

  it("frees the slot when the operation throws, synchronously or not", async () => {
    const limiter = new Bulkhead({ maxConcurrent: 1 });
    await expect(limiter.execute(() => {
      throw new Error("sync");
    })).rejects.toThrow("sync");
    await expect(limiter.execute(async () => {
      throw new Error("async");
    })).rejects.toThrow("async");
    await expect(limiter.execute(() => 5)).resolves.toBe(5);
    expect(limiter.active).toBe(0);
  });

  it("lets an aborted waiter leave the queue at once without blocking those behind it", async () => {
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 2, pollMs: 0 });
    const gate = deferred();
    outcome(limiter.execute(() => gate.promise));
    const controller = new AbortController();
    let abortedRan = false;
    const aborted = outcome(limiter.execute(async () => void (abortedRan = true), controller.signal));
    const behind = outcome(limiter.execute(async () => "behind"));
    expect(limiter.queued).toBe(2);
    controller.abort("no longer needed");
    await flush();
    expect(aborted.error).toBe("no longer needed");
    expect(limiter.queued).toBe(1);
    gate.resolve();
    await flush();
    expect(behind.value).toBe("behind");
    expect(abortedRan).toBe(false);
    expect(limiter.active).toBe(0);
  });

  it("rejects a waiter after queueTimeoutMs", async () => {
    const clock = new ManualClock();
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 100, clock });
    const rejects: string[] = [];
    limiter.on("reject", ({ reason }) => rejects.push(reason));
    const gate = deferred();
    outcome(limiter.execute(() => gate.promise));
    const waiting = outcome(limiter.execute(async () => "late"));
    await clock.advance(99);
    expect(waiting.settled).toBe(false);
    await clock.advance(1);
    expect(waiting.error).toBeInstanceOf(BulkheadRejectedError);
    expect((waiting.error as Error).message).toMatch(/100 ms/);
    expect(limiter.queued).toBe(0);
    expect(limiter.rejected).toBe(1);
    expect(rejects).toEqual(["queueTimeout"]);
    gate.resolve();
    await clock.flush();
    expect(clock.pending).toBe(0);
  });

  it("cancels a waiter's queue timer once it gets a slot", async () => {
    const clock = new ManualClock();
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 100, pollMs: 0, clock });
    const gate = deferred();
    outcome(limiter.execute(() => gate.promise));
    const waiting = outcome(limiter.execute(async () => "served"));
    expect(clock.pending).toBe(1);
    gate.resolve();
    await clock.flush();
    expect(waiting.value).toBe("served");
    expect(clock.pending).toBe(0);
  });

  it("rejects at once when the signal already aborted", async () => {
    const limiter = new Bulkhead({ maxConcurrent: 1 });
    await expect(limiter.execute(async () => 1, AbortSignal.abort("gone"))).rejects.toBe("gone");
    expect(limiter.active).toBe(0);
  });

  it("passes the caller's signal to the operation", async () => {
    const limiter = new Bulkhead({ maxConcurrent: 1 });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await limiter.execute(({ signal }) => void (seen = signal), controller.signal);
    expect(seen).toBe(controller.signal);
  });

  it("rejects queued calls on dispose; running ones finish", async () => {
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const gate = deferred<string>();
    const running = outcome(limiter.execute(() => gate.promise));
    const queued = [outcome(limiter.execute(async () => 1)), outcome(limiter.execute(async () => 2))];
    limiter[Symbol.dispose]();
    await flush();
    expect(queued.every((call) => call.error instanceof BulkheadRejectedError)).toBe(true);
    gate.resolve("finished");
    await flush();
    expect(running.value).toBe("finished");
    expect(limiter.active).toBe(0);
  });

  it("never exceeds its limits under many concurrent callers (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(
          fc.record({ startMs: fc.integer({ min: 0, max: 20 }), workMs: fc.integer({ min: 1, max: 10 }), abortMs: fc.option(fc.integer({ min: 0, max: 20 })) }),
          { minLength: 1, maxLength: 40 },
        ),
        async (maxConcurrent, maxQueue, calls) => {
          const clock = new ManualClock();
          const limiter = new Bulkhead({ maxConcurrent, maxQueue, clock });
          let running = 0;
          let peak = 0;
          const started: number[] = [];
          let done = 0;
          let refused = 0;
          let aborted = 0;
          const all = calls.map((spec, index) =>
            clock.sleep(spec.startMs).then(() => {
              const controller = new AbortController();
              if (spec.abortMs !== null) clock.schedule(() => controller.abort("abort"), spec.abortMs);
              expect(limiter.active).toBeLessThanOrEqual(maxConcurrent);
              expect(limiter.queued).toBeLessThanOrEqual(maxQueue);
              return limiter.execute(async () => {
                started.push(index);
                peak = Math.max(peak, ++running);
                await clock.sleep(spec.workMs);
                running--;
              }, controller.signal).then(
                () => done++,
                (error) => (error === "abort" ? aborted++ : error instanceof BulkheadRejectedError ? refused++ : 0),
              );
            })
          );
          await clock.advance(1_000);
          await Promise.all(all);
          expect(peak).toBeLessThanOrEqual(maxConcurrent);
          expect(done + refused + aborted).toBe(calls.length);
          expect(limiter.rejected).toBe(refused);
          expect(limiter.active).toBe(0);
          expect(limiter.queued).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("validates its options", () => {
    expect(() => new Bulkhead({ maxConcurrent: 1.5 })).toThrow(/'maxConcurrent' must be an integer >= 1/);
    expect(() => new Bulkhead({ maxConcurrent: 0 })).toThrow(ConfigError);
    expect(() => new Bulkhead({ maxQueue: -1 })).toThrow(/'maxQueue'/);
    expect(() => new Bulkhead({ queueTimeoutMs: Number.NaN })).toThrow(/'queueTimeoutMs'/);
    expect(() => new Bulkhead({ maxConcurent: 2 } as never)).toThrow(/did you mean 'maxConcurrent'/);
  });

  it("takes its defaults from configure()", () => {
    configure({ bulkhead: { maxConcurrent: 3, maxQueue: 7 } });
    try {
      expect(new Bulkhead().options).toMatchObject({ maxConcurrent: 3, maxQueue: 7 });
    } finally {
      configure({});
    }
    expect(new Bulkhead().options).toMatchObject({ maxConcurrent: 10, maxQueue: 0 });
  });
});

describe("bulkhead()", () => {
  it("wraps a function with a concurrency limit", async () => {
    let running = 0;
    let peak = 0;
    const gate = deferred();
    const limited = bulkhead(async (n: number) => {
      peak = Math.max(peak, ++running);
      await gate.promise;
      running--;
      return n * 2;
    }, { maxConcurrent: 2, maxQueue: 10 });
    const results = Promise.all([1, 2, 3, 4, 5].map((n) => limited(n)));
    await flush();
    gate.resolve();
    expect(await results).toEqual([2, 4, 6, 8, 10]);
    expect(peak).toBe(2);
  });
});

describe("Bulkhead with pollMs (queued calls wake themselves, as Workers need)", () => {
  it("starts a queued call at its next poll after a slot frees, in FIFO order, never by the releaser's code", async () => {
    const clock = new ManualClock();
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 5, pollMs: 5, clock });
    const first = deferred<string>();
    const order: string[] = [];
    const running = limiter.execute(() => first.promise);
    const queued = ["a", "b", "c"].map((name) => limiter.execute(async () => (order.push(`${name}@${clock.now()}`), name)));
    expect(limiter.queued).toBe(3);
    // Each queued call sets its own timer.
    expect(clock.pending).toBe(3);
    await clock.advance(12);
    first.resolve("first");
    expect(await running).toBe("first");
    // The slot is free, but nobody was woken by the call that freed it.
    expect(limiter.active).toBe(0);
    expect(limiter.queued).toBe(3);
    // A newcomer does not jump the queue while calls wait.
    const late = limiter.execute(async () => (order.push(`late@${clock.now()}`), "late"));
    expect(limiter.queued).toBe(4);
    // t = 15: a, b and c poll in turn; each finds the slot free (the one
    // before has finished) and first in line.
    await clock.advance(3);
    expect(order).toEqual(["a@15", "b@15", "c@15"]);
    // late joined at 12, so it polls at 17.
    await clock.advance(5);
    expect(await Promise.all([...queued, late])).toEqual(["a", "b", "c", "late"]);
    expect(order).toEqual(["a@15", "b@15", "c@15", "late@17"]);
    expect(limiter.active).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it("still refuses when the queue is full, and honours aborts and queueTimeoutMs, leaving no timer", async () => {
    const clock = new ManualClock();
    const limiter = new Bulkhead({ maxConcurrent: 1, maxQueue: 2, queueTimeoutMs: 50, pollMs: 5, clock });
    const hold = deferred();
    const running = limiter.execute(() => hold.promise);
    const controller = new AbortController();
    const aborted = outcome(limiter.execute(async () => "never", controller.signal));
    const timedOut = outcome(limiter.execute(async () => "never"));
    expect(await limiter.execute(async () => "never").catch((error) => error)).toBeInstanceOf(BulkheadRejectedError);
    controller.abort(new Error("gave up"));
    await clock.flush();
    expect((aborted.error as Error).message).toBe("gave up");
    await clock.advance(50);
    expect(timedOut.error).toBeInstanceOf(BulkheadRejectedError);
    expect(clock.pending).toBe(0);
    hold.resolve();
    await running;
    expect(limiter.active).toBe(0);
  });

  it("validates pollMs and takes it from configure()", () => {
    expect(() => new Bulkhead({ pollMs: -1 })).toThrow(ConfigError);
    configure({ bulkhead: { pollMs: 7 } });
    try {
      expect(new Bulkhead().options.pollMs).toBe(7);
    } finally {
      configure({});
    }
  });
});


describe("Bulkhead's default pollMs (safe on Workers, where a request cannot wake another)", () => {
  it("polls every 5 ms on this runtime if it is Workers, hands over elsewhere", () => {
    const userAgent = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent;
    expect(new Bulkhead({ maxQueue: 5 }).options.pollMs).toBe(userAgent === "Cloudflare-Workers" ? 5 : 0);
  });

  it("reads the runtime when a bulkhead is built: polls under Workers' user agent, hands over under another", async () => {
    let onWorkers: Bulkhead | undefined;
    let elsewhere: Bulkhead | undefined;
    const clock = new ManualClock();
    const changed = withUserAgent("Cloudflare-Workers", () => {
      onWorkers = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, clock });
    }) && withUserAgent("Mozilla/5.0", () => {
      elsewhere = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, clock });
    });
    if (!changed) return; // This runtime's navigator cannot be replaced; the test above covers it.
    expect(onWorkers!.options.pollMs).toBe(5);
    expect(elsewhere!.options.pollMs).toBe(0);
    // On Workers, a queued call starts at its own poll, not by the releaser's code.
    const gate = deferred();
    void onWorkers!.execute(() => gate.promise);
    const queued = outcome(onWorkers!.execute(async () => "queued"));
    gate.resolve();
    await clock.flush();
    expect(queued.settled).toBe(false);
    await clock.advance(5);
    expect(queued.value).toBe("queued");
    expect(clock.pending).toBe(0);
  });

  it("takes an explicit pollMs, or configure()'s, as given on every runtime (0: hand over directly)", () => {
    for (const userAgent of ["Cloudflare-Workers", "Mozilla/5.0"]) {
      withUserAgent(userAgent, () => {
        expect(new Bulkhead({ maxQueue: 1, pollMs: 0 }).options.pollMs).toBe(0);
        expect(new Bulkhead({ maxQueue: 1, pollMs: 20 }).options.pollMs).toBe(20);
        configure({ bulkhead: { pollMs: 0 } });
        try {
          expect(new Bulkhead({ maxQueue: 1 }).options.pollMs).toBe(0);
          expect(new Bulkhead({ maxQueue: 1, pollMs: 3 }).options.pollMs).toBe(3);
        } finally {
          configure({});
        }
      });
    }
  });
});
