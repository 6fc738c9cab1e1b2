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
 * Routes (middleware from `bulwark/hono`, outermost first):
 * - `GET  /`                       the dashboard (HTML, no build step)
 * - `GET  /api/state`              everything the dashboard shows, as JSON
 * - `GET  /api/inventory/:sku`     rateLimit, bulkhead, timeout; a resilient fetch (breaker, retries, attempt timeouts) to inventory
 * - `POST /api/orders`             rateLimit, idempotency, bulkhead, circuitBreaker, timeout; a resilient fetch (retries, attempt timeouts) to payments
 * - `GET  /health/live`, `/health/ready`  health(): the heartbeat, and (ready) no breaker open
 * - `POST /api/upstream`           `{ service, errorRate, latencyMs }`: make the upstream flaky (or heal it)
 * - `ALL  /upstream/:service/*`    the flaky upstream itself
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import {
  Bulkhead,
  CircuitBreakerRegistry,
  CircuitOpenError,
  type CircuitState,
  createResilientFetch,
  Heartbeat,
  isFailureResponse,
  KeyedRateLimiter,
  type RateLimitDecision,
  type ResilientFetch,
  RetryExhaustedError,
  type Store,
  TimeoutError,
} from "../mod.ts";
import {
  type AsyncKeyedLimiter,
  bulkhead as bulkheadMiddleware,
  circuitBreaker,
  health,
  idempotency,
  type KeyedLimiter,
  rateLimit,
  signalOf,
  timeout,
} from "../adapters/hono/mod.ts";
import { dashboardHtml } from "./dashboard.ts";
import { FlakyUpstream, isService, SERVICES, type Service } from "./upstream.ts";

/**
 * Where a client's requests are counted: a `KeyedRateLimiter` in this
 * process (the default), or a limiter shared through a store (its
 * `limit(key, { cost })`), as `rateLimit()` of `bulwark/hono` takes them.
 */
