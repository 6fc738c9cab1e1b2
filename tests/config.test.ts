import { afterEach, describe, expect, it } from "vitest";
import { builtInDefaults, ConfigError, configure, defaultsFor, getConfiguration, ResilienceError } from "../mod.ts";

afterEach(() => configure({}));

describe("configure()", () => {
  it("overlays built-in defaults per section", () => {
    configure({ circuitBreaker: { maxFailures: 3 }, retry: { maxAttempts: 7 } });
    expect(defaultsFor("circuitBreaker").maxFailures).toBe(3);
    expect(defaultsFor("circuitBreaker").resetTimeoutMs).toBe(builtInDefaults.circuitBreaker.resetTimeoutMs);
    expect(defaultsFor("retry").maxAttempts).toBe(7);
  });

  it("the built-in defaults are the documented ones (retry's maxElapsedMs is Number.MAX_SAFE_INTEGER: no limit)", () => {
    expect(builtInDefaults.retry.maxElapsedMs).toBe(Number.MAX_SAFE_INTEGER);
    expect(Object.keys(builtInDefaults)).toEqual([
      "circuitBreaker",
      "retry",
      "timeout",
      "bulkhead",
      "rateLimiter",
      "shutdown",
      "heartbeat",
      "watchdog",
    ]);
    for (const section of Object.keys(builtInDefaults) as Array<keyof typeof builtInDefaults>) {
      expect(defaultsFor(section)).toEqual(builtInDefaults[section]);
    }
  });

  it("rejects bad input with a ConfigError naming every field, and changes nothing", () => {
    configure({ circuitBreaker: { maxFailures: 4 } });
    let error: unknown;
    try {
      configure({
        circuitBreaker: { maxFailures: 0, resetTimeoutMs: -1 },
        retry: { jitter: "sometimes" as never },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(ResilienceError);
    const configError = error as ConfigError;
    expect(configError.code).toBe("ERR_CONFIG");
    expect(configError.issues.map((i) => i.field).sort()).toEqual([
      "circuitBreaker.maxFailures",
      "circuitBreaker.resetTimeoutMs",
      "retry.jitter",
    ]);
    const maxFailures = configError.issues.find((i) => i.field === "circuitBreaker.maxFailures")!;
    expect(maxFailures.value).toBe(0);
    expect(maxFailures.allowed).toBe("an integer >= 1");
    expect(configError.message).toContain("'circuitBreaker.maxFailures' must be an integer >= 1: current value is 0");
    expect(defaultsFor("circuitBreaker").maxFailures).toBe(4);
  });

  it("suggests the intended name for a misspelt option", () => {
    let error: ConfigError | undefined;
    try {
      configure({ circuitBreaker: { maxFailrues: 3 } as never });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.issues[0]?.field).toBe("circuitBreaker.maxFailrues");
    expect(error?.issues[0]?.allowed).toContain("did you mean 'circuitBreaker.maxFailures'");
  });

  it("returns a copy that callers cannot use to change the defaults", () => {
    configure({ bulkhead: { maxConcurrent: 2 } });
    const copy = getConfiguration();
    copy.bulkhead!.maxConcurrent = 99;
    expect(defaultsFor("bulkhead").maxConcurrent).toBe(2);
  });
});
