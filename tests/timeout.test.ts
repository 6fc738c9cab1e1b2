import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  ConfigError,
  configure,
  ResilienceError,
  ResiliencePipeline,
  TimeoutError,
  TimeoutManager,
  TimeoutPolicy,
  withTimeout,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { deferred, outcome } from "./_support/promises.ts";

/** An operation that settles only when its signal aborts, rejecting with the reason. */
function untilAborted({ signal }: { signal: AbortSignal }): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason));
  });
}

describe("TimeoutPolicy", () => {
  it("aborts the signal with a TimeoutError at the deadline, not before", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    const call = outcome(policy.execute(untilAborted));
    await clock.advance(99);
    expect(call.settled).toBe(false);
    await clock.advance(1);
    expect(call.error).toBeInstanceOf(TimeoutError);
    const error = call.error as TimeoutError;
    expect(error.name).toBe("TimeoutError");
    expect(error.code).toBe("ERR_TIMEOUT");
    expect(error.timeoutMs).toBe(100);
    expect(error).toBeInstanceOf(ResilienceError);
    expect(clock.pending).toBe(0);
  });

  it("returns the value of an operation that settles in time, and leaves no timer", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    const work = deferred<string>();
    const call = outcome(policy.execute(() => work.promise));
    await clock.advance(50);
    expect(clock.pending).toBe(1);
    work.resolve("done");
    await clock.flush();
    expect(call).toEqual({ settled: true, value: "done" });
    expect(clock.pending).toBe(0);
  });

  it("costs no timer when the operation settles within a microtask", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    for (let i = 0; i < 5; i++) expect(await policy.execute(async () => i)).toBe(i);
    expect(await policy.execute(() => 7)).toBe(7);
    expect(clock.pending).toBe(0);
  });

  it("reads no clock and schedules nothing for calls that settle within a few microtasks", async () => {
    const manual = new ManualClock();
    let reads = 0;
    let schedules = 0;
    const clock = {
      now: () => (reads++, manual.now()),
      wallNow: () => manual.wallNow(),
      sleep: (ms: number, signal?: AbortSignal) => manual.sleep(ms, signal),
      schedule: (callback: () => void, ms: number) => (schedules++, manual.schedule(callback, ms)),
    };
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    for (let i = 0; i < 10; i++) await policy.execute(async () => i);
    await policy.execute(async () => {
      await undefined;
      return "two turns";
    });
    expect({ reads, schedules }).toEqual({ reads: 0, schedules: 0 });
    // A call still pending after those turns is stamped and timed once.
    const pending = outcome(policy.execute(untilAborted));
    await manual.flush();
    expect(schedules).toBe(1);
    await manual.advance(100);
    expect(pending.error).toBeInstanceOf(TimeoutError);
  });

  it("waits the same microtask turns before arming on every runtime, alone and innermost in a fused pipeline", async () => {
    // The queue takes its turns with a promise's `then` on V8 and with
    // `queueMicrotask` on Bun: an operation that settles after two awaits
    // of settled values costs no timer either way, one that takes three
    // gets exactly one, and its deadline is neither early nor late.
    const timersFor = async (awaits: number, inPipeline: boolean): Promise<number> => {
      const manual = new ManualClock();
      let timers = 0;
      const clock = {
        now: () => manual.now(),
        wallNow: () => manual.wallNow(),
        sleep: (ms: number, signal?: AbortSignal) => manual.sleep(ms, signal),
        schedule: (callback: () => void, ms: number) => (timers++, manual.schedule(callback, ms)),
      };
      const policy = inPipeline
        ? new ResiliencePipeline({ bulkhead: { maxConcurrent: 2 }, circuitBreaker: { maxFailures: 5 }, retry: { maxAttempts: 1 }, timeout: { timeoutMs: 100, clock } })
        : new TimeoutPolicy({ timeoutMs: 100, clock });
      const value = await policy.execute(async () => {
        for (let i = 0; i < awaits; i++) await undefined;
        return awaits;
      });
      expect(value).toBe(awaits);
      // A call that never settles: armed once, timed out at 100 ms, not at 99.
      const hung = outcome(policy.execute(untilAborted));
      await manual.advance(99);
      const early = hung.settled;
      await manual.advance(1);
      expect(early).toBe(false);
      // Through the pipeline, retry reports the timeout as its last attempt's failure.
      const error = inPipeline ? (hung.error as Error).cause : hung.error;
      expect(error).toBeInstanceOf(TimeoutError);
      expect(manual.pending).toBe(0);
      return timers - 1;
    };
    for (const inPipeline of [false, true]) {
      const seen = [];
      for (let awaits = 0; awaits <= 4; awaits++) seen.push(await timersFor(awaits, inPipeline));
      expect({ inPipeline, seen }).toEqual({ inPipeline, seen: [0, 0, 0, 1, 1] });
    }
  });

  it("rejects with a synchronous throw of the operation", async () => {
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock: new ManualClock() });
    const boom = new Error("boom");
    await expect(policy.execute(() => {
      throw boom;
    })).rejects.toBe(boom);
  });

  it("cooperative: waits for the operation and returns what it settles with", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock });
    const work = deferred<string>();
    let seenSignal: AbortSignal | undefined;
    const call = outcome(policy.execute(({ signal }) => {
      seenSignal = signal;
      return work.promise;
    }));
    await clock.advance(150);
    expect(seenSignal!.aborted).toBe(true);
    expect(seenSignal!.reason).toBeInstanceOf(TimeoutError);
    expect(call.settled).toBe(false);
    work.resolve("late but done");
    await clock.flush();
    expect(call).toEqual({ settled: true, value: "late but done" });
  });

  it("cooperative: an AbortError after the deadline becomes the TimeoutError", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 10, clock });
    const call = outcome(policy.execute(({ signal }) =>
      new Promise((_, reject) => {
        signal.addEventListener("abort", () => {
          const abortError = new Error("aborted");
          abortError.name = "AbortError";
          reject(abortError);
        });
      })
    ));
    await clock.advance(10);
    expect(call.error).toBeInstanceOf(TimeoutError);
  });

  it("cooperative: whatever the operation rejects with once aborted, the call rejects with the TimeoutError", async () => {
    // workerd's fetch, for one, rejects with a copy of the abort reason.
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 10, clock });
    let reason: unknown;
    const call = outcome(policy.execute(({ signal }) =>
      new Promise((_, reject) =>
        signal.addEventListener("abort", () => {
          reason = signal.reason;
          reject(new Error(`copy of ${String(signal.reason)}`));
        })
      )
    ));
    await clock.advance(10);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(call.error).toBe(reason);
  });

  it("cooperative: errors before the deadline pass through untouched", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 10, clock });
    const specific = new Error("specific");
    const call = outcome(policy.execute(async ({ signal }) => {
      if (!signal.aborted) throw specific;
    }));
    await clock.advance(5);
    expect(call.error).toBe(specific);
  });

  it("aggressive: rejects at the deadline even if the operation ignores its signal", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 100, strategy: "aggressive", clock });
    const work = deferred<string>();
    const call = outcome(policy.execute(() => work.promise));
    await clock.advance(100);
    expect(call.error).toBeInstanceOf(TimeoutError);
    work.resolve("too late");
    await clock.flush();
    expect(call.error).toBeInstanceOf(TimeoutError);
  });

  it("gives a signal read after the deadline already aborted", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 10, clock });
    const gate = deferred<void>();
    let late: AbortSignal | undefined;
    const call = outcome(policy.execute(async (context) => {
      await gate.promise;
      late = context.signal;
      return "ok";
    }));
    await clock.advance(20);
    gate.resolve();
    await clock.flush();
    expect(late!.aborted).toBe(true);
    expect(late!.reason).toBeInstanceOf(TimeoutError);
    expect(call.value).toBe("ok");
  });

  it("propagates the caller's abort to the operation at once, with the caller's reason", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 1_000, clock });
    const controller = new AbortController();
    const call = outcome(policy.execute(untilAborted, controller.signal));
    await clock.advance(10);
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await clock.flush();
    expect(call.error).toBe(reason);
    expect(clock.pending).toBe(0);
  });

  it("aggressive: rejects at once when the caller aborts, even if the signal is never read", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 1_000, strategy: "aggressive", clock });
    const controller = new AbortController();
    const call = outcome(policy.execute(() => new Promise(() => {}), controller.signal));
    await clock.flush();
    controller.abort("stop");
    await clock.flush();
    expect(call.error).toBe("stop");
  });

  it("rejects at once, without running the operation, if the caller already aborted", async () => {
    const policy = new TimeoutPolicy({ timeoutMs: 100, clock: new ManualClock() });
    let ran = false;
    await expect(policy.execute(() => {
      ran = true;
    }, AbortSignal.abort("gone"))).rejects.toBe("gone");
    expect(ran).toBe(false);
  });

  it("emits a timeout event per expired call", async () => {
    const clock = new ManualClock();
    const policy = new TimeoutPolicy({ timeoutMs: 5, clock });
    const seen: number[] = [];
    policy.on("timeout", ({ timeoutMs }) => seen.push(timeoutMs));
    const calls = [outcome(policy.execute(untilAborted)), outcome(policy.execute(untilAborted))];
    await clock.advance(5);
    expect(seen).toEqual([5, 5]);
    expect(calls.every((call) => call.error instanceof TimeoutError)).toBe(true);
  });

  it("arms a timer only for the calls still pending a few microtask turns after they start", async () => {
    const clock = new ManualClock();
    const short = new TimeoutPolicy({ timeoutMs: 10, clock });
    const long = new TimeoutPolicy({ timeoutMs: 30, clock });
    const calls = [];
    for (let i = 0; i < 100; i++) calls.push(outcome((i % 2 ? short : long).execute(untilAborted)));
    // Quick calls (settled within the turns) never get a timer.
    const quick = Array.from({ length: 100 }, () => outcome(short.execute(async () => 1)));
    await clock.flush();
    expect(quick.every((call) => call.value === 1)).toBe(true);
    // One timer per pending call, each set by the call's own code (on
    // Workers a timer belongs to the request that set it).
    expect(clock.pending).toBe(100);
    await clock.advance(10);
    expect(calls.filter((call) => call.settled)).toHaveLength(50);
    expect(clock.pending).toBe(50);
    await clock.advance(20);
    expect(calls.every((call) => call.error instanceof TimeoutError)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("reuses its reaction handlers safely: more calls in flight than it keeps, each settles with its own outcome (property)", async () => {
    // Each call: settles at once with a value or an error, later with either, or never (then times out).
    const kinds = fc.constantFrom("value", "error", "laterValue", "laterError", "hang");
    await fc.assert(
      fc.asyncProperty(fc.array(kinds, { minLength: 1, maxLength: 150 }), fc.integer({ min: 1, max: 3 }), async (plan, rounds) => {
        const clock = new ManualClock();
        const policy = new TimeoutPolicy({ timeoutMs: 10, clock });
        for (let round = 0; round < rounds; round++) {
          const calls = plan.map((kind, i) =>
            outcome(policy.execute(({ signal }) => {
              if (kind === "value") return Promise.resolve(`v${i}`);
              if (kind === "error") return Promise.reject(new Error(`e${i}`));
              if (kind === "hang") return untilAborted({ signal });
              return clock.sleep(5).then(() => {
                if (kind === "laterValue") return `v${i}`;
                throw new Error(`e${i}`);
              });
            }))
          );
          await clock.advance(10);
          await clock.flush();
          calls.forEach((call, i) => {
            const kind = plan[i]!;
            if (kind === "value" || kind === "laterValue") expect(call.value).toBe(`v${i}`);
            else if (kind === "hang") expect(call.error).toBeInstanceOf(TimeoutError);
            else expect((call.error as Error).message).toBe(`e${i}`);
          });
          expect(clock.pending).toBe(0);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("still times out after many distinct durations and an idle spell", async () => {
    const clock = new ManualClock();
    const early = new TimeoutPolicy({ timeoutMs: 100, clock });
    const work = deferred<number>();
    const first = outcome(early.execute(() => work.promise));
    await clock.flush();
    work.resolve(1);
    await clock.flush();
    expect(first.value).toBe(1);
    // Many distinct durations, then idle.
    const many = Array.from({ length: 40 }, (_, i) => outcome(new TimeoutPolicy({ timeoutMs: i + 1, clock }).execute(untilAborted)));
    await clock.advance(40);
    expect(many.every((call) => call.error instanceof TimeoutError)).toBe(true);
    const late = new TimeoutPolicy({ timeoutMs: 100, clock });
    const calls = [outcome(early.execute(untilAborted)), outcome(late.execute(untilAborted))];
    await clock.advance(99);
    expect(calls.some((call) => call.settled)).toBe(false);
    await clock.advance(1);
    expect(calls.every((call) => call.error instanceof TimeoutError)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("expires every call at its own deadline (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            startMs: fc.integer({ min: 0, max: 50 }),
            timeoutMs: fc.integer({ min: 1, max: 60 }),
            workMs: fc.integer({ min: 0, max: 120 }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        async (specs) => {
          const clock = new ManualClock();
          const policies = new Map<number, TimeoutPolicy>();
          const policyFor = (ms: number): TimeoutPolicy => {
            let policy = policies.get(ms);
            if (!policy) policies.set(ms, policy = new TimeoutPolicy({ timeoutMs: ms, strategy: "aggressive", clock }));
            return policy;
          };
          const results: Array<{ at: number; timedOut: boolean }> = [];
          const started = specs.map((spec, index) =>
            clock.sleep(spec.startMs).then(() =>
              policyFor(spec.timeoutMs)
                .execute(() => clock.sleep(spec.workMs))
                .then(
                  () => (results[index] = { at: clock.now(), timedOut: false }),
                  (error) => (results[index] = { at: clock.now(), timedOut: error instanceof TimeoutError }),
                )
            )
          );
          await clock.advance(200);
          await Promise.all(started);
          specs.forEach((spec, index) => {
            const result = results[index]!;
            expect(result.at).toBe(spec.startMs + Math.min(spec.workMs, spec.timeoutMs));
            // Work done exactly at the deadline may go either way: same instant.
            if (spec.workMs !== spec.timeoutMs) expect(result.timedOut).toBe(spec.workMs > spec.timeoutMs);
          });
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("nests: an inner timeout sees an outer deadline through its signal", async () => {
    const clock = new ManualClock();
    const outer = new TimeoutPolicy({ timeoutMs: 50, clock });
    const inner = new TimeoutPolicy({ timeoutMs: 1_000, clock });
    const call = outcome(outer.execute(({ signal }) => inner.execute(untilAborted, signal)));
    await clock.advance(50);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect((call.error as TimeoutError).timeoutMs).toBe(50);
  });

  it("validates its options", () => {
    expect(() => new TimeoutPolicy({ timeoutMs: Number.NaN })).toThrow(ConfigError);
    expect(() => new TimeoutPolicy({ timeoutMs: 0 })).toThrow(/'timeoutMs' must be/);
    expect(() => new TimeoutPolicy({ timeoutMs: Infinity })).toThrow(ConfigError);
    expect(() => new TimeoutPolicy({ strategy: "hard" as never })).toThrow(/'strategy'/);
    expect(() => new TimeoutPolicy({ timeoutMS: 5 } as never)).toThrow(/did you mean 'timeoutMs'/);
    expect(() => new TimeoutPolicy({ timeoutMs: Number.NaN })).toThrow(/'timeoutMs' must be .*: current value is NaN/);
  });

  it("takes its defaults from configure()", () => {
    configure({ timeout: { timeoutMs: 1_234, strategy: "aggressive" } });
    try {
      expect(new TimeoutPolicy().options).toMatchObject({ timeoutMs: 1_234, strategy: "aggressive" });
      expect(new TimeoutPolicy({ timeoutMs: 5 }).options.timeoutMs).toBe(5);
    } finally {
      configure({});
    }
    expect(new TimeoutPolicy().options.timeoutMs).toBe(30_000);
  });
});

describe("withTimeout", () => {
  it("runs the operation with a signal and the deadline", async () => {
    const clock = new ManualClock();
    const call = outcome(withTimeout(untilAborted, { timeoutMs: 20, clock }));
    await clock.advance(20);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(await withTimeout(async () => "fast", { timeoutMs: 20, clock })).toBe("fast");
  });

  it("honours the caller's signal", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const call = outcome(withTimeout(untilAborted, { timeoutMs: 20, clock, signal: controller.signal }));
    controller.abort("cancelled");
    await clock.flush();
    expect(call.error).toBe("cancelled");
  });

  it("throws ConfigError for a bad timeout", () => {
    expect(() => withTimeout(async () => 1, { timeoutMs: Number.NaN })).toThrow(ConfigError);
  });
});

describe("TimeoutManager", () => {
  it("uses per-operation timeouts over the default", async () => {
    const clock = new ManualClock();
    const manager = new TimeoutManager({ defaultMs: 100, clock });
    manager.configure("sendEmail", 10);
    expect(manager.timeoutFor("sendEmail")).toBe(10);
    expect(manager.timeoutFor("anything")).toBe(100);
    expect(manager.defaultMs).toBe(100);
    const email = outcome(manager.run("sendEmail", untilAborted));
    const report = outcome(manager.run("report", untilAborted));
    await clock.advance(10);
    expect((email.error as TimeoutError).timeoutMs).toBe(10);
    expect(report.settled).toBe(false);
    await clock.advance(90);
    expect((report.error as TimeoutError).timeoutMs).toBe(100);
  });

  it("validates the default and every override", () => {
    expect(() => new TimeoutManager({ defaultMs: 0 })).toThrow(/'defaultMs'/);
    const manager = new TimeoutManager({ defaultMs: 5 });
    expect(() => manager.configure("x", -1)).toThrow(/'ms' must be/);
    expect(() => manager.configure("x", Number.NaN)).toThrow(ConfigError);
    expect(() => manager.configure("", 5)).toThrow(/'operation'/);
    expect(manager.timeoutFor("x")).toBe(5);
  });
});
