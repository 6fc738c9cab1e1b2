import { afterEach, describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  circuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
  CircuitOpenError,
  type CircuitStateChange,
  ConfigError,
  configure,
  InvalidArgumentError,
  type Policy,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { thrown } from "./_support/thrown.ts";

afterEach(() => configure({}));

const down = (): Promise<never> => Promise.reject(new Error("down"));
const ok = (): string => "ok";

async function failTimes(breaker: CircuitBreaker<unknown>, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await breaker.execute(down).catch(() => {});
}

function configErrorOf(options: unknown): ConfigError {
  try {
    new CircuitBreaker(options as CircuitBreakerOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

class ValidationError extends Error {}

describe("CircuitBreaker options", () => {
  it("uses the built-in defaults, under configure(), under constructor options", () => {
    expect(new CircuitBreaker().options).toMatchObject({
      name: "circuit-breaker",
      maxFailures: 5,
      resetTimeoutMs: 60_000,
      halfOpenMaxCalls: 1,
      successThreshold: 1,
    });
    configure({ circuitBreaker: { maxFailures: 3, resetTimeoutMs: 10 } });
    const breaker = new CircuitBreaker({ resetTimeoutMs: 20, halfOpenMaxCalls: undefined });
    expect(breaker.options.maxFailures).toBe(3);
    expect(breaker.options.resetTimeoutMs).toBe(20);
    expect(breaker.options.halfOpenMaxCalls).toBe(1);
  });

  it("throws a ConfigError naming each invalid option, its value and what is allowed", () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ maxFailures: 0 }, "maxFailures", "an integer >= 1"],
      [{ resetTimeoutMs: -1 }, "resetTimeoutMs", "milliseconds >= 0"],
      [{ windowSize: 10, failureRateThreshold: 1.5 }, "failureRateThreshold", "at most 1"],
      [{ isFailure: "yes" }, "isFailure", "a function"],
      [{ isResultFailure: 1 }, "isResultFailure", "a function"],
      [{ halfOpenMaxCalls: 1.5 }, "halfOpenMaxCalls", "an integer"],
      [{ successThreshold: 0 }, "successThreshold", "an integer >= 1"],
      [{ excludedErrors: ValidationError }, "excludedErrors", "an array of error classes"],
      [{ fallback: "cached" }, "fallback", "a function"],
      [{ clock: {} }, "clock", "a Clock"],
      [{ name: "" }, "name", "a non-empty string"],
      [{ windowMs: 0 }, "windowMs", "> 0"],
      [{ windowSize: 0 }, "windowSize", "an integer from 1"],
      [{ windowMs: 1_000, windowBuckets: 0 }, "windowBuckets", "an integer from 1 to 1000"],
      [{ strategy: {} }, "strategy", "a BreakerStrategy"],
      [{ initialState: { state: "open" } }, "initialState.version", "1"],
    ];
    for (const [options, field, allowed] of cases) {
      const error = configErrorOf(options);
      const issue = error.issues.find((i) => i.field === field);
      if (issue === undefined) throw new Error(`no issue for '${field}' in: ${error.message}`);
      expect(issue.allowed).toContain(allowed);
      expect(issue.value).toEqual(field.startsWith("initialState.") ? undefined : options[field]);
      expect(error.message).toContain(`'${field}'`);
    }
  });

  it("reports every bad option at once", () => {
    const error = configErrorOf({ maxFailures: 0, resetTimeoutMs: -1, isFailure: 3 });
    expect(error.issues.map((i) => i.field).sort()).toEqual(["isFailure", "maxFailures", "resetTimeoutMs"]);
  });

  it("catches a misspelt option and suggests the right name", () => {
    const error = configErrorOf({ maxFailrues: 3 });
    expect(error.issues[0]!.field).toBe("maxFailrues");
    expect(error.issues[0]!.allowed).toContain("did you mean 'maxFailures'");
  });

  it("rejects options that only make sense together", () => {
    expect(configErrorOf({ windowSize: 10, windowMs: 1_000 }).issues[0]!.field).toBe("windowMs");
    expect(configErrorOf({ windowBuckets: 4 }).issues[0]!.field).toBe("windowBuckets");
    const rateOptions = { failureRateThreshold: 0.5, minimumThroughput: 5, slowCallDurationMs: 100, slowCallRateThreshold: 0.5 };
    for (const [field, value] of Object.entries(rateOptions)) {
      const issue = configErrorOf({ [field]: value }).issues[0]!;
      expect(issue.field).toBe(field);
      expect(issue.allowed).toContain("a rate needs a window");
    }
    const strategy = { record: () => false, reset: () => {}, failureCount: () => 0 };
    expect(configErrorOf({ strategy, maxFailures: 2 }).issues[0]!.field).toBe("maxFailures");
    expect(configErrorOf({ strategy, windowSize: 2 }).issues[0]!.field).toBe("windowSize");
    expect(configErrorOf({ initialState: { version: 1, name: "x", state: "open", openedAt: null, failureCount: 0, probeSuccesses: 0 } }).issues[0]!.field)
      .toBe("initialState.openedAt");
  });

  it("words the rules between options exactly so, whichever option brings them in", () => {
    const strategy = { record: () => false, reset: () => {}, failureCount: () => 0 };
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ windowSize: 10, windowMs: 1_000 }, "windowMs", "left out when 'windowSize' is set (a window counts calls or spans time, not both)"],
      [{ windowBuckets: 4 }, "windowBuckets", "set only together with 'windowMs'"],
      [{ minimumThroughput: 5 }, "minimumThroughput", "set only with 'windowSize' or 'windowMs' (a rate needs a window)"],
      [{ strategy, failureRateThreshold: 0.5 }, "failureRateThreshold", "left out when 'strategy' is set (the strategy decides when to open)"],
      [
        { initialState: { version: 1, name: "x", state: "forced-open", openedAt: null, failureCount: 0, probeSuccesses: 0 } },
        "initialState.openedAt",
        "epoch ms when the state is 'forced-open'",
      ],
    ];
    for (const [options, field, allowed] of cases) {
      // Given alone, and beside options that bring in no rule (the rules are checked only when one is given).
      for (const given of [options, { resetTimeoutMs: 10, name: "n", halfOpenMaxCalls: 2, ...options }]) {
        const error = configErrorOf(given);
        expect(error.issues).toHaveLength(1);
        expect(error.issues[0]!.field).toBe(field);
        expect(error.issues[0]!.allowed).toBe(allowed);
      }
    }
  });

  it("rejects options that are not an object with an InvalidArgumentError", () => {
    for (const options of [5, null, "fast"]) {
      const error = thrown(() => new CircuitBreaker(options as never));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe("options");
    }
  });

  it("is a Policy when it has no fallback", async () => {
    const policy: Policy = new CircuitBreaker();
    expect(await policy.execute(() => 1)).toBe(1);
  });
});

