/**
 * Routes of the test Worker (tests/_support/worker.ts) that use Cloudflare
 * stores built once, at module scope, as a module-scope breaker or limiter
 * would: each takes its binding lazily (`() => env.X`, with `env` imported
 * from "cloudflare:workers"), so nothing touches a binding at import time
 * and every operation runs on the request that made it.
 */
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { D1Store, DurableObjectStore, KvStore } from "../../adapters/cloudflare/mod.ts";
import { idempotency } from "../../adapters/hono/mod.ts";
import { IdempotencyStore, type Store } from "../../mod.ts";
import { addTransition } from "./store_transitions.ts";

// Generous timeouts: 50 concurrent compare-and-set loops on local D1 take
// seconds on a busy machine.
const stores: Record<string, Store> = {
  kv: new KvStore(() => env.STATE_KV, { prefix: "routes:", timeoutMs: 30_000 }),
  do: new DurableObjectStore(() => env.STATE_OBJECTS, { prefix: "routes:", timeoutMs: 30_000 }),
  d1: new D1Store(() => env.STATE_DB, { prefix: "routes:", table: "bulwark_routes", timeoutMs: 30_000 }),
};

/**
 * `POST /store/orders`: a Hono app with the idempotency middleware over the
 * Durable Object store, built once at module scope. Each run of the handler
 * adds one to `effects:<Idempotency-Key>` in the same object storage (read
 * it back with `/store/get?store=do&key=effects:<key>`), then answers 201
 * after 200 ms, so that duplicates arrive while it runs.
 */
const orders = new Hono();
orders.use("*", idempotency({ store: new IdempotencyStore({ store: stores.do!, inProgressTtlMs: 30_000 }), waitMs: 20_000 }));
orders.post("/store/orders", async (c) => {
  const key = c.req.header("idempotency-key") ?? "";
  const run = await stores.do!.update(`effects:${key}`, addTransition, { add: 1 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  return c.json({ charged: (await c.req.json<{ amount: number }>()).amount, run }, 201);
});

/** A stub kept from an earlier request: what the stores never do (a stub belongs to the request that made it). */
type KeptStub = { get(key: string, nowMs: number): Promise<unknown> };
let keptStub: KeptStub | undefined;

/**
 * `/store/claim?store=do&key=k&id=7`: insertIfAbsent, answers whether it won.
 * `/store/add?store=do&key=k`: update by one, answers the new count.
 * `/store/get?store=do&key=k`: the value.
 * `/store/kept-stub`: calls a stub made by the first request to this route.
 * `POST /store/orders`: the idempotent Hono app above.
 */
export async function storeRoute(url: URL, request: Request): Promise<Response> {
  if (url.pathname === "/store/orders") return await orders.fetch(request);
  const params = url.searchParams;
  const store = stores[params.get("store") ?? ""];
  const key = params.get("key") ?? "";
  try {
    switch (url.pathname) {
      case "/store/claim": {
        const result = await store!.insertIfAbsent(key, { id: Number(params.get("id")) });
        return Response.json({ won: result.ok });
      }
      case "/store/add":
        return Response.json({ count: await store!.update(key, addTransition, { add: 1 }) });
      case "/store/get":
        return Response.json({ value: (await store!.get(key))?.value ?? null });
      case "/store/kept-stub": {
        const first = keptStub === undefined;
        keptStub ??= env.STATE_OBJECTS.get(env.STATE_OBJECTS.idFromName("kept")) as KeptStub;
        await keptStub.get("routes:kept", Date.now());
        return Response.json({ first, ok: true });
      }
      default:
        return new Response("no such store route", { status: 404 });
    }
  } catch (error) {
    return Response.json({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, { status: 500 });
  }
}
