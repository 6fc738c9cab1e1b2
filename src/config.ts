/**
 * Process-wide defaults. Values cascade, as in the seeds:
 * constructor options > {@link configure} > built-in defaults.
 *
 * Only plain, JSON-representable values live here, so the same shape loads
 * from a config file (`bulwark.config.json`, by the fs-capable adapters).
 * `configure()` affects components constructed after it, never live ones.
 *
 * @module
 */
import { z } from "zod";
import { durationMs, fraction, integer, oneOf, positiveNumber, validate } from "./validation.ts";
import { defaultsChanged } from "./internal/forms.ts";

const circuitBreakerDefaults = z.strictObject({
  maxFailures: integer(1).optional(),
  resetTimeoutMs: durationMs(0).optional(),
  halfOpenMaxCalls: integer(1).optional(),
  successThreshold: integer(1).optional(),
  failureRateThreshold: fraction().optional(),
  minimumThroughput: integer(1).optional(),
  slowCallDurationMs: durationMs(0, true).optional(),
  slowCallRateThreshold: fraction().optional(),
});

const retryDefaults = z.strictObject({
  maxAttempts: integer(1).optional(),
  backoff: oneOf(["constant", "linear", "exponential"]).optional(),
  baseDelayMs: durationMs(0).optional(),
  maxDelayMs: durationMs(0).optional(),
  maxElapsedMs: durationMs(0, true).optional(),
  multiplier: positiveNumber(1, true).optional(),
  jitter: oneOf(["none", "full", "equal", "decorrelated"]).optional(),
});

const timeoutDefaults = z.strictObject({
  timeoutMs: durationMs(0, true).optional(),
  strategy: oneOf(["cooperative", "aggressive"]).optional(),
});

const bulkheadDefaults = z.strictObject({
  maxConcurrent: integer(1).optional(),
  maxQueue: integer(0).optional(),
  queueTimeoutMs: durationMs(0).optional(),
  pollMs: durationMs(0).optional(),
});

const rateLimiterDefaults = z.strictObject({
  rate: positiveNumber().optional(),
  perMs: durationMs(0, true).optional(),
  burst: positiveNumber(1, true).optional(),
  maxKeys: integer(1).optional(),
});

const shutdownDefaults = z.strictObject({
  timeoutMs: durationMs(0, true).optional(),
  forceExitCode: integer(0, 255).optional(),
});

const heartbeatDefaults = z.strictObject({
  intervalMs: durationMs(0, true).optional(),
  maxAgeMs: durationMs(0, true).optional(),
});

const watchdogDefaults = z.strictObject({
  timeoutMs: durationMs(0, true).optional(),
});

const schema = z.strictObject({
  circuitBreaker: circuitBreakerDefaults.optional(),
  retry: retryDefaults.optional(),
  timeout: timeoutDefaults.optional(),
  bulkhead: bulkheadDefaults.optional(),
  rateLimiter: rateLimiterDefaults.optional(),
  shutdown: shutdownDefaults.optional(),
  heartbeat: heartbeatDefaults.optional(),
  watchdog: watchdogDefaults.optional(),
});

/**
 * Process-wide defaults, one section per component. Every field optional.
 * Spelt out rather than inferred from the schema: JSR rejects inferred
 * ("slow") types in the public API. `inSync` below fails to compile if the
 * two drift apart.
 */
export interface Defaults {
  circuitBreaker?: {
    maxFailures?: number;
    resetTimeoutMs?: number;
    halfOpenMaxCalls?: number;
    successThreshold?: number;
    failureRateThreshold?: number;
    minimumThroughput?: number;
    slowCallDurationMs?: number;
    slowCallRateThreshold?: number;
  };
  retry?: {
    maxAttempts?: number;
    backoff?: "constant" | "linear" | "exponential";
    baseDelayMs?: number;
    maxDelayMs?: number;
    maxElapsedMs?: number;
    multiplier?: number;
    jitter?: "none" | "full" | "equal" | "decorrelated";
  };
  timeout?: { timeoutMs?: number; strategy?: "cooperative" | "aggressive" };
  bulkhead?: { maxConcurrent?: number; maxQueue?: number; queueTimeoutMs?: number; pollMs?: number };
  rateLimiter?: { rate?: number; perMs?: number; burst?: number; maxKeys?: number };
  shutdown?: { timeoutMs?: number; forceExitCode?: number };
  heartbeat?: { intervalMs?: number; maxAgeMs?: number };
  watchdog?: { timeoutMs?: number };
}

type Parsed = z.output<typeof schema>;
const inSync: [Parsed, Defaults] extends [Defaults, Parsed] ? true : never = true;

/** Schema of the whole defaults object accepted by {@link configure}. */
export const defaultsSchema: z.ZodType<Defaults> = schema;

/** Names of the sections of {@link Defaults}. */
export type DefaultsSection = keyof Defaults;

/**
 * The built-in defaults: the bottom of the cascade. Durations in ms; the
 * seeds' values (`reset_timeout: 60` s becomes `resetTimeoutMs: 60_000`).
 */
export const builtInDefaults: {
  readonly [S in DefaultsSection]-?: Readonly<Required<NonNullable<Defaults[S]>>>;
} = {
  circuitBreaker: {
    maxFailures: 5,
    resetTimeoutMs: 60_000,
    halfOpenMaxCalls: 1,
    successThreshold: 1,
    failureRateThreshold: 0.5,
    minimumThroughput: 10,
    slowCallDurationMs: 60_000,
    slowCallRateThreshold: 1,
  },
  retry: {
    maxAttempts: 3,
    backoff: "exponential",
    baseDelayMs: 100,
    maxDelayMs: 30_000,
    maxElapsedMs: Number.MAX_SAFE_INTEGER,
    multiplier: 2,
    jitter: "full",
  },
  timeout: { timeoutMs: 30_000, strategy: "cooperative" },
  bulkhead: { maxConcurrent: 10, maxQueue: 0, queueTimeoutMs: 0, pollMs: 0 },
  // `burst` follows `rate` unless configured: a bucket holds one period's worth.
  rateLimiter: { rate: 10, perMs: 1_000, burst: 10, maxKeys: 100_000 },
  shutdown: { timeoutMs: 30_000, forceExitCode: 1 },
  heartbeat: { intervalMs: 10_000, maxAgeMs: 30_000 },
  watchdog: { timeoutMs: 30_000 },
};

let configured: Defaults = {};

/**
 * Sets process-wide defaults for components constructed afterwards.
 * Replaces the previous `configure()` call as a whole (call with `{}` to go
 * back to the built-in defaults). A bad value throws {@link ConfigError}
 * naming every bad field, and leaves the previous defaults untouched.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, configure } from "bulwark";
 * configure({ circuitBreaker: { maxFailures: 3 } });
 * const breaker = new CircuitBreaker();
 * configure({});
 * if (breaker.options.maxFailures !== 3) throw new Error("cascade broken");
 * ```
 */
export function configure(defaults: Defaults): void {
  const parsed = validate("configure()", defaultsSchema, defaults);
  configured = structuredClone(parsed);
  defaultsChanged();
}

/** The defaults set by the last {@link configure} call (a copy). */
export function getConfiguration(): Defaults {
  return structuredClone(configured);
}

/**
 * Built-in defaults overlaid with {@link configure}'s, for one section.
 * Components spread constructor options over this.
 */
export function defaultsFor<S extends DefaultsSection>(
  section: S,
): Required<NonNullable<Defaults[S]>> {
  return { ...builtInDefaults[section], ...configured[section] } as unknown as Required<
    NonNullable<Defaults[S]>
  >;
}