describe("CircuitBreaker state machine", () => {
  it("opens after maxFailures consecutive failures; a success restarts the count", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 3, clock: new ManualClock() });
    await failTimes(breaker, 2);
    expect(breaker.failureCount).toBe(2);
    await breaker.execute(ok);
    expect(breaker.failureCount).toBe(0);
    await failTimes(breaker, 2);
    expect(breaker.state).toBe("closed");
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
    expect(breaker.failureCount).toBe(3);
  });

  it("rejects while open with a CircuitOpenError carrying the name and remaining time", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: "api", maxFailures: 1, resetTimeoutMs: 1_000, clock });
    await failTimes(breaker, 1);
    await clock.advance(400);
    let ran = false;
    const error = await breaker.execute(() => {
      ran = true;
    }).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ code: "ERR_CIRCUIT_OPEN", breakerName: "api", remainingMs: 600, retryAfterMs: 600 });
    expect(breaker.remainingMs).toBe(600);
  });

  it("turns half-open lazily once resetTimeoutMs has passed, with no timer", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 1_000, clock });
    await failTimes(breaker, 1);
    expect(clock.pending).toBe(0);
    await clock.advance(999);
    expect(breaker.state).toBe("open");
    await clock.advance(1);
    expect(breaker.state).toBe("half-open");
    expect(breaker.remainingMs).toBe(0);
  });

  it("closes after successThreshold probe successes, and reopens on a probe failure", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 100, successThreshold: 2, clock });
    await failTimes(breaker, 1);
    await clock.advance(100);
    await breaker.execute(ok);
    expect(breaker.state).toBe("half-open");
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
    expect(breaker.remainingMs).toBe(100);
    await clock.advance(100);
    await breaker.execute(ok);
    await breaker.execute(ok);
    expect(breaker.state).toBe("closed");
    expect(breaker.failureCount).toBe(0);
  });

  it("forceOpen rejects everything until reset; disable lets everything through", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 10, clock });
    breaker.forceOpen();
    await clock.advance(1_000_000);
    expect(breaker.state).toBe("forced-open");
    expect(breaker.remainingMs).toBe(Infinity);
    const error = await breaker.execute(ok).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).message).toContain("forced open");
    breaker.disable();
    await failTimes(breaker, 5);
    expect(breaker.state).toBe("disabled");
    expect(await breaker.execute(ok)).toBe("ok");
    breaker.reset();
    expect(breaker.state).toBe("closed");
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
  });

  it("reset closes and forgets failures but keeps stats", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 3, clock: new ManualClock() });
    await failTimes(breaker, 2);
    breaker.reset();
    expect(breaker.failureCount).toBe(0);
    expect(breaker.stats.failedCalls).toBe(2);
    await failTimes(breaker, 2);
    expect(breaker.state).toBe("closed");
  });

  it("recordSuccess and recordFailure act like calls that just ended", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 2, resetTimeoutMs: 50, successThreshold: 2, clock });
    breaker.recordFailure();
    breaker.recordFailure(new Error("seen elsewhere"));
    expect(breaker.state).toBe("open");
    breaker.recordSuccess(); // ignored while open
    expect(breaker.state).toBe("open");
    await clock.advance(50);
    breaker.recordSuccess();
    expect(breaker.state).toBe("half-open");
    breaker.recordSuccess();
    expect(breaker.state).toBe("closed");
    expect(breaker.stats).toMatchObject({ successfulCalls: 3, failedCalls: 2, totalCalls: 5 });
  });

  it("does not let a call admitted in an earlier state change the current one", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 100, clock });
    let finish!: () => void;
    const slow = breaker.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    await failTimes(breaker, 1);
    await clock.advance(100);
    expect(breaker.state).toBe("half-open");
    finish(); // admitted while closed: not a probe
    await slow;
    expect(breaker.state).toBe("half-open");
    expect(breaker.stats.successfulCalls).toBe(1);
  });

  it("runs sync functions passed to execute, and sync throws count as failures", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    expect(await breaker.execute(() => 7)).toBe(7);
    await expect(breaker.execute(() => {
      throw new Error("sync");
    })).rejects.toThrow("sync");
    expect(breaker.state).toBe("open");
  });

  it("passes the caller's signal to the function", async () => {
    const breaker = new CircuitBreaker();
    const controller = new AbortController();
    const seen = await breaker.execute(({ signal }) => signal, controller.signal);
    expect(seen).toBe(controller.signal);
    const shared = await breaker.execute(({ signal }) => signal);
    expect(shared.aborted).toBe(false);
  });
});

