/**
 * The built-in defaults, one constant per section (`builtInDefaults` in
 * config.ts is made of them). A component reads its own section's constant
 * (through `sharedDefaults`), so a bundle carries the defaults of the
 * components it uses, not every section's.
 *
 * Durations in ms; the seeds' values (`reset_timeout: 60` s becomes
 * `resetTimeoutMs: 60_000`).
 *
 * @module
 */

export const BREAKER_DEFAULTS = {
  maxFailures: 5,
  resetTimeoutMs: 60_000,
  halfOpenMaxCalls: 1,
  halfOpenMaxWaitMs: 60_000,
  successThreshold: 1,
  failureRateThreshold: 0.5,
  minimumThroughput: 10,
  slowCallDurationMs: 60_000,
  slowCallRateThreshold: 1,
  // For breakers given a `store` (shared.ts); the others carry them unused.
  refreshMs: 1_000,
  storeTimeoutMs: 1_000,
  quorum: 1,
  quorumWindowMs: 60_000,
  bestEffort: false,
} as const;

export const RETRY_DEFAULTS = {
  maxAttempts: 3,
  backoff: "exponential",
  baseDelayMs: 100,
  maxDelayMs: 30_000,
  // Number.MAX_SAFE_INTEGER, spelled out: a bundler cannot tell that reading
  // it has no side effect, and would keep this object in every bundle.
  maxElapsedMs: 9_007_199_254_740_991,
  multiplier: 2,
  jitter: "full",
} as const;

export const TIMEOUT_DEFAULTS = { timeoutMs: 30_000, strategy: "cooperative" } as const;

export const BULKHEAD_DEFAULTS = { maxConcurrent: 10, maxQueue: 0, queueTimeoutMs: 0, pollMs: 0 } as const;

// `burst` follows `rate` unless configured: a bucket holds one period's
// worth. `wakeMode` is "self" on Cloudflare Workers unless configured.
export const RATE_LIMITER_DEFAULTS = { rate: 10, perMs: 1_000, burst: 10, maxKeys: 100_000, wakeMode: "handover" } as const;

export const SHUTDOWN_DEFAULTS = { timeoutMs: 30_000, forceExitCode: 1 } as const;

export const HEARTBEAT_DEFAULTS = { intervalMs: 10_000, maxAgeMs: 30_000 } as const;

export const WATCHDOG_DEFAULTS = { timeoutMs: 30_000 } as const;
