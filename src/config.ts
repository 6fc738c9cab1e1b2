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
import type * as z from "zod/mini";
import { ConfigError } from "./errors.ts";
import { badOptions, throwIf } from "./internal/arguments.ts";
import { configuredDefaults, configuredSection, setConfigured } from "./internal/configured.ts";
import {
  boolean,
  durationMs,
  fraction,
  integer,
  lazy,
  oneOf,
  optional,
  positiveNumber,
  type Schema,
  type Shape,
  strictObject,
  validate,
} from "./validation.ts";
import { defaultsChanged } from "./internal/forms.ts";
import {
  BREAKER_DEFAULTS,
  BULKHEAD_DEFAULTS,
  HEARTBEAT_DEFAULTS,
  RATE_LIMITER_DEFAULTS,
  RETRY_DEFAULTS,
  SHUTDOWN_DEFAULTS,
  TIMEOUT_DEFAULTS,
  WATCHDOG_DEFAULTS,
} from "./internal/built_in_defaults.ts";

/** A strict object of optional fields: every section, and the whole, is partial. */
function section<S extends Shape>(shape: S) {
  const fields = {} as { [K in keyof S]: z.core.$ZodOptional<S[K]> };
  for (const key in shape) fields[key] = optional(shape[key]!);
  return strictObject(fields, "an object");
}

function buildSchema() {
  return section({
    circuitBreaker: section({
      maxFailures: integer(1),
      resetTimeoutMs: durationMs(0),
      halfOpenMaxCalls: integer(1),
      halfOpenMaxWaitMs: durationMs(0, true),
      successThreshold: integer(1),
      failureRateThreshold: fraction(),
      minimumThroughput: integer(1),
      slowCallDurationMs: durationMs(0, true),
      slowCallRateThreshold: fraction(),
      // A shared breaker's tuning (the same rules as the constructor's).
      // Not `store` (a default store would make every breaker of the
      // process shared, the ones no one meant to share included) nor
      // `waitUntil` (a function, per request on Workers): neither is a
      // plain JSON value, and both are given where the breaker is made.
      refreshMs: durationMs(0, true),
      storeTimeoutMs: durationMs(0, true),
      quorum: integer(1, 1_000),
      quorumWindowMs: durationMs(0, true),
      bestEffort: boolean(),
    }),
    retry: section({
      maxAttempts: integer(1),
      backoff: oneOf(["constant", "linear", "exponential"]),
      baseDelayMs: durationMs(0),
      maxDelayMs: durationMs(0),
      maxElapsedMs: durationMs(0, true),
      multiplier: positiveNumber(1, true),
      jitter: oneOf(["none", "full", "equal", "decorrelated"]),
    }),
    timeout: section({
      timeoutMs: durationMs(0, true),
      strategy: oneOf(["cooperative", "aggressive"]),
    }),
    bulkhead: section({
      maxConcurrent: integer(1),
      maxQueue: integer(0),
      queueTimeoutMs: durationMs(0),
      pollMs: durationMs(0),
    }),
    rateLimiter: section({
      rate: positiveNumber(),
      perMs: durationMs(0, true),
      burst: positiveNumber(1, true),
      maxKeys: integer(1),
      wakeMode: oneOf(["handover", "self"]),
    }),
    shutdown: section({
      timeoutMs: durationMs(0, true),
      forceExitCode: integer(0, 255),
    }),
    heartbeat: section({
      intervalMs: durationMs(0, true),
      maxAgeMs: durationMs(0, true),
    }),
    watchdog: section({
      timeoutMs: durationMs(0, true),
    }),
  });
}

