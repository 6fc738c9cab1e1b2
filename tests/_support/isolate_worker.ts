/**
 * A Worker for tests/store_cloudflare_isolates.node.test.ts, bundled and run
 * twice in one Miniflare: two isolates sharing one KV namespace and one
 * Durable Object namespace (the class is defined in the first Worker and
 * bound by the second through `scriptName`), and one D1 database. Module-scope stores, bindings
 * taken lazily, as in a real Worker.
 */
import { DurableObject, env } from "cloudflare:workers";
import {
  D1Store,
  type D1DatabaseLike,
  type D1PreparedStatementLike,
  DurableObjectStore,
  KvStore,
  stateObjectClass,
} from "../../adapters/cloudflare/mod.ts";
import { DistributedRateLimiter } from "../../mod.ts";
import { addTransition } from "./store_transitions.ts";

export class BulwarkStateObject extends stateObjectClass(DurableObject, { transitions: [addTransition as never] }) {}

const objects = new DurableObjectStore(() => env.STATE_OBJECTS, { timeoutMs: 30_000 });
const kv = new KvStore(() => env.STATE_KV, { onWriteTooSoon: "ignore" });
// One limit for both isolates: 50 per hour, decided inside the object.
const limiter = new DistributedRateLimiter({ store: objects, algorithm: "sliding-window", limit: 50, windowMs: 3_600_000 });

// The same limit on D1, the database counted at the binding: statements run alone, and batches.
const d1Calls = { statements: 0, batches: 0 };
type Counted = D1PreparedStatementLike & { inner: D1PreparedStatementLike };
const countedStatement = (inner: D1PreparedStatementLike): Counted => ({
  inner,
  bind: (...values) => countedStatement(inner.bind(...values)),
  first: <T>() => (d1Calls.statements++, inner.first<T>()),
  run: () => (d1Calls.statements++, inner.run()),
});
const d1 = (): D1DatabaseLike => {
  const db = env.STATE_DB as D1DatabaseLike & Required<Pick<D1DatabaseLike, "batch">>;
  return {
    prepare: (query) => countedStatement(db.prepare(query)),
    batch: (statements) => (d1Calls.batches++, db.batch(statements.map((statement) => (statement as Counted).inner))),
  };
};
const d1Store = new D1Store(d1, { timeoutMs: 30_000 });
const d1Limiter = new DistributedRateLimiter({
  store: d1Store,
  algorithm: "sliding-window",
  limit: 50,
  windowMs: 3_600_000,
  maxBlockedKeys: 0,
});

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
        case "/limit-d1": {
          const decision = await d1Limiter.limit(key);
          return Response.json({ allowed: decision.allowed, source: decision.source });
        }
        case "/d1-calls":
          return Response.json(d1Calls);
        case "/d1-migrate":
          // The table, ahead of the decisions (as a deploy step would): then count from zero.
          await d1Store.migrate();
          d1Calls.statements = 0;
          d1Calls.batches = 0;
          return Response.json({ ok: true });
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
