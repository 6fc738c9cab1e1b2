import { CircuitBreaker } from "../../src/breaker/circuit_breaker.ts";
import { CircuitBreakerRegistry } from "../../src/breaker/registry.ts";
import type { Clock } from "../../src/clock.ts";
import { badOptions, throwIf } from "../../src/internal/arguments.ts";
import { Heartbeat } from "../../src/lifecycle/heartbeat.ts";
import { Watchdog } from "../../src/lifecycle/watchdog.ts";
import type { Store } from "../../src/store/store.ts";
import { clock as clockSchema, lazy, oneOf, satisfying, validate, optional, strictObject } from "../../src/validation.ts";
import type { HonoMiddleware } from "./context.ts";

/** A heartbeat to read: where it is stored, under which key, and how old it may be. */
export interface HeartbeatSource {
  /** The store the heartbeat is written to. */
  store: Store;
  /** Its key. Default `"heartbeat"`. */
  key?: string;
  /** A beat older than this, in ms, is a failure. Default `configure({ heartbeat: { maxAgeMs } })`'s, `30_000`. */
  maxAgeMs?: number;
}

/** Options of {@link health}. */
export interface HonoHealthOptions {
  /**
   * `"readiness"` (default): may this instance take traffic? Every check
   * below. `"liveness"`: is the process alive and making progress? The
   * heartbeat and the watchdog only: an open breaker says a dependency is
   * down, which restarting this process would not mend.
   */
  probe?: "liveness" | "readiness";
  /**
   * A heartbeat whose last beat must be recent: a {@link Heartbeat} (read
   * from its store under its key; one without a store passes while
   * running), or where one is stored.
   */
  heartbeat?: Heartbeat | HeartbeatSource;
  /** A watchdog that must not have fired (`isTriggered`). */
  watchdog?: Watchdog;
  /** Breakers that must not be open or forced open (readiness only): a registry's, or a list. */
  breakers?: CircuitBreakerRegistry<unknown> | readonly CircuitBreaker<unknown>[];
  /** Clock the heartbeat's age is read with (its `wallNow()`). Default `systemClock`. */
  clock?: Clock;
}

/** One check's result, after the Health Check Response Format draft (draft-inadarei-api-health-check). */
export interface HealthCheckResult {
  /** `"pass"` or `"fail"`. */
  readonly status: "pass" | "fail";
  /** The breaker's or watchdog's name. */
  readonly componentId?: string;
  /** The heartbeat's age or the time since the watchdog's last ping (`observedUnit` `"ms"`), or the breaker's state. */
  readonly observedValue?: number | string | null;
  readonly observedUnit?: "ms";
  /** Why, in words. */
  readonly output?: string;
}

/** The document {@link health} answers with (`application/health+json`). */
export interface HealthReport {
  readonly status: "pass" | "fail";
  readonly probe: "liveness" | "readiness";
  readonly checks: {
    readonly heartbeat?: readonly HealthCheckResult[];
    readonly watchdog?: readonly HealthCheckResult[];
    readonly circuitBreakers?: readonly HealthCheckResult[];
  };
}

function isHeartbeatSource(value: unknown): boolean {
  if (value instanceof Heartbeat) return true;
  if (typeof value !== "object" || value === null) return false;
  const { store, key, maxAgeMs } = value as Partial<HeartbeatSource>;
  return typeof store === "object" && store !== null && typeof store.get === "function" &&
    (key === undefined || (typeof key === "string" && key.length > 0)) &&
    (maxAgeMs === undefined || (typeof maxAgeMs === "number" && Number.isFinite(maxAgeMs) && maxAgeMs > 0));
}

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    probe: optional(oneOf(["liveness", "readiness"])),
    heartbeat: optional(satisfying<Heartbeat | HeartbeatSource>(
      isHeartbeatSource,
      "a Heartbeat, or { store, key?, maxAgeMs? } (a Store, a non-empty string, a number of ms > 0)",
    )),
    watchdog: optional(satisfying<Watchdog>((value) => value instanceof Watchdog, "a Watchdog")),
    breakers: optional(satisfying<CircuitBreakerRegistry<unknown> | readonly CircuitBreaker<unknown>[]>(
      (value) => value instanceof CircuitBreakerRegistry || (Array.isArray(value) && value.every((item) => item instanceof CircuitBreaker)),
      "a CircuitBreakerRegistry or an array of CircuitBreakers",
    )),
    clock: optional(clockSchema()),
  })
);