describe("CircuitBreaker failure classification", () => {
  it("never counts excludedErrors, nor errors isFailure rejects, but rethrows them", async () => {
    const breaker = new CircuitBreaker({
      maxFailures: 1,
      excludedErrors: [ValidationError],
      isFailure: (error) => !(error instanceof RangeError),
    });
    await expect(breaker.execute(() => Promise.reject(new ValidationError("bad input")))).rejects.toBeInstanceOf(ValidationError);
    await expect(breaker.execute(() => Promise.reject(new RangeError("nope")))).rejects.toBeInstanceOf(RangeError);
    expect(breaker.state).toBe("closed");
    expect(breaker.stats).toMatchObject({ ignoredCalls: 2, failedCalls: 0, totalCalls: 2 });
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
  });

  it("an ignored error neither counts as success nor breaks a run of failures", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 2, excludedErrors: [ValidationError] });
    await failTimes(breaker, 1);
    await breaker.execute(() => Promise.reject(new ValidationError())).catch(() => {});
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
  });

  it("an ignored error from a probe frees its slot without deciding anything", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 10, excludedErrors: [ValidationError], clock });
    await failTimes(breaker, 1);
    await clock.advance(10);
    await breaker.execute(() => Promise.reject(new ValidationError())).catch(() => {});
    expect(breaker.state).toBe("half-open");
    expect(await breaker.execute(ok)).toBe("ok");
    expect(breaker.state).toBe("closed");
  });

  it("counts results isResultFailure flags, and still returns them", async () => {
    const breaker = new CircuitBreaker({
      maxFailures: 2,
      isResultFailure: (result) => (result as { status: number }).status >= 500,
    });
    const response = { status: 503 };
    expect(await breaker.execute(() => response)).toBe(response);
    expect(await breaker.execute(() => ({ status: 200 }))).toEqual({ status: 200 });
    expect(breaker.failureCount).toBe(0);
    await breaker.execute(() => response);
    await breaker.execute(() => response);
    expect(breaker.state).toBe("open");
  });

  it("a throwing predicate counts the call as a failure and frees its probe slot", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      maxFailures: 1,
      resetTimeoutMs: 10,
      clock,
      isResultFailure: () => {
        throw new Error("predicate bug");
      },
    });
    await expect(breaker.execute(ok)).rejects.toThrow("predicate bug");
    expect(breaker.state).toBe("open");
    await clock.advance(10);
    await expect(breaker.execute(ok)).rejects.toThrow("predicate bug");
    expect(breaker.state).toBe("open");
  });
});

