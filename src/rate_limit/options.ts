/**
 * Option schemas and argument checks shared by the rate limiters. Internal:
 * not re-exported from the package entry.
 *
 * @module
 */
import * as z from "zod/mini";
import { defaultsFor } from "../config.ts";
import { configuredSection } from "../internal/configured.ts";
import { boolean, clock, durationMs, integer, lazy, name, oneOf, positiveNumber, type Shape, validate } from "../validation.ts";
import type { AlgorithmName, RateLimitAlgorithm } from "./algorithm.ts";

// Shapes and schemas are built on first use (see `lazy`), never at import.

/** Options of the rate-based algorithms (token bucket, GCRA). */
export const bucketShape = /* @__PURE__ */ lazy(() => ({
  rate: z.optional(positiveNumber()),
  perMs: z.optional(durationMs(0, true)),
  burst: z.optional(positiveNumber(1, true)),
}));

/** Options of the window-based algorithms. */
export const windowShape = /* @__PURE__ */ lazy(() => ({
  limit: integer(1),
  windowMs: durationMs(0, true),
}));

/** Options every in-process limiter takes. */
export const limiterShape = /* @__PURE__ */ lazy(() => ({
  name: z.optional(name()),
  clock: z.optional(clock()),
}));

const algorithmName = /* @__PURE__ */ lazy(() => oneOf(["token-bucket", "gcra", "sliding-window", "fixed-window"]));
const algorithmField = /* @__PURE__ */ lazy(() => z.object({ algorithm: algorithmName() }));
const bucketSchema = /* @__PURE__ */ lazy(() => z.strictObject(bucketShape()));

/** The schema of the window-based algorithms' options. */
export const windowSchema = /* @__PURE__ */ lazy(() => z.strictObject(windowShape()));
const algorithmSchemas = new Map<AlgorithmName, z.ZodMiniObject>();

/**
 * The zod shape of `algorithm`'s options, for components (keyed limiters,
 * store-backed limiters) that validate them alongside their own.
 */
export function algorithmShape(algorithm: AlgorithmName): Shape {
  switch (algorithm) {
    case "token-bucket":
    case "gcra":
      return { algorithm: algorithmName(), ...bucketShape() };
    case "sliding-window":
      return { algorithm: algorithmName(), ...windowShape(), approximate: z.optional(boolean()) };
    case "fixed-window":
      return { algorithm: algorithmName(), ...windowShape() };
  }
}

/** The strict schema of `algorithm`'s options alone, built once per algorithm. */
export function algorithmSchema(algorithm: AlgorithmName): z.ZodMiniObject {
  let schema = algorithmSchemas.get(algorithm);
  if (schema === undefined) algorithmSchemas.set(algorithm, schema = z.strictObject(algorithmShape(algorithm)));
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
  const defaults = defaultsFor("rateLimiter");
  const rate = given.rate ?? defaults.rate;
  return {
    rate,
    perMs: given.perMs ?? defaults.perMs,
    burst: given.burst ?? configuredSection("rateLimiter")?.burst ?? Math.max(1, rate),
  };
}

/**
 * Throws a `RangeError` unless `cost` is a positive finite number the
 * algorithm can ever admit: waiting for the impossible would hang forever.
 * Called off the `cost === 1` fast path only.
 */
export function checkCost(algorithm: RateLimitAlgorithm, cost: number): void {
  if (typeof cost !== "number" || !(cost > 0) || !Number.isFinite(cost)) {
    throw new RangeError(`cost must be a finite number > 0: current value is ${String(cost)}`);
  }
  if (algorithm.wholeUnits && !Number.isInteger(cost)) {
    throw new RangeError(`cost must be a whole number for the sliding-window log: current value is ${cost}`);
  }
  if (cost > algorithm.limit) {
    throw new RangeError(
      `cost ${cost} exceeds the ${algorithm.kind} limit of ${algorithm.limit}: it can never be admitted`,
    );
  }
}

/**
 * A refusal's wait, at least 1 ns. The exact wait can round to a vanishing
 * number, and a caller adding it to a large `now` would not move at all; a
 * nanosecond more buys far more than any rounding error.
 */
export function positiveWait(wait: number): number {
  return wait > 1e-6 ? wait : 1e-6;
}

/** Throws a `RangeError` unless `timeoutMs` is undefined or a number >= 0. */
export function checkTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs >= 0))) {
    throw new RangeError(`timeoutMs must be a number of milliseconds >= 0: current value is ${String(timeoutMs)}`);
  }
}
