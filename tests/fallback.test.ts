import { describe, expect, it } from "vitest";
import { ConfigError, fallback, RetryExhaustedError, TimeoutError } from "../mod.ts";

class CacheMiss extends Error {}

describe("fallback", () => {
  it("returns fn's value when it succeeds", async () => {
    expect(await fallback(async () => "fresh", "stale")).toBe("fresh");
  });

  it("returns the fallback value when fn fails, synchronously or not", async () => {
    expect(await fallback(async () => {
      throw new Error("down");
    }, "stale")).toBe("stale");
    expect(await fallback(() => {
      throw new Error("sync");
    }, 0)).toBe(0);
  });

  it("calls a fallback function with the error, and awaits it", async () => {
    const boom = new Error("boom");
    let seen: unknown;
    const value = await fallback(async () => {
      throw boom;
    }, async (error) => {
      seen = error;
      return "recovered";
    });
    expect(value).toBe("recovered");
    expect(seen).toBe(boom);
  });

  it("handles only the errors `on` selects, by class or predicate", async () => {
    const timeout = new TimeoutError(10);
    expect(await fallback(async () => {
      throw timeout;
    }, "cached", { on: [CacheMiss, TimeoutError] })).toBe("cached");
    const other = new Error("other");
    await expect(fallback(async () => {
      throw other;
    }, "cached", { on: [TimeoutError] })).rejects.toBe(other);
    expect(await fallback(async () => {
      throw new RetryExhaustedError(3, other);
    }, "p", { on: (error) => error instanceof RetryExhaustedError })).toBe("p");
    await expect(fallback(async () => {
      throw other;
    }, "p", { on: () => false })).rejects.toBe(other);
  });

  it("propagates a failing fallback function's error", async () => {
    const second = new Error("fallback failed too");
    await expect(fallback(async () => {
      throw new Error("first");
    }, () => {
      throw second;
    })).rejects.toBe(second);
  });

  it("hands fn the signal, and does not fall back once the caller aborted", async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const call = fallback(({ signal }) => {
      seen = signal;
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    }, "fallback", { signal: controller.signal });
    controller.abort("cancelled");
    await expect(call).rejects.toBe("cancelled");
    expect(seen).toBe(controller.signal);
    let ran = false;
    await expect(fallback(async () => {
      ran = true;
    }, 1, { signal: AbortSignal.abort("early") })).rejects.toBe("early");
    expect(ran).toBe(false);
  });

  it("validates its options", () => {
    expect(() => fallback(async () => 1, 2, { on: "TimeoutError" as never })).toThrow(ConfigError);
    expect(() => fallback(async () => 1, 2, { onn: [] } as never)).toThrow(/did you mean 'on'/);
  });
});
