/**
 * The demo gateway, written once for every runtime: a Hono app in front of
 * the built-in flaky upstream (demo/upstream.ts), its routes guarded by
 * bulwark's resilient fetch (a breaker per upstream service, retries,
 * timeouts), a rate limit per client, idempotency for POSTs and a bulkhead,
 * with a live dashboard at `/` (demo/dashboard.ts).
 *
 * The runtime entries (node.ts, deno.ts, bun.ts, worker.ts) only choose the
 * stores and serve `gateway.app.fetch`: memory and files on Node, Deno and
 * Bun; Workers KV and Durable Objects on Cloudflare.
 *
 * Routes:
 * - `GET  /`                       the dashboard (HTML, no build step)
 * - `GET  /api/state`              everything the dashboard shows, as JSON
 * - `GET  /api/inventory/:sku`     rate limit, bulkhead, resilient fetch to the inventory service
 * - `POST /api/orders`             rate limit, idempotency (`Idempotency-Key`), bulkhead, resilient fetch to payments
 * - `POST /api/upstream`           `{ service, errorRate, latencyMs }`: make the upstream flaky (or heal it)
 * - `ALL  /upstream/:service/*`    the flaky upstream itself
 */
import { Hono, type MiddlewareHandler } from "hono";
import {
  Bulkhead,
  BulkheadRejectedError,
  CircuitBreakerRegistry,
  type CircuitBreakerSnapshot,
  CircuitOpenError,
  type CircuitState,
  createResilientFetch,
  Heartbeat,
  isFailureResponse,
  KeyedRateLimiter,
  type RateLimitDecision,
  rateLimitHeaders,
  type ResilientFetch,
  type Store,
  TimeoutError,
} from "../mod.ts";
import { idempotency } from "../adapters/hono/mod.ts";
import { dashboardHtml } from "./dashboard.ts";
import { FlakyUpstream, isService, SERVICES, type Service } from "./upstream.ts";

/** Where a client's requests are counted: in this process (the default) or in a shared store. */
export interface RateLimitGate {
  /** Spends one unit of `key`'s quota and answers with the decision. */
  consume(key: string): RateLimitDecision | Promise<RateLimitDecision>;
  /** Units `key` has now, if the gate can tell without spending any (else the dashboard shows the last decision's). */
  available?(key: string): number;
}

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  /** Shown on the dashboard: `"node"`, `"deno"`, `"bun"`, `"workerd"`. */
  runtime: string;
  /** Idempotency records (an atomic store: memory, files, a Durable Object). */
  idempotencyStore: Store;
  /** Where the heartbeat beats (a file, KV). */
  heartbeatStore: Store;
  /**
   * Where each breaker's state is written on every transition and read
   * back (at start, and at most every `breakerSyncMs` while serving): a
   * restarted process starts from it, and other isolates take it up.
   * Default: none.
   */
  breakerStore?: Store;
  /**
   * Where the upstream's settings are written when changed and read back
   * from, so that every isolate simulates the same upstream. Default: none
   * (one process: its own settings are the only ones).
   */
  settingsStore?: Store;
  /**
   * How often shared state (`breakerStore`, `settingsStore`) is read back
   * while serving, in ms. Default `Infinity`: only at start (one process
   * owns the state).
   */
  syncMs?: number;
  /** Requests each client may make per window. Default {@link DEFAULT_RATE} per second. */
  clientRate?: { limit: number; windowMs: number };
  /** Where client requests are counted. Default: a `KeyedRateLimiter` in memory, at `clientRate`. */
  rateLimit?: RateLimitGate;
  /** Breaker options of every upstream service. Default: 5 failures in a row open it for 5 s. */
  breaker?: { maxFailures?: number; resetTimeoutMs?: number };
  /**
   * `"loop"` (default): the heartbeat beats on its own timer from `start()`.
   * `"request"`: it beats when `/api/state` finds the last beat older than
   * `heartbeatIntervalMs` (Workers keep no timer between requests).
   */
  heartbeatMode?: "loop" | "request";
  /** Ms between heartbeats. Default `2_000`. */
  heartbeatIntervalMs?: number;
  /** The process id written in each beat (`null` where there is none). */
  pid?: number | null;
  /** How often the dashboard polls `/api/state`, in ms. Default `500`. */
  pollMs?: number;
}

