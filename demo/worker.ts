/**
 * The demo as a Cloudflare Worker (`npx wrangler dev -c demo/wrangler.toml`):
 * the same gateway app as on Node, Deno and Bun, with state the isolates
 * share: breaker state and the heartbeat in Workers KV (`DEMO_KV`),
 * idempotency records and the per-client rate limit in Durable Objects
 * (`DEMO_OBJECTS`), as demo/wrangler.toml declares.
 *
 * Workers keep no timer between requests, so the heartbeat beats when the
 * dashboard asks for the state, and each isolate reads the breakers' state
 * (from KV) and the flaky upstream's settings (from a Durable Object) back
 * at most once a second.
 */
import { DurableObject } from "cloudflare:workers";
import { DurableObjectStore, KvStore, stateObjectClass } from "../adapters/cloudflare/mod.ts";
import { createGateway, type Gateway } from "./app.ts";
import { tuningFrom } from "./config.ts";
import { storeRateLimit, tokenBucketTransition } from "./limits.ts";

/** The Durable Object behind the idempotency and rate-limit stores; runs the demo's token bucket. */
export class DemoStateObject extends stateObjectClass(DurableObject, { transitions: [tokenBucketTransition as never] }) {}

interface Env {
  readonly DEMO_KV: ConstructorParameters<typeof KvStore>[0];
  readonly DEMO_OBJECTS: ConstructorParameters<typeof DurableObjectStore>[0];
  readonly [name: string]: unknown;
}

// Built on the first request (it needs the bindings), then shared by every
// request the isolate serves.
let gateway: Gateway | undefined;

function build(env: Env): Gateway {
  const tuning = tuningFrom(env);
  return createGateway({
    runtime: "workerd",
    idempotencyStore: new DurableObjectStore(env.DEMO_OBJECTS, { prefix: "idem:" }),
    rateLimit: storeRateLimit(new DurableObjectStore(env.DEMO_OBJECTS, { prefix: "limit:" }), tuning.clientRate),
    // KV takes one write per second per key: breaker writes wait their turn,
    // heartbeats (one per two seconds at most) never need to.
    breakerStore: new KvStore(env.DEMO_KV, { prefix: "breaker:" }),
    // The flaky upstream is simulated in each isolate; its settings are shared.
    settingsStore: new DurableObjectStore(env.DEMO_OBJECTS, { prefix: "settings:" }),
    syncMs: 1_000,
    heartbeatStore: new KvStore(env.DEMO_KV, { prefix: "beat:", onWriteTooSoon: "ignore" }),
    heartbeatMode: "request",
    ...tuning,
  });
}

export default {
  fetch(request: Request, env: Env, ctx: unknown): Response | Promise<Response> {
    gateway ??= build(env);
    return gateway.app.fetch(request, env, ctx as never);
  },
};
