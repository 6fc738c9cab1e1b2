/**
 * A Worker for tests/store_cloudflare_isolates.node.test.ts, bundled and run
 * twice in one Miniflare: two isolates sharing one KV namespace and one
 * Durable Object namespace (the class is defined in the first Worker and
 * bound by the second through `scriptName`). Module-scope stores, bindings
 * taken lazily, as in a real Worker.
 */
import { DurableObject, env } from "cloudflare:workers";
import { DurableObjectStore, KvStore, stateObjectClass } from "../../adapters/cloudflare/mod.ts";
import { DistributedRateLimiter } from "../../mod.ts";
import { addTransition } from "./store_transitions.ts";

export class BulwarkStateObject extends stateObjectClass(DurableObject, { transitions: [addTransition as never] }) {}

const objects = new DurableObjectStore(() => env.STATE_OBJECTS, { timeoutMs: 30_000 });
const kv = new KvStore(() => env.STATE_KV, { onWriteTooSoon: "ignore" });
// One limit for both isolates: 50 per hour, decided inside the object.
const limiter = new DistributedRateLimiter({ store: objects, algorithm: "sliding-window", limit: 50, windowMs: 3_600_000 });

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const key = url.searchParams.get("key") ?? "";
    try {
      switch (url.pathname) {
        case "/claim":
          return Response.json({ won: (await objects.insertIfAbsent(key, { by: url.searchParams.get("by") })).ok });
        case "/add":
          return Response.json({ count: await objects.update(key, addTransition, { add: 1 }) });
        case "/limit": {
          const decision = await limiter.limit(key);
          return Response.json({ allowed: decision.allowed, source: decision.source });
        }
        case "/limit-on-kv":
          try {
            new DistributedRateLimiter({ store: kv, algorithm: "fixed-window", limit: 1, windowMs: 1_000 });
            return Response.json({ refused: false });
          } catch (error) {
            return Response.json({ refused: true, name: (error as Error).name, message: (error as Error).message });
          }
        case "/kv-set":
          return Response.json({ version: (await kv.set(key, url.searchParams.get("value"))).version });
        case "/kv-get":
          return Response.json({ entry: (await kv.get(key)) ?? null });
        default:
          return new Response("not found", { status: 404 });
      }
    } catch (error) {
      return Response.json({ error: String(error) }, { status: 500 });
    }
  },
};