describe("CircuitBreaker sliding windows", () => {
  it("opens on the failure rate over the last windowSize calls, once minimumThroughput is reached", async () => {
    const breaker = new CircuitBreaker({ windowSize: 10, minimumThroughput: 4, failureRateThreshold: 0.5 });
    await failTimes(breaker, 3);
    expect(breaker.state).toBe("closed"); // 3 calls < minimumThroughput
    for (let i = 0; i < 5; i++) await breaker.execute(ok);
    expect(breaker.state).toBe("closed"); // 3 of 8
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("closed"); // 4 of 9
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open"); // 5 of 10
  });

  it("does not apply the default maxFailures in window mode, but does when given", async () => {
    const plain = new CircuitBreaker({ windowSize: 100, minimumThroughput: 100 });
    await failTimes(plain, 20);
    expect(plain.state).toBe("closed");
    const both = new CircuitBreaker({ windowSize: 100, minimumThroughput: 100, maxFailures: 3 });
    await failTimes(both, 3);
    expect(both.state).toBe("open");
  });

  it("forgets calls older than windowMs", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ windowMs: 1_000, minimumThroughput: 3, failureRateThreshold: 1, clock });
    await failTimes(breaker, 2);
    await clock.advance(1_000);
    await failTimes(breaker, 2);
    expect(breaker.state).toBe("closed");
    expect(breaker.failureCount).toBe(2);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
  });

  it("counts slow calls and opens on the slow-call rate", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      windowSize: 4,
      minimumThroughput: 4,
      slowCallDurationMs: 100,
      slowCallRateThreshold: 0.5,
      clock,
    });
    const call = async (ms: number): Promise<void> => {
      const done = breaker.execute(() => clock.sleep(ms));
      await clock.advance(ms);
      await done;
    };
    await call(100); // exactly the limit: not slow
    await call(101);
    await call(10);
    expect(breaker.stats.slowCalls).toBe(1);
    expect(breaker.state).toBe("closed");
    await call(500);
    expect(breaker.stats.slowCalls).toBe(2);
    expect(breaker.state).toBe("open");
  });

  it("times calls only when slow-call options are given, here or in configure()", async () => {
    const clock = new ManualClock();
    const slowCall = async (breaker: CircuitBreaker): Promise<void> => {
      const done = breaker.execute(() => clock.sleep(120_000));
      await clock.advance(120_000);
      await done;
    };
    const untimed = new CircuitBreaker({ windowSize: 10, clock });
    await slowCall(untimed);
    expect(untimed.stats.slowCalls).toBe(0);
    const timed = new CircuitBreaker({ windowSize: 10, slowCallRateThreshold: 0.9, clock });
    await slowCall(timed);
    expect(timed.stats.slowCalls).toBe(1);
    configure({ circuitBreaker: { slowCallDurationMs: 1_000 } });
    const configured = new CircuitBreaker({ windowMs: 10_000, clock });
    await slowCall(configured);
    expect(configured.stats.slowCalls).toBe(1);
  });

  it("does not time calls without a window (stats.slowCalls stays 0)", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock });
    const done = breaker.execute(() => clock.sleep(120_000));
    await clock.advance(120_000);
    await done;
    expect(breaker.stats.slowCalls).toBe(0);
  });

  it("accepts a custom strategy", async () => {
    let recorded = 0;
    const breaker = new CircuitBreaker({
      strategy: {
        failureCount: () => recorded,
        record: () => ++recorded === 3,
        reset: () => {
          recorded = 0;
        },
      },
    });
    await breaker.execute(ok);
    await breaker.execute(ok);
    expect(breaker.failureCount).toBe(2);
    await breaker.execute(ok);
    expect(breaker.state).toBe("open");
    breaker.reset();
    expect(breaker.failureCount).toBe(0);
  });
});

