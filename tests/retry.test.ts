import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  backoffDelay,
  type BackoffOptions,
  CircuitOpenError,
  ConfigError,
  configure,
  isRetryableResponse,
  NotRetryableError,
  parseRetryAfter,
  RateLimitExceededError,
  retry,
  RetryExhaustedError,
  RetryPolicy,
  retryAfterMsOf,
  type RetryEvents,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { outcome } from "./_support/promises.ts";

/** An operation failing `failures` times (recording when each attempt started), then returning "ok". */
function flaky(clock: ManualClock, failures: number, error: (attempt: number) => unknown = () => new Error("flaky")) {
  const startedAt: number[] = [];
  const fn = async (): Promise<string> => {
    startedAt.push(clock.now());
    if (startedAt.length <= failures) throw error(startedAt.length);
    return "ok";
  };
  return { fn, startedAt };
}

describe("RetryPolicy", () => {
  it("retries with exponential backoff until success", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 4, baseDelayMs: 100, jitter: "none", clock });
    const { fn, startedAt } = flaky(clock, 3);
    const call = outcome(policy.execute(fn));
    await clock.advance(699);
    expect(call.settled).toBe(false);
    await clock.advance(1);
    expect(call.value).toBe("ok");
    expect(startedAt).toEqual([0, 100, 300, 700]);
  });

  it("supports constant, linear and custom backoff", async () => {
    for (const [backoff, expected] of [
      ["constant", [0, 50, 100, 150]],
      ["linear", [0, 50, 150, 300]],
      [(attempt: number) => attempt * 7, [0, 7, 21, 42]],
    ] as const) {
      const clock = new ManualClock();
      const policy = new RetryPolicy({ maxAttempts: 4, baseDelayMs: 50, backoff, jitter: "none", clock });
      const { fn, startedAt } = flaky(clock, 3);
      const call = outcome(policy.execute(fn));
      await clock.advance(1_000);
      expect(call.value).toBe("ok");
      expect(startedAt).toEqual(expected);
    }
  });

  it("takes a custom backoff's delays as given, without the default jitter", () => {
    expect(new RetryPolicy({ backoff: () => 5 }).options.jitter).toBe("none");
    expect(new RetryPolicy({ backoff: () => 5, jitter: "full" }).options.jitter).toBe("full");
    expect(new RetryPolicy().options.jitter).toBe("full");
  });

  it("gives up with RetryExhaustedError carrying the attempts and the last error", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 3, baseDelayMs: 10, jitter: "none", clock });
    const { fn } = flaky(clock, 10, (attempt) => new Error(`failure ${attempt}`));
    const call = outcome(policy.execute(fn));
    await clock.advance(100);
    const error = call.error as RetryExhaustedError;
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect(error.code).toBe("ERR_RETRY_EXHAUSTED");
    expect(error.attempts).toBe(3);
    expect((error.cause as Error).message).toBe("failure 3");
  });

  it("makes one attempt only with maxAttempts 1", async () => {
    const clock = new ManualClock();
    const { fn, startedAt } = flaky(clock, 1);
    const error = await new RetryPolicy({ maxAttempts: 1, clock }).execute(fn).catch((e) => e);
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect(startedAt).toHaveLength(1);
  });

  it("rethrows at once an error retryOn rejects, or a NotRetryableError", async () => {
    const clock = new ManualClock();
    const fatal = new TypeError("bad request");
    const policy = new RetryPolicy({
      maxAttempts: 5,
      clock,
      retryOn: (error, attempt) => !(error instanceof TypeError) && attempt < 5,
    });
    const { fn, startedAt } = flaky(clock, 5, () => fatal);
    await expect(policy.execute(fn)).rejects.toBe(fatal);
    expect(startedAt).toHaveLength(1);

    const stop = new NotRetryableError(new Error("no"));
    let calls = 0;
    await expect(new RetryPolicy({ clock }).execute(async () => {
      calls++;
      throw stop;
    })).rejects.toBe(stop);
    expect(calls).toBe(1);
  });

  it("passes the attempt number to retryOn", async () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    const policy = new RetryPolicy({
      maxAttempts: 10,
      baseDelayMs: 0,
      clock,
      retryOn: (_, attempt) => {
        seen.push(attempt);
        return attempt < 3;
      },
    });
    const { fn } = flaky(clock, 10);
    await expect(policy.execute(fn)).rejects.toThrow("flaky");
    expect(seen).toEqual([1, 2, 3]);
  });

  it("retries on results retryOnResult flags, then reports the last result", async () => {
    const clock = new ManualClock();
    let n = 0;
    const policy = new RetryPolicy({
      maxAttempts: 3,
      baseDelayMs: 1,
      clock,
      retryOnResult: (result) => result === "busy",
    });
    const call = outcome(policy.execute(async () => (++n < 3 ? "busy" : "ready")));
    await clock.advance(10);
    expect(call.value).toBe("ready");

    const always = outcome(policy.execute(async () => "busy"));
    await clock.advance(10);
    const error = always.error as RetryExhaustedError;
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect(error.lastResult).toBe("busy");
    expect(error.attempts).toBe(3);
  });

  it("waits at least a RateLimitExceededError's or CircuitOpenError's retryAfterMs, capped by maxDelayMs", async () => {
    for (const [error, expectedGap] of [
      [new RateLimitExceededError(500), 500],
      [new CircuitOpenError("api", 800), 800],
      [new RateLimitExceededError(60_000), 2_000],
      [new RateLimitExceededError(1), 10],
    ] as const) {
      const clock = new ManualClock();
      const policy = new RetryPolicy({ baseDelayMs: 10, maxDelayMs: 2_000, jitter: "none", clock });
      const { fn, startedAt } = flaky(clock, 1, () => error);
      const call = outcome(policy.execute(fn));
      await clock.advance(5_000);
      expect(call.value).toBe("ok");
      expect(startedAt[1]! - startedAt[0]!).toBe(expectedGap);
    }
  });

  it("honours Retry-After of a 429/503 Response, in seconds or as an HTTP date", async () => {
    const clock = new ManualClock({ wallNow: Date.UTC(2025, 0, 1) });
    const responses = [
      new Response("slow down", { status: 429, headers: { "Retry-After": "3" } }),
      new Response("down", { status: 503, headers: { "Retry-After": "Wed, 01 Jan 2025 00:00:08 GMT" } }),
      new Response("ok", { status: 200 }),
    ];
    const startedAt: number[] = [];
    const policy = new RetryPolicy({
      maxAttempts: 3,
      baseDelayMs: 10,
      jitter: "none",
      retryOnResult: isRetryableResponse,
      clock,
    });
    const call = outcome(policy.execute(async () => {
      startedAt.push(clock.now());
      return responses[startedAt.length - 1]!;
    }));
    await clock.advance(10_000);
    expect((call.value as Response).status).toBe(200);
    expect(startedAt).toEqual([0, 3_000, 8_000]);
  });

  it("uses a custom retryAfter hook", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({
      baseDelayMs: 1,
      jitter: "none",
      clock,
      retryAfter: (error) => (error as { waitMs?: number }).waitMs,
    });
    const { fn, startedAt } = flaky(clock, 1, () => Object.assign(new Error("x"), { waitMs: 250 }));
    const call = outcome(policy.execute(fn));
    await clock.advance(300);
    expect(call.value).toBe("ok");
    expect(startedAt).toEqual([0, 250]);
  });

  it("gives up before a wait that would overrun maxElapsedMs", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 10, baseDelayMs: 100, maxElapsedMs: 350, jitter: "none", clock });
    const giveUps: RetryEvents["giveUp"][] = [];
    policy.on("giveUp", (event) => giveUps.push(event));
    const { fn, startedAt } = flaky(clock, 10);
    const call = outcome(policy.execute(fn));
    await clock.advance(1_000);
    expect(call.error).toBeInstanceOf(RetryExhaustedError);
    // 0, 100, 300; the next wait (400 ms) would end at 700 > 350.
    expect(startedAt).toEqual([0, 100, 300]);
    expect(giveUps).toMatchObject([{ attempts: 3, reason: "maxElapsed" }]);
  });

  it("stops a pending wait at once when the signal aborts, rejecting with its reason", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 5, baseDelayMs: 1_000, jitter: "none", clock });
    const controller = new AbortController();
    const { fn, startedAt } = flaky(clock, 10);
    const call = outcome(policy.execute(fn, controller.signal));
    await clock.advance(500);
    const reason = new Error("user cancelled");
    controller.abort(reason);
    await clock.flush();
    expect(call.error).toBe(reason);
    expect(clock.pending).toBe(0);
    await clock.advance(10_000);
    expect(startedAt).toEqual([0]);
  });

  it("passes the caller's signal to every attempt and does not retry once it aborted", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const call = outcome(new RetryPolicy({ maxAttempts: 5, baseDelayMs: 0, clock }).execute(async ({ signal }) => {
      signals.push(signal);
      if (signals.length === 2) controller.abort("stop");
      throw new Error("fail");
    }, controller.signal));
    await clock.advance(10);
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal === controller.signal)).toBe(true);
    expect((call.error as Error).message).toBe("fail");
  });

  it("rejects at once when the signal has already aborted", async () => {
    let ran = false;
    await expect(new RetryPolicy().execute(async () => {
      ran = true;
    }, AbortSignal.abort("early"))).rejects.toBe("early");
    expect(ran).toBe(false);
  });

  it("emits retry, giveUp and success events", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 2, baseDelayMs: 10, jitter: "none", clock });
    const events: unknown[] = [];
    policy.on("retry", (event) => events.push(["retry", event]));
    policy.on("giveUp", (event) => events.push(["giveUp", event]));
    policy.on("success", (event) => events.push(["success", event]));
    const first = new Error("first");
    const { fn } = flaky(clock, 1, () => first);
    const ok = outcome(policy.execute(fn));
    await clock.advance(10);
    expect(ok.value).toBe("ok");
    const last = new Error("last");
    const failing = outcome(policy.execute(async () => {
      throw last;
    }));
    await clock.advance(10);
    expect(failing.error).toBeInstanceOf(RetryExhaustedError);
    expect(events).toEqual([
      ["retry", { attempt: 1, delayMs: 10, error: first }],
      ["success", { attempts: 2 }],
      ["retry", { attempt: 1, delayMs: 10, error: last }],
      ["giveUp", { attempts: 2, reason: "maxAttempts", error: last }],
    ]);
  });

  it("applies jitter with the injected random source", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 2, baseDelayMs: 100, jitter: "full", random: () => 0.25, clock });
    const { fn, startedAt } = flaky(clock, 1);
    const call = outcome(policy.execute(fn));
    await clock.advance(100);
    expect(call.value).toBe("ok");
    expect(startedAt).toEqual([0, 25]);
  });

  it("never calls random when there is no failure or no jitter", async () => {
    let calls = 0;
    const random = () => {
      calls++;
      return 0.5;
    };
    const clock = new ManualClock();
    await new RetryPolicy({ random, clock }).execute(async () => 1);
    const { fn } = flaky(clock, 1);
    const call = outcome(new RetryPolicy({ random, jitter: "none", baseDelayMs: 1, clock }).execute(fn));
    await clock.advance(1);
    expect(call.value).toBe("ok");
    expect(calls).toBe(0);
  });

  it("handles many concurrent callers independently", async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({ maxAttempts: 3, baseDelayMs: 10, jitter: "none", clock });
    const attempts = new Map<number, number>();
    const calls = Array.from({ length: 200 }, (_, id) =>
      outcome(policy.execute(async () => {
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        if (n <= id % 4) throw new Error(`call ${id} attempt ${n}`);
        return id;
      })));
    await clock.advance(100);
    calls.forEach((call, id) => {
      if (id % 4 === 3) expect(call.error).toBeInstanceOf(RetryExhaustedError);
      else expect(call.value).toBe(id);
    });
    expect(clock.pending).toBe(0);
  });

  it("has the seeds' presets", () => {
    expect(RetryPolicy.aggressive().options).toMatchObject({
      maxAttempts: 5, baseDelayMs: 100, multiplier: 1.5, maxDelayMs: 2_000, backoff: "exponential",
    });
    expect(RetryPolicy.conservative().options).toMatchObject({
      maxAttempts: 3, baseDelayMs: 2_000, multiplier: 2, maxDelayMs: 30_000, backoff: "exponential",
    });
    expect(RetryPolicy.aggressive({ maxAttempts: 2 }).options.maxAttempts).toBe(2);
  });

  it("validates its options, naming each bad field", () => {
    expect(() => new RetryPolicy({ maxAttempts: 0 })).toThrow(/'maxAttempts' must be an integer >= 1/);
    expect(() => new RetryPolicy({ maxAttempts: 1.5 })).toThrow(ConfigError);
    expect(() => new RetryPolicy({ backoff: "fibonacci" as never })).toThrow(/'backoff'/);
    expect(() => new RetryPolicy({ jitter: "some" as never })).toThrow(/'jitter'/);
    expect(() => new RetryPolicy({ baseDelayMs: -1 })).toThrow(/'baseDelayMs'/);
    expect(() => new RetryPolicy({ multiplier: 0.5 })).toThrow(/'multiplier'/);
    expect(() => new RetryPolicy({ retryOn: true as never })).toThrow(/'retryOn' must be a function/);
    expect(() => new RetryPolicy({ maxAttemps: 3 } as never)).toThrow(/did you mean 'maxAttempts'/);
    let error: unknown;
    try {
      new RetryPolicy({ maxAttempts: 0, maxDelayMs: Number.NaN });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toMatchObject([
      { field: "maxAttempts", value: 0 },
      { field: "maxDelayMs" },
    ]);
  });

  it("takes its defaults from configure()", () => {
    configure({ retry: { maxAttempts: 7, jitter: "equal" } });
    try {
      expect(new RetryPolicy().options).toMatchObject({ maxAttempts: 7, jitter: "equal" });
      expect(new RetryPolicy({ maxAttempts: 2 }).options.maxAttempts).toBe(2);
    } finally {
      configure({});
    }
  });
});

