/**
 * Option schemas and argument checks shared by the rate limiters. Internal:
 * not re-exported from the package entry.
 *
 * @module
 */
import { RATE_LIMITER_DEFAULTS } from "../internal/built_in_defaults.ts";
import { sharedDefaults } from "../internal/defaults.ts";
import { InvalidArgumentError } from "../errors.ts";
import { badOptions, badSignal } from "../internal/arguments.ts";
import { configuredSection } from "../internal/configured.ts";
import { onWorkers } from "../internal/runtime.ts";
import {
  boolean,
  clock,
  durationMs,
  integer,
  lazy,
  name,
  object,
  oneOf,
  optional,
  positiveNumber,
  satisfying,
  type Schema,
  type Shape,
  strictObject,
  validate,
} from "../validation.ts";
import type { AlgorithmName, RateLimitAlgorithm } from "./algorithm.ts";
import type { AcquireOptions, WakeMode } from "./limiter.ts";

// Shapes and schemas are built on first use (see `lazy`), never at import.

/** Options of the rate-based algorithms (token bucket, GCRA). */
export const bucketShape = /* @__PURE__ */ lazy(() => ({
  rate: optional(positiveNumber()),
  perMs: optional(durationMs(0, true)),
  burst: optional(positiveNumber(1, true)),
}));

/** Options of the window-based algorithms. */
export const windowShape = /* @__PURE__ */ lazy(() => ({
  limit: integer(1),
  windowMs: durationMs(0, true),
}));

/** Options every in-process limiter takes. */
export const limiterShape = /* @__PURE__ */ lazy(() => ({
  name: optional(name()),
  clock: optional(clock()),
  wakeMode: optional(oneOf(["handover", "self"])),
}));

/**
 * The wake mode in force: the one given, else `configure({ rateLimiter })`'s,
 * else `"self"` on Cloudflare Workers and `"handover"` elsewhere. Read at
 * construction, never at import.
 */
export function wakeModeOf(given: WakeMode | undefined): WakeMode {
  return given ?? configuredSection("rateLimiter")?.wakeMode ?? (onWorkers() ? "self" : "handover");
}

const algorithmName = /* @__PURE__ */ lazy(() => oneOf(["token-bucket", "gcra", "sliding-window", "fixed-window"]));
const algorithmField = /* @__PURE__ */ lazy(() => object({ algorithm: algorithmName() }));
const bucketSchema = /* @__PURE__ */ lazy(() => strictObject(bucketShape()));

/** The schema of the window-based algorithms' options. */
export const windowSchema = /* @__PURE__ */ lazy(() => strictObject(windowShape()));
const algorithmSchemas = new Map<AlgorithmName, Schema>();

/**
 * The zod shape of `algorithm`'s options, for components (keyed limiters,
 * store-backed limiters) that validate them alongside their own.
 */
export function algorithmShape(algorithm: AlgorithmName): Shape {
  switch (algorithm) {
    case "token-bucket":
    case "gcra":
      return { algorithm: algorithmName(), ...bucketShape(), ...othersOf(algorithm, ["limit", "windowMs"]) };
    case "sliding-window":
      return { algorithm: algorithmName(), ...windowShape(), approximate: optional(boolean()), ...othersOf(algorithm, ["rate", "perMs", "burst"]) };
    case "fixed-window":
      return { algorithm: algorithmName(), ...windowShape(), ...othersOf(algorithm, ["rate", "perMs", "burst"]) };
  }
}

/**
 * The other family's options, refused with a message naming the algorithm in
 * force: `{ limit, windowMs }` without `algorithm` is the default token
 * bucket's, and "not a known option" sent users looking for a typo.
 */
function othersOf(algorithm: AlgorithmName, fields: readonly string[]): Shape {
  const bucket = algorithm === "token-bucket" || algorithm === "gcra";
  const allowed = bucket
    ? `given only with algorithm "fixed-window" or "sliding-window" (algorithm "${algorithm}"${
      algorithm === "token-bucket" ? ", the default," : ""
    } takes rate, perMs and burst)`
    : `given only with algorithm "token-bucket" or "gcra" (algorithm "${algorithm}" takes limit and windowMs)`;
  const refused = optional(satisfying<never>(() => false, allowed));
  const shape: Shape = {};
  for (const field of fields) shape[field] = refused;
  return shape;
}

