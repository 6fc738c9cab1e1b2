/**
 * The demo as a Cloudflare Worker (`npx wrangler dev -c demo/wrangler.toml`):
 * the same gateway app as on Node, Deno and Bun, with state the isolates
 * share: shared breakers (`CircuitBreaker`'s `store`) and the heartbeat in
 * Workers KV (`DEMO_KV`), idempotency records and the per-client
 * `DistributedRateLimiter` in Durable Objects (`DEMO_OBJECTS`), as
 * demo/wrangler.toml declares.
 *
 * Workers keep no timer between requests, so the heartbeat beats when a
 * request finds the last beat two seconds old, and each isolate reads the
 * breakers' shared state (from KV, on calls) and the flaky upstream's
 * settings (from a Durable Object) at most once a second.
 */
import { DurableObject, waitUntil } from "cloudflare:workers";
import { DistributedRateLimiter } from "../mod.ts";
import { DurableObjectStore, KvStore, stateObjectClass } from "../adapters/cloudflare/mod.ts";
import { createGateway, type Gateway } from "./app.ts";
import { tuningFrom } from "./config.ts";

/** The Durable Object behind the idempotency, rate-limit and settings stores (it runs bulwark's rate-limit transitions). */
export class DemoStateObject extends stateObjectClass(DurableObject) {}

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
    // One bucket per client for every isolate, decided inside the object.
    rateLimit: new DistributedRateLimiter({
      store: new DurableObjectStore(env.DEMO_OBJECTS, { prefix: "limit:" }),
      rate: tuning.clientRate.limit,
      perMs: tuning.clientRate.windowMs,
      burst: tuning.clientRate.limit,
    }),
    // Shared breakers over KV: a trip in one isolate opens the circuit in
    // all, seen within refreshMs (KV has no atomic operations, so the
    // single fleet-wide half-open probe is best effort).
    sharedBreakers: { store: new KvStore(env.DEMO_KV, { prefix: "breaker:" }), bestEffort: true, refreshMs: 1_000, waitUntil },
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
