// Guard: each server-runtime leg really runs on its runtime (scripts/test.mjs
// names the leg in BULWARK_LEG), not on the Node that launched it.
import { env, versions } from "node:process";
import { describe, expect, it } from "vitest";

function runningOn(): string {
  const runtime = globalThis as { Deno?: { version?: { deno?: string } }; Bun?: { version?: string } };
  if (runtime.Deno?.version?.deno !== undefined) return "deno";
  if (runtime.Bun?.version !== undefined) return "bun";
  return `node${versions.node.split(".")[0]}`;
}

describe("guard: runtime of the leg", () => {
  it("runs on the runtime its leg names", () => {
    expect(runningOn()).toBe(env.BULWARK_LEG ?? runningOn());
    expect(runningOn()).toMatch(/^(node\d+|deno|bun)$/);
  });
});