export type RateLimitGate = KeyedLimiter | AsyncKeyedLimiter;

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  /** Shown on the dashboard: `"node"`, `"deno"`, `"bun"`, `"workerd"`. */
  runtime: string;
  /** Idempotency records (an atomic store: memory, files, a Durable Object). */
  idempotencyStore: Store;
  /** Where the heartbeat beats (a file, KV). */
  heartbeatStore: Store;
  /**
   * Breakers shared through a store (`CircuitBreaker`'s `store` option):
   * each instance reads the shared state at most every `refreshMs` and
   * writes its transitions, so a restarted process starts from it and a
   * trip in one isolate opens the circuit in all. `bestEffort` for a store
   * without atomic operations (Workers KV); `waitUntil` where the runtime
   * cuts off work left after the answer (Workers). Default: none, each
   * breaker is this process's own.
   */
  sharedBreakers?: {
    store: Store;
    bestEffort?: boolean;
    refreshMs?: number;
    waitUntil?: (promise: Promise<unknown>) => void;
  };
  /**
   * Where the upstream's settings are written when changed and read back
   * from, so that every isolate simulates the same upstream. Default: none
   * (one process: its own settings are the only ones).
   */
  settingsStore?: Store;
  /** How often the upstream's settings are read back from `settingsStore`, in ms. Default `1_000`. */
  syncMs?: number;
  /** Requests each client may make per window. Default {@link DEFAULT_RATE} per second. */
  clientRate?: { limit: number; windowMs: number };
  /** Where client requests are counted. Default: a `KeyedRateLimiter` in memory, at `clientRate`; the dashboard shows its tokens. */
  rateLimit?: RateLimitGate;
  /**
   * Each request's deadline (the timeout middleware's 504) and each upstream
   * attempt's, in ms. Default `{ requestMs: 2_000, attemptMs: 1_500 }`.
   */
  timeouts?: { requestMs: number; attemptMs: number };
  /** Breaker options of every upstream service. Default: 5 failures in a row open it for 5 s. */
  breaker?: { maxFailures?: number; resetTimeoutMs?: number };
  /**
   * `"loop"` (default): the heartbeat beats on its own timer from `start()`.
   * `"request"`: a request beats when the last beat is older than
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
  /** Reads the shared settings and starts the heartbeat; called by `app` on first use if not before. */
  start(): Promise<void>;
  /** Stops the heartbeat. */
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
  const localOptions = {
    maxFailures: options.breaker?.maxFailures ?? 5,
    resetTimeoutMs: options.breaker?.resetTimeoutMs ?? 5_000,
  };
  const breakerOptions = {
    ...localOptions,
    // As the resilient fetch counts them: 5xx, 408 and 429 answers are failures.
    isResultFailure: (result: unknown) => result instanceof Response && isFailureResponse(result),
    ...options.sharedBreakers,
  };
  const registry = new CircuitBreakerRegistry();
  // The gateway reaches the upstream in process: the same Request, Response
  // and abort signals as over a socket, with no second port, and on Workers
  // no subrequest to itself.
  const inProcess = async (input: RequestInfo | URL, init?: RequestInit) => await upstreamApp.fetch(new Request(input, init));
  const retry = { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 500 };
  const { requestMs, attemptMs } = options.timeouts ?? { requestMs: 2_000, attemptMs: 1_500 };
  // Inventory: the breaker is the resilient fetch's own (one per origin, in `registry`).
  const inventoryFetch: ResilientFetch = createResilientFetch({
    fetch: inProcess,
    // Its origin's breaker is made below, in `registry`, with the shared options if any.
    registry,
    circuitBreaker: localOptions,
    retry,
    attemptTimeoutMs: attemptMs,
  });
  // Payments: the breaker guards the route (the circuitBreaker middleware),
  // so the fetch has none of its own.
  const paymentsFetch: ResilientFetch = createResilientFetch({
    fetch: inProcess,
    circuitBreaker: false,
    retry,
    attemptTimeoutMs: attemptMs,
  });
  const bulkhead = new Bulkhead({ maxConcurrent: 8, maxQueue: 16, queueTimeoutMs: 1_000 });
  const rate = options.clientRate ?? DEFAULT_RATE;
  const keyed = options.rateLimit === undefined
    ? new KeyedRateLimiter({ rate: rate.limit, perMs: rate.windowMs, burst: rate.limit })
    : undefined;
  const limiter = options.rateLimit ?? keyed!;

  const started = Date.now();
  const counters = {
    requests: 0,
    rateLimited: 0,
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

  registry.on("stateChange", (change) => record(change.name, change.to, Date.now()));

  // The upstream's settings through the store: written when changed, read
  // back at start and then at most every syncMs.
  const settingsStore = options.settingsStore;
  const syncMs = options.syncMs ?? 1_000;
  const SETTINGS_KEY = "demo:upstream";
  let lastSync = 0;
  const sync = async (): Promise<void> => {
    if (settingsStore === undefined) return;
    lastSync = Date.now();
    const settings = await settingsStore.get(SETTINGS_KEY);
    if (settings === undefined) return;
    const shared = settings.value as Record<string, Record<string, unknown>>;
    for (const service of SERVICES) if (shared[service]) upstream.change(service, shared[service]);
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
    if (settingsStore !== undefined && Date.now() - lastSync >= syncMs) await sync().catch(() => {});
    if (options.heartbeatMode === "request" && Date.now() - lastBeat >= heartbeatIntervalMs) {
      lastBeat = Date.now();
      await heartbeat.beat().catch(() => {});
    }
    await next();
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

  // What the dashboard counts, read off the answers.
  const counted: MiddlewareHandler = async (c, next) => {
    counters.requests++;
    const keyed = c.req.header("idempotency-key") !== undefined;
    if (keyed) counters.idempotentRequests++;
    await next();
    if (c.res.status === 429) counters.rateLimited++;
    if (c.res.status === 504) counters.timeouts++;
    if (keyed && c.res.headers.get("idempotency-replayed") === "true") counters.idempotencyHits++;
  };
  // The client's rate limit, with the IETF RateLimit header fields on every
  // answer (429 with Retry-After when spent); each decision noted for the dashboard.
  const noted = (key: string, decision: RateLimitDecision): RateLimitDecision => {
    lastDecision.delete(key);
    lastDecision.set(key, decision);
    if (lastDecision.size > 20) lastDecision.delete(lastDecision.keys().next().value!);
    return decision;
  };
  const perClient = rateLimit({
    limiter: "consume" in limiter
      ? { consume: (key, cost) => noted(key, limiter.consume(key, cost)) }
      : { limit: async (key, opts) => noted(key, await limiter.limit(key, opts)) },
    key: (c) => clientOf(c.req.raw),
    policy: "per-client",
  });
  // One bulkhead for both routes: 503 when its slots and queue are full.
  const bulkheaded = bulkheadMiddleware({ bulkhead });
  // A deadline per request: 504, and the handler's signal (signalOf) aborts.
  const deadline = timeout({ timeoutMs: requestMs });
  // The payments route's breaker, a middleware around the route (outside
  // the timeout, so a 504 counts as a failure).
  const paymentsGuard = circuitBreaker({ breaker: registry.get(originOf("payments"))! });

  app.use("/api/inventory/*", counted, perClient, bulkheaded, deadline);
  // Idempotency for orders: a retried POST with the same key is answered
  // from the store, and the payment runs once.
  app.use(
    "/api/orders",
    counted,
    perClient,
    idempotency({ store: options.idempotencyStore, waitMs: 2_000 }),
    bulkheaded,
    paymentsGuard,
    deadline,
  );

  /**
   * Calls a service through a resilient fetch, with the request's signal.
   * An open inventory circuit answers 503; attempts that all timed out 504;
   * another failure 502.
   */
  const callUpstream = async (
    c: Context,
    fetcher: ResilientFetch,
    service: Service,
    path: string,
    init: RequestInit = {},
  ): Promise<Response> => {
    try {
      const response = await fetcher(`${originOf(service)}/${service}${path}`, { ...init, signal: signalOf(c) });
      return new Response(await response.text(), { status: response.status, headers: { "content-type": "application/json" } });
    } catch (error) {
      // Past the deadline nobody reads this: the timeout middleware answers 504.
      if (signalOf(c).aborted) return c.body(null, 504);
      if (error instanceof CircuitOpenError) {
        const retryAfter = String(Math.max(1, Math.ceil(error.remainingMs / 1_000)));
        return c.json({ error: `the ${service} circuit is open` }, 503, { "retry-after": retryAfter });
      }
      const cause = error instanceof RetryExhaustedError ? error.cause : error;
      if (cause instanceof TimeoutError) return c.json({ error: `${service} timed out` }, 504);
      return c.json({ error: `${service} failed: ${cause instanceof Error ? cause.message : String(cause)}` }, 502);
    }
  };

  app.get("/api/inventory/:sku", (c) => callUpstream(c, inventoryFetch, "inventory", `/items/${encodeURIComponent(c.req.param("sku"))}`));

  app.post("/api/orders", async (c) => {
    const key = c.req.header("idempotency-key");
    // The key goes upstream too: a request that carries one may be retried.
    return callUpstream(c, paymentsFetch, "payments", "/charges", {
      method: "POST",
      body: await c.req.text(),
      headers: key === undefined ? {} : { "idempotency-key": key },
    });
  });

  // Health probes: alive while the heartbeat is fresh; ready unless a breaker is open too.
  const beats = { store: options.heartbeatStore, key: "demo:heartbeat", maxAgeMs: Math.max(10_000, 5 * heartbeatIntervalMs) };
  app.get("/health/live", health({ probe: "liveness", heartbeat: beats }));
  app.get("/health/ready", health({ probe: "readiness", heartbeat: beats, breakers: registry }));

  app.get("/api/state", async (c) => {
    const now = Date.now();
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
      tokens: keyed?.available(key) ?? decision.remaining,
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
      counters: { ...counters, circuitOpen: breakers.reduce((sum, b) => sum + b.stats.rejectedCalls, 0) },
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
    },
  };
}

export { isService, SERVICES };