/** The strict schema of `algorithm`'s options alone, built once per algorithm. */
export function algorithmSchema(algorithm: AlgorithmName): Schema {
  let schema = algorithmSchemas.get(algorithm);
  if (schema === undefined) algorithmSchemas.set(algorithm, schema = strictObject(algorithmShape(algorithm)));
  return schema;
}

/** Reads and checks the `algorithm` field of `options`. */
export function algorithmOf(target: string, options: unknown): AlgorithmName {
  return validate(target, algorithmField(), options).algorithm;
}

/** Resolved parameters of a rate-based algorithm. */
export interface BucketParams {
  readonly rate: number;
  readonly perMs: number;
  readonly burst: number;
}

/**
 * Validates rate-based options and applies the cascade: given options >
 * `configure({ rateLimiter })` > built-in defaults. `burst` defaults to
 * `rate` (at least 1, so a slow rate still admits single calls), as in the
 * seeds, unless a default burst was configured.
 */
export function bucketParams(target: string, input: unknown): BucketParams {
  const given = validate(target, bucketSchema(), input ?? {});
  const defaults = sharedDefaults("rateLimiter", RATE_LIMITER_DEFAULTS);
  const rate = given.rate ?? defaults.rate;
  return {
    rate,
    perMs: given.perMs ?? defaults.perMs,
    burst: given.burst ?? configuredSection("rateLimiter")?.burst ?? Math.max(1, rate),
  };
}

/**
 * A refusal's wait, at least 1 ns. The exact wait can round to a vanishing
 * number, and a caller adding it to a large `now` would not move at all; a
 * nanosecond more buys far more than any rounding error.
 */
export function positiveWait(wait: number): number {
  return wait > 1e-6 ? wait : 1e-6;
}

/**
 * The error for a `cost` that is not a finite number > 0 the algorithm can
 * ever admit (waiting for the impossible would hang forever), or
 * `undefined` when it is fine. One rule for `acquire({ cost })`,
 * `tryAcquire(cost)`, `consume(cost)` and `timeUntilAvailable(cost)`:
 * `undefined` means 1, anything else must be such a number (`null` too is
 * refused). Callers skip it on the `cost === 1` fast path.
 */
export function badCost(
  owner: string,
  method: string,
  algorithm: RateLimitAlgorithm,
  cost: unknown,
  argument = "cost",
): InvalidArgumentError | undefined {
  const limit = algorithm.limit;
  if (typeof cost !== "number" || !(cost > 0) || !Number.isFinite(cost)) {
    return new InvalidArgumentError(`${owner}.${method}`, argument, cost, `a finite number > 0 (at most ${limit})`);
  }
  if (algorithm.wholeUnits && !Number.isInteger(cost)) {
    return new InvalidArgumentError(
      `${owner}.${method}`,
      argument,
      cost,
      `a whole number for the sliding-window log (at most ${limit})`,
    );
  }
  if (cost > limit) {
    return new InvalidArgumentError(
      `${owner}.${method}`,
      argument,
      cost,
      `at most the ${algorithm.kind} limit of ${limit} (more can never be admitted)`,
    );
  }
  return undefined;
}

/**
 * The error for a bad argument of `acquire(options)`: options that are not an
 * object (`acquire(2000)`), or a bad `cost`, `timeoutMs` or `signal` in them;
 * `undefined` when all is fine. Checked before anything is queued.
 */
export function badAcquire(
  owner: string,
  method: string,
  algorithm: RateLimitAlgorithm,
  options: AcquireOptions | undefined,
): InvalidArgumentError | undefined {
  if (options === undefined) return undefined;
  const error = badOptions(`${owner}.${method}`, options);
  if (error !== undefined) return error;
  const { cost, timeoutMs, signal } = options;
  if (cost !== undefined && cost !== 1) {
    const bad = badCost(owner, method, algorithm, cost, "options.cost");
    if (bad !== undefined) return bad;
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs >= 0))) {
    return new InvalidArgumentError(
      `${owner}.${method}`,
      "options.timeoutMs",
      timeoutMs,
      "a number of ms >= 0 or undefined",
    );
  }
  return badSignal(`${owner}.${method}`, signal, "options.signal");
}

/** The error for a rate-limit key that is not a string, or `undefined` when it is one. */
export function badKey(owner: string, method: string, key: unknown): InvalidArgumentError | undefined {
  return typeof key === "string" ? undefined : new InvalidArgumentError(`${owner}.${method}`, "key", key, "a string");
}