describe("retry()", () => {
  it("direct call: runs fn with a context and resolves with its result", async () => {
    const clock = new ManualClock();
    const { fn, startedAt } = flaky(clock, 2);
    const call = outcome(retry(fn, { baseDelayMs: 10, jitter: "none", clock }));
    await clock.advance(30);
    expect(call.value).toBe("ok");
    expect(startedAt).toEqual([0, 10, 30]);
  });

  it("direct call: honours the signal option", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const call = outcome(retry(async () => {
      throw new Error("x");
    }, { baseDelayMs: 100, clock, signal: controller.signal }));
    await clock.flush();
    controller.abort("bye");
    await clock.flush();
    expect(call.error).toBe("bye");
  });

  it("decorator mode: wraps a function keeping its parameters", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const add = retry({ maxAttempts: 2, baseDelayMs: 5, jitter: "none", clock })(async (a: number, b: number) => {
      if (++calls === 1) throw new Error("once");
      return a + b;
    });
    const call = outcome(add(2, 3));
    await clock.advance(5);
    expect(call.value).toBe(5);
  });

  it("throws ConfigError for bad options in both modes", () => {
    expect(() => retry(async () => 1, { maxAttempts: 0 })).toThrow(ConfigError);
    expect(() => retry({ maxAttempts: 0 })).toThrow(ConfigError);
  });
});

