import { describe, expect, it } from "vitest";
import { chaos, type ChaosOptions } from "../mod.ts";
import { started } from "./_support/thrown.ts";

describe("ChaosPolicy with callbacks that throw", () => {
  const bug = new Error("callback bug");
  const boom = (): never => {
    throw bug;
  };
  const cases: Array<[string, ChaosOptions]> = [
    ["enabled", { enabled: boom }],
    ["random", { random: boom, faultRate: 0.5 }],
    ["random, for latency", { random: boom, latencyMs: 10, latencyRate: 0.5 }],
    ["fault", { fault: boom, faultRate: 1 }],
  ];
  for (const [name, options] of cases) {
    it(`a throwing ${name} rejects the call with its error; execute never throws`, async () => {
      const policy = chaos(options);
      let ran = false;
      await expect(started(() => policy.execute(() => (ran = true)))).rejects.toBe(bug);
      expect(ran).toBe(false);
    });
  }
});