describe("CircuitBreaker fallback", () => {
  it("is called with the CircuitOpenError when a call is rejected, and its result returned", async () => {
    const errors: unknown[] = [];
    const breaker = new CircuitBreaker({
      maxFailures: 1,
      fallback: (error) => {
        errors.push(error);
        return "cached";
      },
    });
    await expect(breaker.execute(down)).rejects.toThrow("down"); // failures are rethrown
    expect(await breaker.execute(() => "fresh")).toBe("cached");
    expect(breaker.executeSync(() => "fresh")).toBe("cached");
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(CircuitOpenError);
    expect(breaker.stats.rejectedCalls).toBe(2);
  });

  it("may be async", async () => {
    const breaker = new CircuitBreaker({ fallback: async () => "later" });
    breaker.forceOpen();
    expect(await breaker.execute(() => "fresh")).toBe("later");
  });
});

describe("CircuitBreaker call forms", () => {
  it("executeSync runs sync functions and throws CircuitOpenError synchronously", () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    expect(breaker.executeSync(() => 2 + 2)).toBe(4);
    expect(() =>
      breaker.executeSync(() => {
        throw new Error("sync");
      })
    ).toThrow("sync");
    expect(() => breaker.executeSync(() => 1)).toThrow(CircuitOpenError);
  });

  it("executeSync follows a returned promise", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    await expect(breaker.executeSync(() => down())).rejects.toThrow("down");
    expect(breaker.state).toBe("open");
  });

  it("call passes arguments", async () => {
    const breaker = new CircuitBreaker();
    expect(await breaker.call((a: number, b: string) => `${a}${b}`, 1, "x")).toBe("1x");
  });

  it("wrap keeps parameters and this", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    const service = {
      base: 10,
      add: breaker.wrap(function (this: { base: number }, n: number) {
        return this.base + n;
      }),
    };
    expect(await service.add(5)).toBe(15);
    const failing = breaker.wrap(down);
    await expect(failing()).rejects.toThrow("down");
    await expect(service.add(1)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it("circuitBreaker(fn, options) and circuitBreaker(options)(fn) give each function its own breaker", async () => {
    const direct = circuitBreaker(async (x: number) => x * 2, { maxFailures: 2, name: "direct" });
    expect(await direct(4)).toBe(8);
    expect(direct.breaker.name).toBe("direct");
    expect(direct.breaker.options.maxFailures).toBe(2);

    const decorate = circuitBreaker({ maxFailures: 1 });
    const a = decorate(down);
    const b = decorate(async () => "b");
    await a().catch(() => {});
    expect(a.breaker.state).toBe("open");
    expect(b.breaker.state).toBe("closed");
    expect(await b()).toBe("b");
  });

  it("circuitBreaker validates its options", () => {
    expect(() => circuitBreaker(ok, { maxFailures: 0 })).toThrow(ConfigError);
  });
});