describe("backoffDelay", () => {
  const base: BackoffOptions = {
    backoff: "exponential",
    baseDelayMs: 100,
    maxDelayMs: 5_000,
    multiplier: 2,
    jitter: "none",
    random: Math.random,
  };

  it("stays within the jitter's bounds and the cap (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("constant", "linear", "exponential"),
        fc.constantFrom("none", "full", "equal", "decorrelated"),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 60_000 }),
        (backoff, jitter, baseDelayMs, maxDelayMs, multiplier, attempt, r, previous) => {
          const options = { backoff, jitter, baseDelayMs, maxDelayMs, multiplier, random: () => r } as const;
          const delay = backoffDelay(options, attempt, previous);
          const shaped = Math.min(
            maxDelayMs,
            backoff === "constant"
              ? baseDelayMs
              : backoff === "linear"
              ? baseDelayMs * attempt
              : baseDelayMs * multiplier ** (attempt - 1),
          );
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.max(maxDelayMs, 0));
          if (jitter === "none") expect(delay).toBeCloseTo(shaped, 6);
          if (jitter === "full") expect(delay).toBeLessThanOrEqual(shaped);
          if (jitter === "equal") {
            expect(delay).toBeGreaterThanOrEqual(shaped / 2 - 1e-9);
            expect(delay).toBeLessThanOrEqual(shaped + 1e-9);
          }
          if (jitter === "decorrelated") {
            expect(delay).toBeGreaterThanOrEqual(Math.min(baseDelayMs, maxDelayMs) - 1e-9);
            expect(delay).toBeLessThanOrEqual(Math.min(maxDelayMs, Math.max(baseDelayMs, previous * 3)) + 1e-9);
          }
        },
      ),
    );
  });

  it("treats a custom function's NaN or negative delay as none", () => {
    expect(backoffDelay({ ...base, backoff: () => Number.NaN }, 1, 0)).toBe(0);
    expect(backoffDelay({ ...base, backoff: () => -5 }, 1, 0)).toBe(0);
    expect(backoffDelay({ ...base, backoff: () => 1e9 }, 1, 0)).toBe(5_000);
  });
});