async function checkHeartbeat(source: Heartbeat | HeartbeatSource, clock: Clock | undefined): Promise<HealthCheckResult> {
  const store = source.store;
  if (store === undefined) {
    const running = (source as Heartbeat).isRunning;
    return { status: running ? "pass" : "fail", output: running ? "running (no store to read)" : "not running" };
  }
  const maxAgeMs = source instanceof Heartbeat ? undefined : source.maxAgeMs;
  const checked = await Heartbeat.check(store, maxAgeMs, { key: source.key ?? "heartbeat", ...(clock === undefined ? {} : { clock }) });
  return {
    status: checked.alive ? "pass" : "fail",
    observedValue: checked.ageMs === undefined ? null : Math.round(checked.ageMs),
    observedUnit: "ms",
    output: checked.reason,
  };
}

function checkWatchdog(watchdog: Watchdog): HealthCheckResult {
  const triggered = watchdog.isTriggered;
  return {
    status: triggered ? "fail" : "pass",
    componentId: watchdog.name,
    observedValue: Math.round(watchdog.msSincePing),
    observedUnit: "ms",
    output: triggered ? `stalled: no ping for ${watchdog.timeoutMs} ms` : watchdog.isRunning ? "watching" : "not running",
  };
}

function checkBreaker(breaker: { readonly name: string; readonly state: string; readonly remainingMs: number }): HealthCheckResult {
  const open = breaker.state === "open" || breaker.state === "forced-open";
  return {
    status: open ? "fail" : "pass",
    componentId: breaker.name,
    observedValue: breaker.state,
    ...(breaker.state === "open" ? { output: `next probe in ${Math.ceil(breaker.remainingMs)} ms` } : {}),
  };
}

/**
 * A Hono handler answering a liveness or readiness probe: 200 when every
 * check passes, 503 when one fails, with an `application/health+json`
 * document (after the Health Check Response Format draft) saying which:
 *
 * ```json
 * { "status": "fail", "probe": "readiness", "checks": {
 *   "heartbeat": [{ "status": "pass", "observedValue": 2000, "observedUnit": "ms", "output": "alive: ..." }],
 *   "watchdog": [{ "status": "pass", "componentId": "worker", "observedValue": 120, "observedUnit": "ms", "output": "watching" }],
 *   "circuitBreakers": [{ "status": "fail", "componentId": "payments", "observedValue": "open", "output": "next probe in 12000 ms" }]
 * } }
 * ```
 *
 * The checks: the heartbeat's last beat is at most `maxAgeMs` old (an
 * unreadable store is a failure, never an error); the watchdog has not
 * fired; for readiness, no breaker is open or forced open (half-open
 * passes: it is finding out). With no check configured it answers 200: the
 * process answers, which is what liveness asks. Never cached
 * (`Cache-Control: no-store`).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { CircuitBreakerRegistry } from "bulwark";
 * import { health } from "bulwark/hono";
 *
 * const breakers = new CircuitBreakerRegistry();
 * const app = new Hono();
 * app.get("/livez", health({ probe: "liveness", breakers }));
 * app.get("/readyz", health({ breakers }));
 *
 * breakers.getOrCreate("payments").forceOpen();
 * const ready = await app.request("/readyz");
 * if (ready.status !== 503 || (await ready.json()).checks.circuitBreakers[0].observedValue !== "forced-open") {
 *   throw new Error("not ready while payments is open");
 * }
 * if ((await app.request("/livez")).status !== 200) throw new Error("but alive");
 * ```
 */
export function health(options: HonoHealthOptions = {}): HonoMiddleware {
  throwIf(badOptions("health", options));
  const resolved = validate("health", optionsSchema(), options) as HonoHealthOptions;
  const probe = resolved.probe ?? "readiness";
  const { heartbeat, watchdog, breakers, clock } = resolved;

  return async function health(_c, _next) {
    const checks: { -readonly [K in keyof HealthReport["checks"]]: HealthReport["checks"][K] } = {};
    if (heartbeat !== undefined) checks.heartbeat = [await checkHeartbeat(heartbeat, clock)];
    if (watchdog !== undefined) checks.watchdog = [checkWatchdog(watchdog)];
    if (probe === "readiness" && breakers !== undefined) {
      checks.circuitBreakers = breakers instanceof CircuitBreakerRegistry ? breakers.list().map(checkBreaker) : breakers.map(checkBreaker);
    }
    const failed = Object.values(checks).some((results) => results.some((result) => result.status === "fail"));
    const report: HealthReport = { status: failed ? "fail" : "pass", probe, checks };
    return new Response(JSON.stringify(report), {
      status: failed ? 503 : 200,
      headers: { "content-type": "application/health+json", "cache-control": "no-store" },
    });
  };
}