/** Built on the first `configure()`, not at import. */
const schema = /* @__PURE__ */ lazy(buildSchema);

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
    halfOpenMaxWaitMs?: number;
    successThreshold?: number;
    failureRateThreshold?: number;
    minimumThroughput?: number;
    slowCallDurationMs?: number;
    slowCallRateThreshold?: number;
    /** For breakers given a `store` only (others ignore it): see `CircuitBreakerOptions.refreshMs`. */
    refreshMs?: number;
    /** For breakers given a `store` only: see `CircuitBreakerOptions.storeTimeoutMs`. */
    storeTimeoutMs?: number;
    /** For breakers given a `store` only: see `CircuitBreakerOptions.quorum`. */
    quorum?: number;
    /** For breakers given a `store` only, with a quorum: see `CircuitBreakerOptions.quorumWindowMs`. */
    quorumWindowMs?: number;
    /** For breakers given a `store` only: see `CircuitBreakerOptions.bestEffort`. */
    bestEffort?: boolean;
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
  rateLimiter?: {
    rate?: number;
    perMs?: number;
    burst?: number;
    maxKeys?: number;
    wakeMode?: "handover" | "self";
  };
  shutdown?: { timeoutMs?: number; forceExitCode?: number };
  heartbeat?: { intervalMs?: number; maxAgeMs?: number };
  watchdog?: { timeoutMs?: number };
}

type Parsed = z.output<ReturnType<typeof buildSchema>>;
const inSync: [Parsed, Defaults] extends [Defaults, Parsed] ? true : never = true;

/**
 * Checks a whole defaults object, as {@link configure} takes it, without
 * applying it; returns it parsed. `source` names where it came from in the
 * error (a config file's path, say). Anything but a plain object throws
 * {@link ConfigError} naming `(defaults)`; a bad value, one naming every bad
 * field.
 *
 * @example
 * ```ts
 * import { ConfigError, validateDefaults } from "bulwark";
 * validateDefaults({ retry: { maxAttempts: 5 } });
 * let error: unknown;
 * try {
 *   validateDefaults({ retry: { maxAttempts: 0 } }, "bulwark.config.json");
 * } catch (e) {
 *   error = e;
 * }
 * if (!(error instanceof ConfigError) || error.issues[0]?.field !== "retry.maxAttempts") throw new Error("should refuse");
 * ```
 */
export function validateDefaults(input: unknown, source = "configure()"): Defaults {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError(source, [{ field: "(defaults)", value: input, allowed: "an object of defaults" }]);
  }
  return validate(source, schema() as Schema<Defaults>, input);
}

/** Names of the sections of {@link Defaults}. */
export type DefaultsSection = keyof Defaults;

/**
 * The built-in defaults: the bottom of the cascade. Durations in ms; the
 * seeds' values (`reset_timeout: 60` s becomes `resetTimeoutMs: 60_000`).
 */
export const builtInDefaults: {
  readonly [S in DefaultsSection]-?: Readonly<Required<NonNullable<Defaults[S]>>>;
} = {
  circuitBreaker: BREAKER_DEFAULTS,
  retry: RETRY_DEFAULTS,
  timeout: TIMEOUT_DEFAULTS,
  bulkhead: BULKHEAD_DEFAULTS,
  rateLimiter: RATE_LIMITER_DEFAULTS,
  shutdown: SHUTDOWN_DEFAULTS,
  heartbeat: HEARTBEAT_DEFAULTS,
  watchdog: WATCHDOG_DEFAULTS,
};

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
  throwIf(badOptions("configure", defaults, "defaults"));
  const parsed = validateDefaults(defaults ?? {});
  setConfigured(structuredClone(parsed));
  defaultsChanged();
}

/** The defaults set by the last {@link configure} call (a copy). */
export function getConfiguration(): Defaults {
  return structuredClone(configuredDefaults());
}

/**
 * Built-in defaults overlaid with {@link configure}'s, for one section.
 * Components spread constructor options over this.
 */
export function defaultsFor<S extends DefaultsSection>(
  section: S,
): Required<NonNullable<Defaults[S]>> {
  return { ...builtInDefaults[section], ...configuredSection(section) } as unknown as Required<
    NonNullable<Defaults[S]>
  >;
}
