/**
 * The test Worker's entry (`main` in wrangler.toml). The workerd leg runs the
 * test files inside this Worker's isolate; Durable Object classes that tests
 * bind to are exported from here. Routes under `/timeout` exercise policies
 * shared by concurrent requests (tests/shared_across_requests.workers.test.ts);
 * routes under `/store` exercise the Cloudflare stores from concurrent
 * requests (tests/store_cloudflare.workers.test.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { Bulkhead, createResilientFetch, Heartbeat, RateLimiter, TimeoutPolicy } from "../../mod.ts";
import { KvStore, stateObjectClass } from "../../adapters/cloudflare/mod.ts";
import { storeRoute } from "./store_routes.ts";
import { TEST_TRANSITIONS } from "./store_transitions.ts";

/** The Durable Object behind DurableObjectStore (bound as STATE_OBJECTS in wrangler.toml). */
export class BulwarkStateObject extends stateObjectClass(DurableObject, { transitions: TEST_TRANSITIONS }) {}

/** What an object's storage offers the alarm-driven heartbeat (and the test). */
interface AlarmStorage {
  setAlarm(scheduledTime: number): Promise<void>;
  getAlarm(): Promise<number | null>;
}

/**
 * An alarm-driven Heartbeat, as docs/lifecycle.md shows it: `begin()` beats
 * once and arms the alarm; each `alarm()` re-arms it and beats into Workers
 * KV, where anyone can read it (bound as HEARTBEAT_OBJECTS).
 */
export class HeartbeatObject extends DurableObject {
  readonly #storage: AlarmStorage;
  readonly #heartbeat: Heartbeat;
  #beats = 0;

  constructor(ctx: { storage: AlarmStorage }, env: { STATE_KV: ConstructorParameters<typeof KvStore>[0] }) {
    super(ctx as never, env as never);
    this.#storage = ctx.storage;
    this.#heartbeat = new Heartbeat({
      store: new KvStore(env.STATE_KV, { onWriteTooSoon: "ignore" }),
      key: "heartbeat:object",
      intervalMs: 10_000,
      metadata: { role: "alarm" },
      onBeat: () => {
        this.#beats++;
      },
    });
  }

  async begin(): Promise<void> {
    await this.#heartbeat.alarm(this.#storage);
  }

  async alarm(): Promise<void> {
    await this.#heartbeat.alarm(this.#storage);
  }

  async status(): Promise<{ beats: number; alarm: number | null }> {
    return { beats: this.#beats, alarm: await this.#storage.getAlarm() };
  }
}

// Built at global scope and shared by every request, as users do.
const timeout = new TimeoutPolicy({ timeoutMs: 100 });
const bulkhead = new Bulkhead({ maxConcurrent: 1 });
// With a queue, on Workers: queued requests poll for their slot on their own
// timers, since a request that frees a slot cannot wake another.
const queued = new Bulkhead({ maxConcurrent: 1, maxQueue: 10, pollMs: 5 });
// With a queue and no pollMs, as the README's quick start has it: on Workers
// the default polls, so queued requests still wake on their own timers.
const queuedByDefault = new Bulkhead({ maxConcurrent: 2, maxQueue: 100 });
// The flagship use: one resilient fetch for the whole isolate.
const upstream = createResilientFetch({
  attemptTimeoutMs: 200,
  retry: { maxAttempts: 2, baseDelayMs: 10 },
});
const limiter = new RateLimiter({ rate: 2, perMs: 1_000, burst: 1 });

/** Waits `ms` on a real timer; rejects with the abort reason if `signal` aborts first. */
function wait(ms: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(`slept ${ms} ms`), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Answers with how `work` ended (its value, or its error's name) and how long it took. */
async function report(work: () => Promise<string>): Promise<Response> {
  const started = Date.now();
  const outcome = await work().then(
    (value) => value,
    (error: unknown) => (error instanceof Error ? (error.name === "Error" ? `Error: ${error.message}` : error.name) : String(error)),
  );
  return Response.json({ outcome, elapsedMs: Date.now() - started });
}

export default {
  fetch(request: Request, env: { UPSTREAM_URL: string }): Promise<Response> | Response {
    const url = new URL(request.url);
    const workMs = Number(url.searchParams.get("workMs"));
    switch (url.pathname) {
      case "/timeout":
        return report(() => timeout.execute(({ signal }) => wait(workMs, signal)));
      case "/bulkhead":
        return report(() => bulkhead.execute(({ signal }) => wait(workMs, signal)));
      case "/bulkhead-queue":
        return report(() => queued.execute(({ signal }) => wait(workMs, signal)));
      case "/bulkhead-default":
        return report(() => queuedByDefault.execute(({ signal }) => wait(workMs, signal)));
      case "/upstream":
        // Proxies one upstream scenario (?path=/stall, /ok, ...) through the shared resilient fetch.
        return report(async () => {
          const response = await upstream(`${env.UPSTREAM_URL}${url.searchParams.get("path")}`);
          return `${response.status} ${await response.text()}`;
        });
      case "/limiter":
        return report(() => limiter.acquire().then(() => "acquired"));
      default:
        if (url.pathname.startsWith("/store/")) return storeRoute(url, request);
        return new Response("bulwark test worker");
    }
  },
};
