/**
 * Option validation: zod schemas whose error message is the "what is allowed"
 * phrase, and one function that turns zod's issues into a {@link ConfigError}.
 * Validation runs once, at construction; never on a hot path.
 *
 * The schemas are `zod/mini` ones, which a bundler tree-shakes down to the
 * few checks used (classic `zod` costs ~90 KB gzipped in every bundle). A
 * module builds its schemas with {@link lazy} on first use, never at import:
 * importing the package costs no schema construction.
 *
 * @module
 */
import * as z from "zod/mini";
import type { Clock } from "./clock.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";

/** Any zod/mini schema. */
export type Schema<T = unknown> = z.ZodMiniType<T>;

/** An object schema's fields, for schemas built from shared parts. */
export type Shape = Record<string, z.ZodMiniType>;

/**
 * `build()` on the first call, the same value on every later one: schemas
 * built on first construction rather than at import time.
 */
export function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

/**
 * A value that passes `test`, with `allowed` as the message. Where a plain
 * predicate says it all (a boolean, a function, one of a few strings), this
 * is all of zod a bundle needs, rather than one zod schema class per type.
 */
export function satisfying<T>(test: (value: unknown) => boolean, allowed: string): z.ZodMiniType<T> {
  return z.custom<T>(test, { error: allowed });
}

/**
 * True for a plain object (an object literal, or one without a prototype):
 * what zod's `record` accepts. Class instances and arrays are not.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || Object.prototype.hasOwnProperty.call(prototype, "isPrototypeOf");
}

/** A finite integer in `[min, max]`. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): z.ZodMiniType<number> {
  const allowed = max === Number.MAX_SAFE_INTEGER
    ? `an integer >= ${min}`
    : `an integer from ${min} to ${max}`;
  // A refinement rather than z.int(): the same check, without zod's number formats in every bundle.
  return z.number({ error: allowed }).check(
    z.refine(Number.isInteger, { error: allowed }),
    z.minimum(min, { error: allowed }),
    z.maximum(max, { error: allowed }),
  );
}

/** A finite number of milliseconds, `>= min` (or `> min` when `exclusive`). */
export function durationMs(min = 0, exclusive = false): z.ZodMiniType<number> {
  const allowed = `a finite number of milliseconds ${exclusive ? ">" : ">="} ${min}`;
  return z.number({ error: allowed }).check(exclusive ? z.gt(min, { error: allowed }) : z.minimum(min, { error: allowed }));
}

/** A finite number `> min` (or `>= min` when `inclusive`). */
export function positiveNumber(min = 0, inclusive = false): z.ZodMiniType<number> {
  const allowed = `a finite number ${inclusive ? ">=" : ">"} ${min}`;
  return z.number({ error: allowed }).check(inclusive ? z.minimum(min, { error: allowed }) : z.gt(min, { error: allowed }));
}

/** A fraction in `(0, 1]` (or `[0, 1]` when `allowZero`). */
export function fraction(allowZero = false): z.ZodMiniType<number> {
  const allowed = allowZero ? "a number from 0 to 1" : "a number greater than 0 and at most 1";
  return z.number({ error: allowed }).check(
    z.maximum(1, { error: allowed }),
    allowZero ? z.minimum(0, { error: allowed }) : z.gt(0, { error: allowed }),
  );
}

/** One of the given string literals. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodMiniType<T[number]> {
  const allowed = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  // A custom check rather than z.enum(): the same test, and less of zod in every bundle.
  return satisfying<T[number]>((value) => values.includes(value as string), allowed);
}

/** Any function. The type parameter only shapes the parsed output. */
export function func<F extends (...args: never[]) => unknown>(): z.ZodMiniType<F> {
  return satisfying<F>((value) => typeof value === "function", "a function");
}

/** A non-empty string. */
export function name(): z.ZodMiniType<string> {
  return satisfying<string>((value) => typeof value === "string" && value.length > 0, "a non-empty string");
}

/** A boolean. */
export function boolean(): z.ZodMiniType<boolean> {
  return satisfying<boolean>((value) => typeof value === "boolean", "a boolean");
}

/** An object with the {@link Clock} methods. */
export function clock(): z.ZodMiniType<Clock> {
  return z.custom<Clock>(
    (value) =>
      typeof value === "object" && value !== null &&
      typeof (value as Clock).now === "function" &&
      typeof (value as Clock).wallNow === "function" &&
      typeof (value as Clock).sleep === "function" &&
      typeof (value as Clock).schedule === "function",
    { error: "a Clock (an object with now, wallNow, sleep and schedule)" },
  );
}

/** An `AbortSignal` (checked by shape, so signals from any realm pass). */
export function abortSignal(): z.ZodMiniType<AbortSignal> {
  return z.custom<AbortSignal>(
    (value) =>
      typeof value === "object" && value !== null &&
      typeof (value as AbortSignal).aborted === "boolean" &&
      typeof (value as AbortSignal).addEventListener === "function",
    { error: "an AbortSignal" },
  );
}

/** A list of error classes (constructors). */
export function errorClasses(): z.ZodMiniType<ReadonlyArray<abstract new (...args: never[]) => unknown>> {
  return z.array(func<never>(), { error: "an array of error classes" }) as unknown as z.ZodMiniType<
    ReadonlyArray<abstract new (...args: never[]) => unknown>
  >;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(
        row[j]! + 1,
        row[j - 1]! + 1,
        diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The known key closest to `key`, if it is close enough to be a typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The definition zod keeps on every schema, classic or mini: enough to walk an object's fields. */
interface Def {
  readonly type: string;
  readonly shape?: Record<string, { readonly _zod: { readonly def: Def } }>;
  readonly innerType?: { readonly _zod: { readonly def: Def } };
}

function knownKeysAt(schema: Schema, path: readonly PropertyKey[]): string[] {
  let current: Def | undefined = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const unwrap = (): void => {
    while (current?.innerType !== undefined && (current.type === "optional" || current.type === "default")) {
      current = current.innerType._zod.def;
    }
  };
  unwrap();
  for (const key of path) {
    current = current?.shape?.[String(key)]?._zod.def;
    unwrap();
  }
  return current?.shape ? Object.keys(current.shape) : [];
}

/** Converts zod issues to {@link ConfigIssue}s, one per bad field. */
export function toConfigIssues(
  schema: Schema,
  input: unknown,
  issues: readonly z.core.$ZodIssue[],
  prefix = "",
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    const path = issue.path;
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, path);
      for (const key of issue.keys) {
        const field = prefix + [...path, key].join(".");
        if (seen.has(field)) continue;
        seen.add(field);
        const guess = closestKey(key, known);
        out.push({
          field,
          value: valueAt(input, [...path, key]),
          allowed: guess === undefined
            ? `a known option (one of ${known.join(", ")})`
            : `a known option (did you mean '${prefix}${[...path, guess].join(".")}'?)`,
        });
      }
      continue;
    }
    const field = prefix + (path.length === 0 ? "(options)" : path.join("."));
    if (seen.has(field)) continue;
    seen.add(field);
    out.push({ field, value: valueAt(input, path), allowed: issue.message });
  }
  return out;
}

/**
 * Parses `input` with `schema`; on failure throws a {@link ConfigError} that
 * names every bad field of `target`.
 */
export function validate<S extends Schema>(target: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(target, toConfigIssues(schema, input, result.error.issues));
}