describe("CircuitBreaker stats and events", () => {
  it("counts every kind of call", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 2, resetTimeoutMs: 10, excludedErrors: [ValidationError], clock });
    await breaker.execute(ok);
    await breaker.execute(() => Promise.reject(new ValidationError())).catch(() => {});
    await failTimes(breaker, 2);
    await breaker.execute(ok).catch(() => {});
    await clock.advance(10);
    await breaker.execute(ok);
    expect(breaker.stats).toEqual({
      totalCalls: 6,
      successfulCalls: 2,
      failedCalls: 2,
      ignoredCalls: 1,
      rejectedCalls: 1,
      slowCalls: 0,
      stateChanges: 3,
    });
  });

  it("emits stateChange, open, halfOpen, close, success, failure and reject", async () => {
    const clock = new ManualClock({ now: 5, wallNow: 1_000_000 });
    const breaker = new CircuitBreaker({ name: "svc", maxFailures: 1, resetTimeoutMs: 100, clock });
    const log: string[] = [];
    const changes: CircuitStateChange[] = [];
    breaker.on("stateChange", (change) => changes.push(change));
    breaker.on("open", ({ to }) => log.push(`open:${to}`));
    breaker.on("halfOpen", () => log.push("halfOpen"));
    breaker.on("close", () => log.push("close"));
    breaker.on("success", ({ name }) => log.push(`success:${name}`));
    breaker.on("failure", ({ error }) => log.push(`failure:${(error as Error).message}`));
    const off = breaker.on("reject", ({ error }) => log.push(`reject:${error.remainingMs}`));

    await failTimes(breaker, 1);
    await breaker.execute(ok).catch(() => {});
    await clock.advance(100);
    await breaker.execute(ok);
    off();
    breaker.forceOpen();
    await breaker.execute(ok).catch(() => {});
    breaker.disable();

    expect(log).toEqual(["failure:down", "open:open", "reject:100", "halfOpen", "success:svc", "close", "open:forced-open"]);
    expect(changes.map(({ from, to }) => `${from}->${to}`)).toEqual([
      "closed->open",
      "open->half-open",
      "half-open->closed",
      "closed->forced-open",
      "forced-open->disabled",
    ]);
    expect(changes[0]).toMatchObject({ name: "svc", at: 1_000_000, snapshot: { state: "open", openedAt: 1_000_000 } });
    expect(changes[1]!.at).toBe(1_000_100);
  });

  it("a throwing listener does not break the call", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    breaker.on("open", () => {
      throw new Error("listener bug");
    });
    const { setListenerErrorHandler } = await import("../mod.ts");
    const seen: unknown[] = [];
    const previous = setListenerErrorHandler((error) => seen.push(error));
    try {
      await expect(breaker.execute(down)).rejects.toThrow("down");
    } finally {
      setListenerErrorHandler(previous);
    }
    expect(breaker.state).toBe("open");
    expect(seen).toHaveLength(1);
  });
});

describe("CircuitBreaker presets", () => {
  it("sensitive: 3 in a row or 30 % of at least 10 calls, 30 s reset, 1 probe success", async () => {
    const clock = new ManualClock();
    const breaker = CircuitBreaker.sensitive({ clock });
    expect(breaker.options).toMatchObject({
      maxFailures: 3,
      failureRateThreshold: 0.3,
      resetTimeoutMs: 30_000,
      successThreshold: 1,
      windowMs: 60_000,
    });
    await failTimes(breaker, 3);
    expect(breaker.state).toBe("open");

    const rate = CircuitBreaker.sensitive({ clock });
    for (let i = 0; i < 10; i++) {
      if (i % 3 === 0) await failTimes(rate, 1);
      else await rate.execute(ok);
    }
    // 4 failures out of 10, never 3 in a row.
    expect(rate.state).toBe("open");
    await clock.advance(30_000);
    await rate.execute(ok);
    expect(rate.state).toBe("closed");
  });

  it("tolerant: 10 in a row or 70 %, 120 s reset, 5 probe successes", async () => {
    const clock = new ManualClock();
    const breaker = CircuitBreaker.tolerant({ clock });
    await failTimes(breaker, 9);
    expect(breaker.state).toBe("closed");
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
    await clock.advance(119_999);
    expect(breaker.state).toBe("open");
    await clock.advance(1);
    for (let i = 0; i < 4; i++) await breaker.execute(ok);
    expect(breaker.state).toBe("half-open");
    await breaker.execute(ok);
    expect(breaker.state).toBe("closed");
  });

  it("presets take overrides, including another window", () => {
    const breaker = CircuitBreaker.sensitive({ resetTimeoutMs: 5_000, windowSize: 50 });
    expect(breaker.options.resetTimeoutMs).toBe(5_000);
    expect(breaker.options.windowSize).toBe(50);
    expect(breaker.options.windowMs).toBeUndefined();
  });
});

