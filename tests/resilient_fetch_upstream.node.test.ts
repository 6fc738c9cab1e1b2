import { afterAll, beforeAll, describe } from "vitest";
import { type FlakyUpstream, startFlakyUpstream } from "./_support/flaky_upstream.ts";
import { upstreamScenarios } from "./_support/upstream_scenarios.ts";

describe("createResilientFetch against a real flaky upstream", () => {
  let upstream: FlakyUpstream | undefined;
  beforeAll(async () => {
    upstream = await startFlakyUpstream();
  });
  afterAll(async () => {
    await upstream?.close();
  });
  upstreamScenarios(() => upstream!.url);
});
