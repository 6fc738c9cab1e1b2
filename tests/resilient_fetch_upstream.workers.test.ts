import { env } from "cloudflare:test";
import { describe } from "vitest";
import { upstreamScenarios } from "./_support/upstream_scenarios.ts";

// The upstream runs in the Node process that hosts workerd (started by
// vitest.workers.config.mts); the Worker reaches it over real sockets.
describe("createResilientFetch from a Worker against a real flaky upstream", () => {
  upstreamScenarios(() => env.UPSTREAM_URL);
});