describe("CircuitBreaker persistence", () => {
  it("round-trips through JSON between processes whose monotonic clocks differ", async () => {
    const wall = Date.UTC(2026, 0, 1);
    const first = new ManualClock({ now: 123_456, wallNow: wall });
    const saver = new CircuitBreaker({ name: "api", maxFailures: 2, resetTimeoutMs: 10_000, clock: first });
    await failTimes(saver, 2);
    await first.advance(3_000);
    const saved = JSON.parse(JSON.stringify(saver)) as CircuitBreakerSnapshot;
    expect(saved).toEqual({ version: 1, name: "api", state: "open", openedAt: wall, failureCount: 2, probeSuccesses: 0 });

    // Another process, 1 s later in wall time, whose monotonic clock started elsewhere.
    const second = new ManualClock({ now: 7, wallNow: wall + 4_000 });
    const restored = new CircuitBreaker({ name: "api", resetTimeoutMs: 10_000, clock: second, initialState: saved });
    expect(restored.state).toBe("open");
    expect(restored.remainingMs).toBe(6_000);
    await second.advance(5_999);
    expect(restored.state).toBe("open");
    await second.advance(1);
    expect(restored.state).toBe("half-open");
  });

  it("an elapsed open snapshot hydrates as half-open; one from the future waits the full timeout", () => {
    const clock = new ManualClock({ wallNow: 1_000_000 });
    const snapshot = (openedAt: number): CircuitBreakerSnapshot => ({
      version: 1,
      name: "x",
      state: "open",
      openedAt,
      failureCount: 0,
      probeSuccesses: 0,
    });
    expect(new CircuitBreaker({ resetTimeoutMs: 100, clock, initialState: snapshot(1_000_000 - 100) }).state).toBe("half-open");
    expect(new CircuitBreaker({ resetTimeoutMs: 100, clock, initialState: snapshot(1_000_000 + 50_000) }).remainingMs).toBe(100);
  });

  it("restores closed failure counts, half-open progress and manual states", async () => {
    const clock = new ManualClock();
    const closed = new CircuitBreaker({ maxFailures: 3, clock });
    await failTimes(closed, 2);
    const again = new CircuitBreaker({ maxFailures: 3, clock, initialState: closed.toJSON() });
    expect(again.failureCount).toBe(2);
    await failTimes(again, 1);
    expect(again.state).toBe("open");

    const half = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 10, successThreshold: 3, clock });
    await failTimes(half, 1);
    await clock.advance(10);
    await half.execute(ok);
    const snapshot = half.toJSON();
    expect(snapshot).toMatchObject({ state: "half-open", probeSuccesses: 1 });
    const resumed = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 10, successThreshold: 3, clock, initialState: snapshot });
    await resumed.execute(ok);
    expect(resumed.state).toBe("half-open");
    await resumed.execute(ok);
    expect(resumed.state).toBe("closed");

    const forced = new CircuitBreaker({ clock });
    forced.forceOpen();
    expect(new CircuitBreaker({ clock, initialState: forced.toJSON() }).state).toBe("forced-open");
    forced.disable();
    expect(new CircuitBreaker({ clock, initialState: forced.toJSON() }).state).toBe("disabled");
  });

  it("toJSON reports the lazily reached half-open state", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 10, clock });
    await failTimes(breaker, 1);
    await clock.advance(10);
    expect(breaker.toJSON().state).toBe("half-open");
  });
});