describe("Retry-After helpers", () => {
  const now = Date.UTC(2025, 0, 1);

  it("parses delta-seconds and HTTP dates", () => {
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter(" 5 ", now)).toBe(5_000);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("-1", now)).toBeUndefined();
    expect(parseRetryAfter("1.5", now)).toBeUndefined();
    expect(parseRetryAfter("later", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("reads retry-after only from 429 and 503 responses, or an error's response", () => {
    const headers = { "retry-after": "2" };
    expect(retryAfterMsOf(new Response(null, { status: 429, headers }), now)).toBe(2_000);
    expect(retryAfterMsOf(new Response(null, { status: 503, headers }), now)).toBe(2_000);
    expect(retryAfterMsOf(new Response(null, { status: 500, headers }), now)).toBeUndefined();
    const httpError = Object.assign(new Error("HTTP 429"), { response: new Response(null, { status: 429, headers }) });
    expect(retryAfterMsOf(httpError, now)).toBe(2_000);
    expect(retryAfterMsOf(new Error("plain"), now)).toBeUndefined();
    expect(retryAfterMsOf(undefined, now)).toBeUndefined();
  });

  it("classifies retryable responses", () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504]) {
      expect(isRetryableResponse(new Response(null, { status }))).toBe(true);
    }
    for (const status of [200, 204, 400, 401, 404, 501]) {
      expect(isRetryableResponse(new Response(null, { status }))).toBe(false);
    }
    expect(isRetryableResponse("503")).toBe(false);
  });
});
