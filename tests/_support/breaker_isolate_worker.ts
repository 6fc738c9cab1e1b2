/**
 * A Worker for tests/circuit_breaker_shared_isolates.node.test.ts, bundled
 * and run twice in one Miniflare: two isolates sharing one KV namespace and
 * one Durable Object namespace. Each isolate holds, at module scope as a
 * real Worker would, two shared breakers named alike in both: one over
 * Workers KV (best effort), one over the Durable Object store (atomic).
 * The "dependency" they guard counts its calls in the Durable Object, so
 * the test can count what reached it from both isolates.
 */
import { DurableObject, env, waitUntil } from "cloudflare:workers";
import { CircuitBreaker, CircuitOpenError } from "../../mod.ts";
import { DurableObjectStore, KvStore, stateObjectClass } from "../../adapters/cloudflare/mod.ts";
import { addTransition } from "./store_transitions.ts";

export class BulwarkStateObject extends stateObjectClass(DurableObject, { transitions: [addTransition as never] }) {}

const objects = new DurableObjectStore(() => env.STATE_OBJECTS, { timeoutMs: 30_000 });
const kv = new KvStore(() => env.STATE_KV);
const breakers = new Map<string, CircuitBreaker>();
/** Per breaker, its transitions and store errors, for a failing test to show. */
const logs = new Map<string, string[]>();

/** One breaker per (store, name), built on first use: nothing but declarations at module scope. */
function breaker(via: string, name: string): CircuitBreaker {
  const key = `${via}:${name}`;
  let found = breakers.get(key);
  if (found === undefined) {
    found = new CircuitBreaker({
      name,
      store: via === "kv" ? kv : objects,
      bestEffort: via === "kv",
      maxFailures: 3,
      resetTimeoutMs: 1_500,
      halfOpenMaxWaitMs: 20_000,
      refreshMs: 200,
      storeTimeoutMs: 5_000,
      waitUntil,
    });
    const log: string[] = [];
    logs.set(key, log);
    found.on("stateChange", ({ from, to }) => log.push(`${Date.now() % 100000} ${from}->${to}`));
    found.on("storeError", ({ operation, error }) => log.push(`${Date.now() % 100000} storeError ${operation} ${String(error)}`));
    breakers.set(key, found);
  }
  return found;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const via = url.searchParams.get("via") ?? "do";
    const name = url.searchParams.get("name") ?? "dependency";
    const guarded = breaker(via, name);
    try {
      switch (url.pathname) {
        case "/trip":
          for (let i = 0; i < 3; i++) await guarded.execute(() => Promise.reject(new Error("down"))).catch(() => {});
          return Response.json({ state: guarded.state });
        case "/call": {
          // With hold=1 the dependency answers only once /release was called (at most 30 s).
          const hold = url.searchParams.get("hold") === "1";
          try {
            await guarded.execute(async () => {
              await objects.update(`hits:${via}:${name}`, addTransition, { add: 1 });
              for (let waited = 0; hold && waited < 30_000; waited += 50) {
                if ((await objects.get(`release:${via}:${name}`)) !== undefined) break;
                await sleep(50);
              }
            });
            return Response.json({ ran: true, state: guarded.state });
          } catch (error) {
            if (error instanceof CircuitOpenError) return Response.json({ refused: true, state: guarded.state });
            throw error;
          }
        }
        case "/release":
          await objects.set(`release:${via}:${name}`, true);
          return Response.json({ released: true });
        case "/log":
          return Response.json({ log: logs.get(`${via}:${name}`) ?? [] });
        case "/state":
          return Response.json({ state: guarded.state });
        case "/hits":
          return Response.json({ hits: (await objects.get(`hits:${via}:${name}`))?.value ?? 0 });
        default:
          return new Response("not found", { status: 404 });
      }
    } catch (error) {
      return Response.json({ error: String(error) }, { status: 500 });
    }
  },
};
