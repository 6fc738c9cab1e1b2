// `retry(fn, options)` and `withTimeout(fn, options)` reuse a policy built
// earlier for the same option values (src/internal/forms.ts). These pin
// that reuse never shows: every call still validates its options as the
// class form does, honours the configure() defaults in force, and runs
// with exactly the options it was given.
import { afterEach, describe, expect, it } from "vitest";
import {
  ConfigError,
  configure,
  RetryExhaustedError,
  type RetryOptions,
  RetryPolicy,
  retry,
  TimeoutError,
  type TimeoutOptions,
  TimeoutPolicy,
  withTimeout,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { outcome } from "./_support/promises.ts";

afterEach(() => configure({}));

/** An operation that fails every time, counting its calls. */
function failing(): { fn: () => Promise<never>; calls: () => number } {
  let calls = 0;
  return {
    fn: () => {
      calls++;
      return Promise.reject(new Error("down"));
    },
    calls: () => calls,
  };
}

const untilAborted = ({ signal }: { signal: AbortSignal }): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

function configErrorOf(build: () => unknown): ConfigError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("retry(fn, options)", () => {
  it("runs each call with its own option values, however many distinct ones are in use", async () => {
    for (let round = 0; round < 2; round++) {
      for (let maxAttempts = 1; maxAttempts <= 12; maxAttempts++) {
        const op = failing();
        const error = await retry(op.fn, { maxAttempts, baseDelayMs: 0 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(maxAttempts === 1 ? Error : RetryExhaustedError);
        expect(op.calls()).toBe(maxAttempts);
      }
    }
  });

  it("validates every call's options as RetryPolicy does, after calls with good ones", async () => {
    await retry(async () => 1, { maxAttempts: 3 });
    await retry(async () => 1, { maxAttempts: 3 });
    const cases: Array<Record<string, unknown>> = [
      { maxAttempts: 0 },
      { maxAtempts: 3 },
      { maxAttempts: undefined },
      { maxAttempts: 3, jitter: "some" },
      { maxAttempts: 3, extra: undefined },
    ];
    for (const options of cases) {
      const fromForm = configErrorOf(() => retry(async () => 1, options as RetryOptions));
      const fromClass = configErrorOf(() => new RetryPolicy(options as RetryOptions));
      expect(fromForm.message).toBe(fromClass.message);
      expect(fromForm.issues).toEqual(fromClass.issues);
    }
  });

  it("uses the configure() defaults in force at each call", async () => {
    const op = failing();
    await retry(op.fn, { baseDelayMs: 0 }).catch(() => {});
    expect(op.calls()).toBe(3);
    configure({ retry: { maxAttempts: 2 } });
    await retry(op.fn, { baseDelayMs: 0 }).catch(() => {});
    expect(op.calls()).toBe(5);
    configure({});
    await retry(op.fn, { baseDelayMs: 0 }).catch(() => {});
    expect(op.calls()).toBe(8);
  });

  it("jitters with the Math.random of the moment, as a policy built per call did", async () => {
    const clock = new ManualClock();
    const options = { maxAttempts: 2, baseDelayMs: 100, clock };
    await retry(async () => 1, options);
    const original = Math.random;
    Math.random = () => 0;
    try {
      let calls = 0;
      const call = outcome(retry(() => (++calls === 1 ? Promise.reject(new Error("once")) : Promise.resolve("ok")), { ...options }));
      // Full jitter of a random 0 waits nothing: no clock advance needed.
      await clock.flush();
      expect(call).toMatchObject({ settled: true, value: "ok" });
    } finally {
      Math.random = original;
    }
  });

  it("reads only the object's own keys, as before (inherited ones are not options)", async () => {
    const op = failing();
    const inherited = Object.create({ maxAttempts: 5 }) as RetryOptions & { baseDelayMs: number };
    inherited.baseDelayMs = 0;
    await retry(op.fn, inherited).catch(() => {});
    expect(op.calls()).toBe(3);
    await retry(op.fn, { maxAttempts: 5, baseDelayMs: 0 }).catch(() => {});
    expect(op.calls()).toBe(8);
  });

  it("honours each call's own signal, which is not an option of the policy", async () => {
    const controller = new AbortController();
    controller.abort("stop");
    let ran = false;
    await retry(async () => 1, { maxAttempts: 3 });
    const error = await retry(async () => {
      ran = true;
    }, { maxAttempts: 3, signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBe("stop");
    expect(ran).toBe(false);
  });
});

describe("withTimeout(fn, options)", () => {
  it("runs each call with its own deadline and strategy", async () => {
    const clock = new ManualClock();
    for (const timeoutMs of [10, 20, 10, 30]) {
      const call = outcome(withTimeout(untilAborted, { timeoutMs, clock }));
      await clock.advance(timeoutMs - 1);
      expect(call.settled).toBe(false);
      await clock.advance(1);
      expect(call.error).toBeInstanceOf(TimeoutError);
      expect((call.error as TimeoutError).timeoutMs).toBe(timeoutMs);
    }
    // Aggressive rejects at the deadline even if the operation ignores its signal.
    const ignores = (): Promise<never> => new Promise(() => {});
    const aggressive = outcome(withTimeout(ignores, { timeoutMs: 10, strategy: "aggressive", clock }));
    await clock.advance(10);
    expect(aggressive.error).toBeInstanceOf(TimeoutError);
  });

  it("validates every call's options as TimeoutPolicy does, after calls with good ones", async () => {
    await withTimeout(async () => 1, { timeoutMs: 1_000 });
    await withTimeout(async () => 1, { timeoutMs: 1_000 });
    const cases: Array<Record<string, unknown>> = [
      { timeoutMs: 0 },
      { timeoutMS: 1_000 },
      { timeoutMs: undefined },
      { timeoutMs: 1_000, strategy: "eager" },
      { timeoutMs: 1_000, clock: undefined },
    ];
    for (const options of cases) {
      const fromForm = configErrorOf(() => withTimeout(async () => 1, options as TimeoutOptions));
      const fromClass = configErrorOf(() => new TimeoutPolicy(options as TimeoutOptions));
      expect(fromForm.message).toBe(fromClass.message);
      expect(fromForm.issues).toEqual(fromClass.issues);
    }
  });

  it("honours each call's own signal: an aborted one rejects with its reason, fn not run; a live one reaches fn", async () => {
    const controller = new AbortController();
    controller.abort("stop");
    let ran = false;
    await withTimeout(async () => 1, { timeoutMs: 1_000 });
    const refused = await withTimeout(async () => {
      ran = true;
    }, { timeoutMs: 1_000, signal: controller.signal }).catch((e: unknown) => e);
    expect(refused).toBe("stop");
    expect(ran).toBe(false);
    const live = new AbortController();
    const call = outcome(withTimeout(untilAborted, { timeoutMs: 1_000, signal: live.signal }));
    live.abort("later");
    await Promise.resolve();
    await Promise.resolve();
    expect(call.error).toBe("later");
  });

  it("uses the configure() defaults in force at each call", async () => {
    const clock = new ManualClock();
    for (const timeoutMs of [50, 70]) {
      configure({ timeout: { timeoutMs } });
      const call = outcome(withTimeout(untilAborted, { clock }));
      await clock.advance(timeoutMs);
      expect((call.error as TimeoutError).timeoutMs).toBe(timeoutMs);
    }
  });
});
