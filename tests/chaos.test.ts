import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { chaos, ChaosFaultError, ChaosPolicy, ConfigError, pipeline, RetryPolicy } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

/** A random source replaying `values` in a loop. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe("chaos", () => {
  it("does nothing by default", async () => {
    const policy = chaos();
    expect(await policy.execute(async () => "untouched")).toBe("untouched");
    expect(policy.options).toMatchObject({ faultRate: 0, latencyRate: 0, enabled: true });
  });

  it("injects a ChaosFaultError at faultRate, deterministically", async () => {
    const policy = chaos({ faultRate: 0.3, random: sequence(0.1, 0.5, 0.29, 0.3) });
    const results: string[] = [];
    for (let i = 0; i < 4; i++) {
      results.push(await policy.execute(async () => "ran").catch((error) => {
        expect(error).toBeInstanceOf(ChaosFaultError);
        expect(error.code).toBe("ERR_CHAOS_FAULT");
        return "fault";
      }));
    }
    expect(results).toEqual(["fault", "ran", "fault", "ran"]);
  });

  it("throws the given fault, or what a fault factory returns, without running fn", async () => {
    const custom = new TypeError("injected");
    let ran = 0;
    await expect(chaos({ fault: custom }).execute(async () => void ran++)).rejects.toBe(custom);
    let made = 0;
    const factory = chaos({ fault: () => new RangeError(`fault ${++made}`) });
    await expect(factory.execute(async () => void ran++)).rejects.toThrow("fault 1");
    await expect(factory.execute(async () => void ran++)).rejects.toThrow("fault 2");
    expect(ran).toBe(0);
  });

  it("injects latency before running fn", async () => {
    const clock = new ManualClock();
    const policy = chaos({ latencyMs: 500, clock });
    const delays: number[] = [];
    policy.on("latency", ({ delayMs }) => delays.push(delayMs));
    let ranAt: number | undefined;
    const call = policy.execute(async () => {
      ranAt = clock.now();
      return "late";
    });
    await clock.advance(499);
    expect(ranAt).toBeUndefined();
    await clock.advance(1);
    expect(await call).toBe("late");
    expect(ranAt).toBe(500);
    expect(delays).toEqual([500]);
  });

  it("lets an abort cut injected latency short", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let ran = false;
    const call = chaos({ latencyMs: 1_000, clock }).execute(async () => void (ran = true), controller.signal);
    controller.abort("stop");
    await expect(call).rejects.toBe("stop");
    expect(ran).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it("injects nothing while disabled, asking a function on every call", async () => {
    let enabled = false;
    const policy = chaos({ faultRate: 1, enabled: () => enabled });
    expect(await policy.execute(async () => "ok")).toBe("ok");
    enabled = true;
    await expect(policy.execute(async () => "ok")).rejects.toBeInstanceOf(ChaosFaultError);
    expect(await chaos({ faultRate: 1, enabled: false }).execute(async () => "ok")).toBe("ok");
  });

  it("emits fault events", async () => {
    const policy = chaos({ faultRate: 1 });
    const seen: unknown[] = [];
    policy.on("fault", ({ error }) => seen.push(error));
    const error = await policy.execute(async () => 1).catch((e) => e);
    expect(seen).toEqual([error]);
  });

  it("injects faults at the configured rate, by the random source (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 30 }),
        async (faultRate, rolls) => {
          const policy = new ChaosPolicy({ faultRate, random: sequence(...rolls) });
          for (const roll of rolls) {
            const faulted = await policy.execute(async () => false).catch(() => true);
            const expected = faultRate >= 1 || (faultRate > 0 && roll < faultRate);
            expect(faulted).toBe(expected);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it("exercises the policies around it", async () => {
    const resilient = pipeline(
      new RetryPolicy({ maxAttempts: 3, baseDelayMs: 0 }),
      chaos({ faultRate: 0.5, random: sequence(0.1, 0.2, 0.9) }),
    );
    expect(await resilient.execute(async () => "eventually")).toBe("eventually");
  });

  it("validates its options", () => {
    expect(() => chaos({ faultRate: 1.5 })).toThrow(/'faultRate' must be a number from 0 to 1/);
    expect(() => chaos({ latencyRate: -0.1 })).toThrow(/'latencyRate'/);
    expect(() => chaos({ latencyMs: Number.NaN })).toThrow(/'latencyMs'/);
    expect(() => chaos({ fault: "boom" as never })).toThrow(/'fault' must be an Error or a function/);
    expect(() => chaos({ enabled: "yes" as never })).toThrow(/'enabled'/);
    expect(() => chaos({ faultrate: 0.1 } as never)).toThrow(ConfigError);
  });
});