/** A gateway: its Hono app, and what starts and stops its background work. */
export interface Gateway {
  readonly app: Hono;
  readonly upstream: FlakyUpstream;
  /** Restores breaker state from the store and starts the heartbeat; called by `app` on first use if not before. */
  start(): Promise<void>;
  /** Stops the heartbeat and waits for pending state writes. */
  stop(): Promise<void>;
}

/** The default rate limit per client: 20 requests a second. */
export const DEFAULT_RATE: { limit: number; windowMs: number } = { limit: 20, windowMs: 1_000 };

/** Breaker names are the upstream origins (one breaker per origin, as `createResilientFetch` keeps them). */
function originOf(service: Service): string {
  return `http://${service}.upstream`;
}

/** A point of a breaker's history: it entered `state` at epoch ms `at`. */
interface Transition {
  readonly at: number;
  readonly state: CircuitState;
}

/** The client a request is counted against: its `X-Client-Id`, else one shared bucket. */
function clientOf(request: Request): string {
  const id = request.headers.get("x-client-id");
  return id !== null && /^[\w.-]{1,64}$/.test(id) ? id : "anonymous";
}

/**
 * Builds the gateway. Does no I/O and starts no timer (so a Worker may call
 * it at any time); `start()` does both, and the app calls it on its first
 * request.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const upstream = new FlakyUpstream();
  const upstreamApp = upstream.routes();
  const breakerOptions = {
    maxFailures: options.breaker?.maxFailures ?? 5,
    resetTimeoutMs: options.breaker?.resetTimeoutMs ?? 5_000,
    // As the resilient fetch counts them: 5xx, 408 and 429 answers are failures.
    isResultFailure: (result: unknown) => result instanceof Response && isFailureResponse(result),
  };
  const registry = new CircuitBreakerRegistry();
  // The gateway reaches the upstream in process: the same Request, Response
  // and abort signals as over a socket, with no second port, and on Workers
  // no subrequest to itself. Each service is its own origin, so its own breaker.
  const resilientFetch: ResilientFetch = createResilientFetch({
    fetch: async (input, init) => await upstreamApp.fetch(new Request(input, init)),
    registry,
    circuitBreaker: breakerOptions,
    retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 500 },
    attemptTimeoutMs: 1_000,
    timeoutMs: 2_500,
  });
  const bulkhead = new Bulkhead({ maxConcurrent: 8, maxQueue: 16, queueTimeoutMs: 1_000 });
  const rate = options.clientRate ?? DEFAULT_RATE;
  const keyed = new KeyedRateLimiter({ rate: rate.limit, perMs: rate.windowMs, burst: rate.limit });
  const limits: RateLimitGate = options.rateLimit ??
    { consume: (key) => keyed.consume(key), available: (key) => keyed.available(key) };

  const started = Date.now();
  const counters = {
    requests: 0,
    rateLimited: 0,
    bulkheadRejected: 0,
    circuitOpen: 0,
    timeouts: 0,
    idempotencyHits: 0,
    idempotentRequests: 0,
  };
  const lastDecision = new Map<string, RateLimitDecision>();
  const history = new Map<string, Transition[]>();
  const record = (name: string, state: CircuitState, at: number): void => {
    const points = history.get(name) ?? [];
    points.push({ at, state });
    // Bounded: the dashboard shows the last minute.
    if (points.length > 200) points.splice(0, points.length - 200);
    history.set(name, points);
  };
  for (const service of SERVICES) {
    registry.getOrCreate(originOf(service), breakerOptions);
    record(originOf(service), "closed", started);
  }

  // Breaker state through the store: written on every transition, read back
  // at start and then at most every breakerSyncMs.
  const store = options.breakerStore;
  const settingsStore = options.settingsStore;
  const syncMs = options.syncMs ?? Infinity;
  const knownVersion = new Map<string, string>();
  const pending = new Set<Promise<unknown>>();
  let lastSync = 0;
  const keyOf = (name: string) => `demo:breaker:${name}`;
  const track = (work: Promise<unknown>): void => {
    const settled = work.catch(() => {}).finally(() => pending.delete(settled));
    pending.add(settled);
  };
  registry.on("stateChange", (change) => {
    record(change.name, change.to, Date.now());
    if (store !== undefined) {
      track(store.set(keyOf(change.name), change.snapshot as never).then((entry) => {
        knownVersion.set(change.name, entry.version);
      }));
    }
  });
  /** Takes up a state another process or isolate wrote, replacing this one's breaker. */
  const adopt = (name: string, snapshot: CircuitBreakerSnapshot): void => {
    const local = registry.get(name);
    if (local === undefined || local.state === snapshot.state) return;
    registry.delete(name);
    const breaker = registry.getOrCreate(name, { ...breakerOptions, initialState: { ...snapshot, name } });
    record(name, breaker.state, Date.now());
  };
  const SETTINGS_KEY = "demo:upstream";
  const sync = async (): Promise<void> => {
    // While this process's own writes are in flight, what the store holds is older than what it knows.
    if (pending.size > 0) return;
    lastSync = Date.now();
    const settings = await settingsStore?.get(SETTINGS_KEY);
    if (settings !== undefined) {
      const shared = settings.value as Record<string, Record<string, unknown>>;
      for (const service of SERVICES) if (shared[service]) upstream.change(service, shared[service]);
    }
    if (store === undefined) return;
    await Promise.all(SERVICES.map(async (service) => {
      const name = originOf(service);
      const entry = await store.get(keyOf(name));
      if (entry === undefined || entry.version === knownVersion.get(name)) return;
      knownVersion.set(name, entry.version);
      adopt(name, entry.value as unknown as CircuitBreakerSnapshot);
    }));
  };

  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 2_000;
  const heartbeat = new Heartbeat({
    store: options.heartbeatStore,
    key: "demo:heartbeat",
    intervalMs: heartbeatIntervalMs,
    metadata: { runtime: options.runtime, app: "bulwark-demo" },
    pid: options.pid ?? null,
  });
  let lastBeat = 0;

  let starting: Promise<void> | undefined;
  const start = (): Promise<void> =>
    starting ??= (async () => {
      await sync().catch(() => {});
      if ((options.heartbeatMode ?? "loop") === "loop") await heartbeat.start();
    })();

  const app = new Hono();

  app.use("*", async (c, next) => {
    await start();
    if (Date.now() - lastSync >= syncMs) await sync().catch(() => {});
    await next();
    // On Workers the runtime may cut off work left after the answer: hand it over.
    if (pending.size > 0) {
      let waitUntil: ((promise: Promise<unknown>) => void) | undefined;
      try {
        const context = c.executionCtx;
        waitUntil = context.waitUntil.bind(context);
      } catch {
        // No execution context outside Workers: the writes finish on their own.
      }
      waitUntil?.(Promise.all(pending));
    }
  });

  app.get("/", (c) => c.html(dashboardHtml({ pollMs: options.pollMs ?? 500, runtime: options.runtime })));

  app.route("/upstream", upstreamApp);

  app.post("/api/upstream", async (c) => {
    const body = await c.req.json().catch(() => undefined) as Record<string, unknown> | undefined;
    if (typeof body !== "object" || body === null) return c.json({ error: "expected a JSON object" }, 400);
    const targets = body.service === undefined ? [...SERVICES] : [String(body.service)];
    for (const service of targets) {
      const error = upstream.change(service, body);
      if (error !== undefined) return c.json({ error }, 400);
    }
    await settingsStore?.set(SETTINGS_KEY, upstream.settings as never);
    return c.json(upstream.settings);
  });

  // Every guarded route: first the client's rate limit, with the IETF
  // RateLimit header fields on every answer (429 with Retry-After when spent).
  const rateLimited: MiddlewareHandler = async (c, next) => {
    counters.requests++;
    const key = clientOf(c.req.raw);
    const decision = await limits.consume(key);
    lastDecision.delete(key);
    lastDecision.set(key, decision);
    if (lastDecision.size > 20) lastDecision.delete(lastDecision.keys().next().value!);
    const headers = rateLimitHeaders(decision, { policy: "per-client" });
    if (!decision.allowed) {
      counters.rateLimited++;
      return c.json({ error: "rate limited", retryAfterMs: decision.retryAfterMs }, 429, { ...headers });
    }
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
  app.use("/api/inventory/*", rateLimited);
  app.use("/api/orders", rateLimited);

  // Idempotency for orders: a retried POST with the same key is answered
  // from the store, and the payment runs once.
  app.use("/api/orders", async (c, next) => {
    const keyed = c.req.header("idempotency-key") !== undefined;
    if (keyed) counters.idempotentRequests++;
    await next();
    if (keyed && c.res.headers.get("idempotency-replayed") === "true") counters.idempotencyHits++;
  });
  app.use("/api/orders", idempotency({ store: options.idempotencyStore, waitMs: 2_000 }));

  /** Calls the upstream service through the bulkhead and the resilient fetch; policy refusals become 503/504. */
  const callUpstream = async (service: Service, path: string, init?: RequestInit): Promise<Response> => {
    try {
      const response = await bulkhead.execute(() => resilientFetch(`${originOf(service)}/${service}${path}`, init));
      const body = await response.text();
      return new Response(body, { status: response.status, headers: { "content-type": "application/json" } });
    } catch (error) {
      const [status, message, retryAfterMs] = error instanceof CircuitOpenError
        ? (counters.circuitOpen++, [503, `the ${service} circuit is open`, error.remainingMs])
        : error instanceof BulkheadRejectedError
        ? (counters.bulkheadRejected++, [503, "the gateway is busy (bulkhead full)", 1_000])
        : error instanceof TimeoutError
        ? (counters.timeouts++, [504, `${service} timed out`, undefined])
        : [502, `${service} failed: ${error instanceof Error ? error.message : String(error)}`, undefined];
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (retryAfterMs !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(retryAfterMs / 1_000)));
      return new Response(JSON.stringify({ error: message }), { status, headers });
    }
  };

  app.get("/api/inventory/:sku", (c) => callUpstream("inventory", `/items/${encodeURIComponent(c.req.param("sku"))}`));

  app.post("/api/orders", async (c) => {
    const body = await c.req.text();
    const key = c.req.header("idempotency-key");
    // The key goes upstream too: a request that carries one may be retried.
    return callUpstream("payments", "/charges", {
      method: "POST",
      body,
      headers: key === undefined ? {} : { "idempotency-key": key },
    });
  });

  app.get("/api/state", async (c) => {
    const now = Date.now();
    if (options.heartbeatMode === "request" && now - lastBeat >= heartbeatIntervalMs) {
      lastBeat = now;
      await heartbeat.beat().catch(() => {});
    }
    const beat = await Heartbeat.readState(options.heartbeatStore, { key: "demo:heartbeat" }).catch(() => undefined);
    const beatAt = beat === undefined ? undefined : Date.parse(beat.timestamp);
    const breakers = SERVICES.map((service) => {
      const name = originOf(service);
      const breaker = registry.get(name)!;
      const state = breaker.state; // reading it notices a reset timeout that has passed
      const points = history.get(name) ?? [];
      if (points.at(-1)?.state !== state) record(name, state, now);
      return {
        service,
        name,
        state,
        failureCount: breaker.failureCount,
        remainingMs: breaker.remainingMs,
        stats: breaker.stats,
        history: (history.get(name) ?? []).filter((p, i, all) => i === all.length - 1 || all[i + 1]!.at >= now - 60_000),
      };
    });
    const limiter = [...lastDecision].map(([key, decision]) => ({
      key,
      limit: decision.limit,
      tokens: limits.available?.(key) ?? decision.remaining,
    }));
    return c.json({
      runtime: options.runtime,
      now,
      uptimeMs: now - started,
      breakers,
      limiter,
      bulkhead: {
        active: bulkhead.active,
        queued: bulkhead.queued,
        maxConcurrent: bulkhead.options.maxConcurrent,
        maxQueue: bulkhead.options.maxQueue,
        rejected: bulkhead.rejected,
      },
      counters,
      heartbeat: beat === undefined ? null : { at: beatAt, ageMs: now - beatAt!, pid: beat.pid, metadata: beat.metadata },
      upstream: upstream.settings,
      served: upstream.served,
    }, 200, { "cache-control": "no-store" });
  });

  return {
    app,
    upstream,
    start,
    async stop() {
      await heartbeat.stop();
      await Promise.all(pending);
    },
  };
}

export { isService, SERVICES };
