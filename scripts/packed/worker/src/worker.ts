import { DurableObject, env, waitUntil } from "cloudflare:workers";
import { CircuitBreaker, CircuitOpenError, DistributedRateLimiter, rateLimitHeaders } from "bulwark";
import { DurableObjectStore, KvStore, stateObjectClass } from "bulwark/cloudflare";

export class BulwarkStateObject extends stateObjectClass(DurableObject) {}

interface Env {
  STATE_KV: KVNamespace;
  STATE_OBJECTS: DurableObjectNamespace;
  DEPENDENCY: string;
}
const bindings = env as unknown as Env;

// Module scope: no I/O until the first call.
const breakerState = new KvStore(() => bindings.STATE_KV);
const dependency = new CircuitBreaker({
  name: "dependency",
  store: breakerState,
  bestEffort: true, // KV has no atomic operations
  refreshMs: 1_000,
  maxFailures: 3,
  resetTimeoutMs: 60_000,
  waitUntil,
});
dependency.on("storeError", ({ operation, error }) => console.log(`storeError ${operation}: ${String(error)}`));

const limiter = new DistributedRateLimiter({
  store: new DurableObjectStore(() => bindings.STATE_OBJECTS),
  algorithm: "fixed-window",
  limit: 50,
  windowMs: 60_000,
});

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/limited") {
      const decision = await limiter.limit(url.searchParams.get("key") ?? "anon");
      const headers = new Headers({ ...rateLimitHeaders(decision), "x-source": decision.source });
      return new Response(decision.allowed ? "ok\n" : "too many\n", { status: decision.allowed ? 200 : 429, headers });
    }
    if (url.pathname === "/dep") {
      try {
        const body = await dependency.execute(async ({ signal }) => {
          const answer = await fetch(bindings.DEPENDENCY + url.search, { signal });
          if (!answer.ok) throw new Error(`dependency answered ${answer.status}`);
          return answer.text();
        });
        return new Response(body);
      } catch (error) {
        if (error instanceof CircuitOpenError) {
          return new Response("circuit open\n", { status: 503, headers: { "retry-after": String(Math.ceil(error.remainingMs / 1000)) } });
        }
        return new Response(`failed: ${String(error)}\n`, { status: 502 });
      }
    }
    if (url.pathname === "/reset") {
      dependency.reset();
      return Response.json({ state: dependency.state });
    }
    if (url.pathname === "/state") return Response.json({ state: dependency.state });
    return new Response("not found\n", { status: 404 });
  },
} satisfies ExportedHandler;
