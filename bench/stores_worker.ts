// The Worker bench/stores.bench.ts runs in Miniflare (workerd): it times
// the store operations of bench/stores_operations.ts inside the Worker, on
// the bindings a Worker has (Workers KV, a SQLite-backed Durable Object
// through DurableObjectStore's RPC stubs, D1), as a Worker's code would
// call them. GET /run?engine=kv|do|d1 answers with the rows as JSON.
//
// Round trips are counted at the binding: KV reads, writes and deletes;
// statements D1 runs; RPC calls on Durable Object stubs.
import { DurableObject } from "cloudflare:workers";
import {
  D1Store,
  type D1DatabaseLike,
  type D1PreparedStatementLike,
  DurableObjectStore,
  type DurableObjectNamespaceLike,
  KvStore,
  type KvNamespaceLike,
  stateObjectClass,
} from "../adapters/cloudflare/mod.ts";
import { increment, measureEngine } from "./stores_operations.ts";

export class BulwarkStateObject extends stateObjectClass(DurableObject, { transitions: [increment as never] }) {}

interface Env {
  STATE_KV: KvNamespaceLike;
  STATE_OBJECTS: DurableObjectNamespaceLike;
  STATE_DB: D1DatabaseLike;
}

let trips = 0;

function countingKv(kv: KvNamespaceLike): KvNamespaceLike {
  return {
    getWithMetadata: (key, options) => (trips++, kv.getWithMetadata(key, options)),
    put: (key, value, options) => (trips++, kv.put(key, value, options)),
    delete: (key) => (trips++, kv.delete(key)),
  };
}

function countingStatement(statement: D1PreparedStatementLike): D1PreparedStatementLike {
  return {
    bind: (...values) => countingStatement(statement.bind(...values)),
    first: () => (trips++, statement.first()),
    run: () => (trips++, statement.run()),
  } as D1PreparedStatementLike;
}

function countingD1(db: D1DatabaseLike): D1DatabaseLike {
  return { prepare: (query) => countingStatement(db.prepare(query)) };
}

/** Counts each method call on a stub; the stub itself is returned for anything else. */
function countingObjects(namespace: DurableObjectNamespaceLike): DurableObjectNamespaceLike {
  return {
    idFromName: (name) => namespace.idFromName(name),
    get(id) {
      const stub = namespace.get(id) as Record<string, (...args: unknown[]) => unknown>;
      return new Proxy(stub, {
        get(target, property) {
          const value = target[property as string];
          // Only the state object's RPC methods: a `then` would make the stub a thenable.
          if (typeof property !== "string" || property === "then" || typeof value !== "function") return value;
          return (...args: unknown[]) => (trips++, target[property]!(...args));
        },
      });
    },
  };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const engine = new URL(request.url).searchParams.get("engine");
    const counted = () => trips;
    try {
      switch (engine) {
        case "kv":
          // Local KV has no one-write-per-second limit; "ignore" writes at once
          // (the default, "wait", would pace each key's writes to one a second).
          return Response.json(
            await measureEngine("Workers KV (KvStore)", new KvStore(countingKv(env.STATE_KV), { onWriteTooSoon: "ignore" }), counted, false),
          );
        case "do":
          return Response.json(
            await measureEngine("Durable Object (DurableObjectStore)", new DurableObjectStore(countingObjects(env.STATE_OBJECTS)), counted, false),
          );
        case "d1":
          return Response.json(await measureEngine("D1 (D1Store)", new D1Store(countingD1(env.STATE_DB)), counted, false));
        default:
          return new Response(`unknown engine ${engine}`, { status: 404 });
      }
    } catch (error) {
      return new Response(String((error as Error)?.stack ?? error), { status: 500 });
    }
  },
};
