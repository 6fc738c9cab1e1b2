/**
 * Option validation: zod schemas whose error message is the "what is allowed"
 * phrase, and one function that turns zod's issues into a {@link ConfigError}.
 * Validation runs once, at construction; never on a hot path.
 *
 * The schemas are zod 4's own custom schemas, built from `zod/v4/core` (the
 * classes `zod/mini` builds on, see `custom` below), which a bundler
 * tree-shakes down to the few pieces used (classic `zod` costs ~90 KB
 * gzipped in every bundle). Schemas from `zod/mini` mix with them: an
 * adapter's own options may be any zod schema. A
 * module builds its schemas with {@link lazy} on first use, never at import:
 * importing the package costs no schema construction.
 *
 * @module
 */
import type * as z from "zod/mini";
import * as core from "zod/v4/core";
import type { Clock } from "./clock.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";

/** Any zod/mini schema. */
export type Schema<T = unknown> = core.$ZodType<T>;

/** An object schema's fields, for schemas built from shared parts. */
export type Shape = Record<string, core.$ZodType>;

/**
 * zod's custom schema (`z.custom(test, { error: allowed })`, followed by
 * `.check(check)` when given), built from zod's core rather than `zod/mini`:
 * the same schema class, verdict and issues, without the mini classes'
 * methods (`parse`, `parseAsync`, `clone`, ... and what they pull in),
 * which every bundle carried and no code here calls. Parsed with
 * `parse`, zod's own `safeParse` function.
 */
function custom<T>(
  test: (value: unknown) => boolean,
  allowed?: string,
  check?: (payload: core.ParsePayload) => void,
): core.$ZodType<T> {
  const checks: core.$ZodCheck[] = [];
  if (check !== undefined) {
    const ch = new core.$ZodCheck({ check: "custom" });
    ch._zod.check = check;
    checks.push(ch);
  }
  return new core.$ZodCustom({
    type: "custom",
    check: "custom",
    fn: test,
    abort: true,
    checks,
    ...(allowed === undefined ? {} : { error: () => allowed }),
  }) as unknown as core.$ZodType<T>;
}

/**
 * A failed parse's `error` here: zod's issues, finalized by zod (messages
 * and paths as `safeParse` gives them), in a plain holder rather than
 * zod's `$ZodError` class, whose formatting and prototype patching no code
 * here uses and every bundle carried. Only `error.issues` is ever read.
 */
class ParseIssues {
  declare readonly issues: core.$ZodIssue[];
  constructor(issues: core.$ZodIssue[]) {
    this.issues = issues;
  }
}

/** zod's `safeParse`, built by zod's own factory with {@link ParseIssues} as its error class. */
const zodSafeParse = /* @__PURE__ */ core._safeParse(ParseIssues as unknown as core.$ZodErrorClass);

/** zod's `safeParse(schema, value)`: for our schemas (see {@link custom}) and `zod/mini`'s alike. */
function parse(schema: Schema, value: unknown): ReturnType<typeof core.safeParse> {
  return zodSafeParse(schema as unknown as core.$ZodType, value);
}

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
export function satisfying<T>(test: (value: unknown) => boolean, allowed: string): core.$ZodType<T> {
  return withRule(custom<T>(test, allowed), rule(TEST, { test }));
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

/** A test that accepts only values the schema it belongs to accepts. */
type Predicate = (value: unknown) => boolean;

/**
 * The fast path of validation. Each helper below registers, beside its zod
 * schema, a rule accepting exactly what the schema accepts (or less);
 * {@link safeParse} checks the rules first and asks zod only when one says
 * no. A constructor given valid options (nearly always) then costs a few
 * comparisons instead of a zod parse, and a bad one still gets zod's issues:
 * zod's verdict is the one that stands.
 *
 * Rules are data of one shape, read by one function ({@link passes}), rather
 * than a closure each: a call site that sees many closures goes megamorphic,
 * and a 19-field options object then cost half a microsecond.
 */
interface Rule {
  readonly kind: typeof NUMBER | typeof FUNCTION | typeof TEST;
  /** `undefined` passes. */
  readonly optional: boolean;
  readonly integer: boolean;
  readonly min: number;
  readonly minInclusive: boolean;
  readonly max: number;
  readonly test: Predicate | undefined;
  /** An object schema's fields, for {@link safeParseOver}. */
  readonly fields: ObjectFields | undefined;
}

/** What {@link safeParseOver} needs of an object schema's rule. */
interface ObjectFields {
  readonly byName: ReadonlyMap<string, Rule>;
  readonly strict: boolean;
  /** The last `base` found valid: checked again only when another is given. */
  validBase: object | undefined;
}

const NUMBER = 0;
const FUNCTION = 1;
const TEST = 2;

/** Each schema's rule; `null` for a schema with no fast path. Filled on first use. */
const rules = new WeakMap<object, Rule | null>();

function rule(
  kind: Rule["kind"],
  { integer = false, min = -Infinity, minInclusive = true, max = Infinity, test, fields }: Partial<Rule> = {},
): Rule {
  return { kind, optional: false, integer, min, minInclusive, max, test, fields };
}

function withRule<S extends core.$ZodType>(schema: S, fast: Rule): S {
  rules.set(schema, fast);
  return schema;
}

function passes(fast: Rule, value: unknown): boolean {
  if (value === undefined) return fast.optional;
  switch (fast.kind) {
    case NUMBER:
      return typeof value === "number" &&
        (fast.integer ? Number.isInteger(value) : Number.isFinite(value)) &&
        (fast.minInclusive ? value >= fast.min : value > fast.min) &&
        value <= fast.max;
    case FUNCTION:
      return typeof value === "function";
    default:
      return fast.test!(value);
  }
}

/**
 * A number that passes `fast`, with `allowed` as the message. A `z.custom`
 * reading the same rule as the fast path, rather than `z.number()` with
 * `z.minimum()`/`z.gt()` checks: the same verdict (zod's numbers are finite
 * too; `tests/validation.test.ts` compares the two), with no zod number class
 * or check classes in any bundle.
 */
function number(fast: Rule, allowed: string): core.$ZodType<number> {
  return withRule(custom<number>((value) => passes(fast, value), allowed), fast);
}

/** A finite integer in `[min, max]`. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): core.$ZodType<number> {
  return number(
    rule(NUMBER, { integer: true, min, max }),
    max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`,
  );
}

/** A finite number of milliseconds, `>= min` (or `> min` when `exclusive`), at most `max`. */
export function durationMs(min = 0, exclusive = false, max = Infinity): core.$ZodType<number> {
  return number(
    rule(NUMBER, { min, minInclusive: !exclusive, max }),
    `a finite number of milliseconds ${exclusive ? ">" : ">="} ${min}`,
  );
}

/** A finite number `> min` (or `>= min` when `inclusive`). */
export function positiveNumber(min = 0, inclusive = false): core.$ZodType<number> {
  return number(rule(NUMBER, { min, minInclusive: inclusive }), `a finite number ${inclusive ? ">=" : ">"} ${min}`);
}

/** A fraction in `(0, 1]` (or `[0, 1]` when `allowZero`). */
export function fraction(allowZero = false): core.$ZodType<number> {
  return number(
    rule(NUMBER, { min: 0, minInclusive: allowZero, max: 1 }),
    allowZero ? "a number from 0 to 1" : "a number greater than 0 and at most 1",
  );
}

/** One of the given string literals. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T): core.$ZodType<T[number]> {
  const allowed = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  // A custom check rather than z.enum(): the same test, and less of zod in every bundle.
  return satisfying<T[number]>((value) => values.includes(value as string), allowed);
}

/** Any function. The type parameter only shapes the parsed output. */
export function func<F extends (...args: never[]) => unknown>(): core.$ZodType<F> {
  return withRule(custom<F>((value) => typeof value === "function", "a function"), rule(FUNCTION));
}

/** A non-empty string. */
export function name(): core.$ZodType<string> {
  return satisfying<string>((value) => typeof value === "string" && value.length > 0, "a non-empty string");
}

/** A boolean. */
export function boolean(): core.$ZodType<boolean> {
  return satisfying<boolean>((value) => typeof value === "boolean", "a boolean");
}

/** An object with the {@link Clock} methods. */
export function clock(): core.$ZodType<Clock> {
  return satisfying<Clock>(
    (value) =>
      typeof value === "object" && value !== null &&
      typeof (value as Clock).now === "function" &&
      typeof (value as Clock).wallNow === "function" &&
      typeof (value as Clock).sleep === "function" &&
      typeof (value as Clock).schedule === "function",
    "a Clock (an object with now, wallNow, sleep and schedule)",
  );
}

/** An `AbortSignal` (checked by shape, so signals from any realm pass). */
export function abortSignal(): core.$ZodType<AbortSignal> {
  return satisfying<AbortSignal>(
    (value) =>
      typeof value === "object" && value !== null &&
      typeof (value as AbortSignal).aborted === "boolean" &&
      typeof (value as AbortSignal).addEventListener === "function",
    "an AbortSignal",
  );
}

/**
 * An array whose every item passes `test`: `allowed` is the message when the
 * value is not an array, `itemAllowed` the one for a bad item, reported at
 * the item's index (`excludedErrors.1`), as `z.array` would. A check on
 * `z.custom` rather than `z.array`: one zod class fewer in every bundle.
 */
export function arrayOf<T>(test: (item: unknown) => boolean, itemAllowed: string, allowed: string): core.$ZodType<T[]> {
  return withRule(
    custom<T[]>(Array.isArray, allowed, (payload) => {
      if (!Array.isArray(payload.value)) return;
      payload.value.forEach((item: unknown, index: number) => {
        if (!test(item)) payload.issues.push({ code: "custom", message: itemAllowed, input: item, path: [index] });
      });
    }),
    rule(TEST, { test: (value) => Array.isArray(value) && value.every(test) }),
  );
}

/** A list of error classes (constructors). */
export function errorClasses(): core.$ZodType<ReadonlyArray<abstract new (...args: never[]) => unknown>> {
  return arrayOf((item) => typeof item === "function", "a function", "an array of error classes") as unknown as core.$ZodType<ReadonlyArray<abstract new (...args: never[]) => unknown>>;
}

/** Each {@link optional} schema's inner one. */
const optionals = new WeakMap<object, Schema>();

/**
 * `schema`, or `undefined` (zod's `z.optional`, without zod's optional class
 * in every bundle): an object schema, ours or zod's, skips the field when it
 * is absent (`optin`/`optout`, as zod's optional marks itself); a value
 * given is `schema`'s to judge, with its issues (their messages kept) and
 * its output.
 */
export function optional<S extends Schema>(schema: S): core.$ZodOptional<S> {
  const wrapper = custom(() => true, undefined, (payload) => {
    if (payload.value === undefined) return;
    const result = parse(schema, payload.value);
    if (result.success) payload.value = result.data;
    else payload.issues.push(...(result.error.issues as z.core.$ZodRawIssue[]));
  });
  wrapper._zod.optin = wrapper._zod.optout = "optional";
  optionals.set(wrapper, schema);
  return wrapper as unknown as core.$ZodOptional<S>;
}

/** The fields of an object schema built by {@link strictObject} or {@link object}. */
interface ObjectShape {
  readonly shape: Shape;
  /** Unknown keys are refused (else dropped from the output). */
  readonly strict: boolean;
}

const objectShapes = new WeakMap<object, ObjectShape>();

/** What zod's objects accept: any object but an array. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * An object schema with zod's verdict, issues and output, built on
 * `z.custom` rather than zod's object class (about 1.3 kB gzipped in every
 * bundle). As zod's object does: each field of `shape` is parsed from
 * `input[key]`, in the shape's order, its issues reported under its key; an
 * absent optional field is skipped; an absent required one that accepts
 * `undefined` is an issue of its own; unknown keys (`for…in`, as zod walks
 * them) are one `unrecognized_keys` issue if `strict`, else dropped; the
 * output is a new object of the fields given. `allowed` is the message when
 * the value is not an object (zod's default, "Invalid input", without it).
 */
function objectSchema<S extends Shape>(
  shape: S,
  strict: boolean,
  allowed: string | undefined,
): core.$ZodType<z.output<z.ZodMiniObject<S, z.core.$strict>>> {
  const keys = Object.keys(shape);
  const schema = custom<z.output<z.ZodMiniObject<S, z.core.$strict>>>(isObject, allowed, (payload) => {
    const input: unknown = payload.value;
    if (!isObject(input)) return;
    const output: Record<string, unknown> = {};
    for (const key of keys) {
      const field = shape[key]!;
      const present = key in input;
      const optional = field._zod.optin === "optional";
      if (!present && optional) continue;
      const result = parse(field, input[key]);
      if (!result.success) {
        for (const issue of result.error.issues) payload.issues.push({ ...issue, path: [key, ...issue.path] } as z.core.$ZodRawIssue);
      } else if (!present && field._zod.optin === undefined) {
        payload.issues.push(nonoptional(key));
        continue;
      }
      if (present || result.data !== undefined) output[key] = result.data;
    }
    if (strict) {
      const unknown: string[] = [];
      for (const key in input) if (!Object.prototype.hasOwnProperty.call(shape, key)) unknown.push(key);
      if (unknown.length > 0) payload.issues.push({ code: "unrecognized_keys", keys: unknown, input, path: [] });
    }
    payload.value = output as typeof payload.value;
  });
  objectShapes.set(schema, { shape, strict });
  return schema;
}

/**
 * The issue of an absent required field whose schema accepts `undefined`.
 * zod's object raises it with no schema of its own, so no schema's message
 * words it (zod's error maps do, else "Invalid input"). Raised from a
 * check, it would take the object's message: a schema without one keeps
 * zod from stamping it so.
 */
const NO_SCHEMA = { _zod: { def: {} } } as unknown as z.core.$ZodType;

function nonoptional(key: string): z.core.$ZodRawIssue {
  return { code: "invalid_type", expected: "nonoptional", input: undefined, path: [key], schema: NO_SCHEMA };
}

/**
 * An object with the fields of `shape` and no other key (zod's
 * `z.strictObject`, at a fraction of its size in a bundle).
 * `allowed` is the message when the value is not an object.
 */
export function strictObject<S extends Shape>(
  shape: S,
  allowed?: string,
): core.$ZodType<z.output<z.ZodMiniObject<S, z.core.$strict>>> {
  return objectSchema(shape, true, allowed);
}

/**
 * An object with (at least) the fields of `shape`; other keys are left out
 * of the output (zod's `z.object`). `allowed` is the message when the value
 * is not an object.
 */
export function object<S extends Shape>(
  shape: S,
  allowed?: string,
): core.$ZodType<z.output<z.ZodMiniObject<S, z.core.$strip>>> {
  return objectSchema(shape, false, allowed);
}

/** The object schema under `schema`'s optional wrappers, ours or zod's, if it is one. */
function objectOf(schema: Schema | undefined): ObjectShape | undefined {
  if (schema !== undefined) schema = optionals.get(schema) ?? schema;
  let def = (schema as unknown as { _zod: { def: Def } } | undefined)?._zod.def;
  while (def?.innerType !== undefined && (def.type === "optional" || def.type === "default")) {
    schema = def.innerType as unknown as Schema;
    def = def.innerType._zod.def;
  }
  if (schema === undefined) return undefined;
  const ours = objectShapes.get(schema);
  if (ours !== undefined || def?.shape === undefined) return ours;
  // zod's own objects (the keyed limiter's, the Hono adapters'): a strict one's catchall is `never`.
  return { shape: def.shape as unknown as Shape, strict: def.catchall?._zod.def.type === "never" };
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
  readonly catchall?: { readonly _zod: { readonly def: Def } };
}

function knownKeysAt(schema: Schema, path: readonly PropertyKey[]): string[] {
  let current: Schema | undefined = schema;
  for (const key of path) current = objectOf(current)?.shape[String(key)];
  return Object.keys(objectOf(current)?.shape ?? {});
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
 * The fast rule of an object schema: its field rules by name (a `Map`, one
 * lookup per key given), how many fields are required, and whether unknown
 * keys are refused (a strict object's catchall is `never`).
 *
 * It walks the object's own keys, not the schema's fields: an options
 * object gives a few of a breaker's 22 fields, and reading each absent one
 * (a missed lookup up the prototype chain) cost more than all the rest.
 * Only plain objects (literals: nearly every options object) are walked;
 * any other, and one with a property the walk cannot see (defined
 * non-enumerable) that zod would read (`input[field]`), goes to zod.
 */
function objectRule(names: readonly string[], fields: readonly Rule[], strict: boolean): Rule {
  const byName = new Map<string, Rule>();
  let required = 0;
  for (let i = 0; i < names.length; i++) {
    byName.set(names[i]!, fields[i]!);
    if (!fields[i]!.optional) required++;
  }
  return rule(TEST, {
    fields: { byName, strict, validBase: undefined },
    test: (value) => {
      if (!isPlainObject(value)) return false;
      let walked = 0;
      let known = 0;
      let requiredSeen = 0;
      for (const key in value) {
        walked++;
        const field = byName.get(key);
        if (field === undefined) {
          if (strict) return false;
          continue;
        }
        if (!passes(field, value[key])) return false;
        known++;
        if (!field.optional) requiredSeen++;
      }
      // Every required field was seen, and every field seen is valid; an
      // optional one not seen is absent (so `undefined`) unless hidden.
      return requiredSeen === required &&
        (known === names.length || Object.getOwnPropertyNames(value).length === walked);
    },
  });
}

/** The fast rule of `schema` (see `rules`), built on first use. */
function ruleOf(schema: Schema): Rule | null {
  let fast = rules.get(schema);
  if (fast !== undefined) return fast;
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  fast = null;
  const wrapped = optionals.get(schema) ?? (def.type === "optional" ? def.innerType as unknown as Schema : undefined);
  const object = wrapped === undefined ? objectOf(schema) : undefined;
  if (wrapped !== undefined) {
    const inner = ruleOf(wrapped);
    if (inner !== null) fast = { ...inner, optional: true };
  } else if (object !== undefined && (object.strict || def.catchall === undefined)) {
    // A loose object's extra keys pass here and are kept, where zod drops
    // them from its copy: only the breaker's `initialState`, read from the
    // caller's options, is such an object. (zod's objects with a catchall
    // other than `never` have no fast path.)
    const names = Object.keys(object.shape);
    const fields = names.map((key) => ruleOf(object.shape[key]!));
    if (fields.every((field) => field !== null)) fast = objectRule(names, fields as Rule[], object.strict);
  }
  rules.set(schema, fast);
  return fast;
}

/**
 * `schema.safeParse(input)`, through the fast path when it has one: valid
 * input is returned as it is, without a zod parse (zod would return a copy:
 * callers pass an object they built, or only read the result). Anything the
 * fast path doubts goes to zod.
 */
export function safeParse<S extends Schema>(
  schema: S,
  input: unknown,
): { success: true; data: z.output<S> } | { success: false; data?: undefined; error: { issues: z.core.$ZodIssue[] } } {
  const fast = ruleOf(schema);
  if (fast !== null && passes(fast, input)) return { success: true, data: input as z.output<S> };
  return parse(schema, input) as ReturnType<typeof safeParse<S>>;
}

/**
 * `safeParse(schema, input)` for an `input` built as a copy of `base` (an
 * object kept while it holds, such as a component's defaults until
 * `configure()` replaces them) with the options named in `given` assigned
 * over it. `base` is checked once, while it stays the same object; after
 * that only the options given are, the few a caller sets rather than the
 * dozen defaults. The verdict is `safeParse`'s: a valid base holds every
 * required field, and each key of `input` is the base's or one checked here.
 */
export function safeParseOver<S extends Schema>(
  schema: S,
  base: object,
  input: Record<string, unknown>,
  given: readonly string[],
): ReturnType<typeof safeParse<S>> {
  const fast = ruleOf(schema);
  const fields = fast?.fields;
  if (fields !== undefined && (fields.validBase === base || passes(fast!, base))) {
    fields.validBase = base;
    let valid = true;
    for (const key of given) {
      const field = fields.byName.get(key);
      if (field === undefined ? fields.strict : !passes(field, input[key])) {
        valid = false;
        break;
      }
    }
    if (valid) return { success: true, data: input as z.output<S> };
  }
  return parse(schema, input) as ReturnType<typeof safeParse<S>>;
}

/**
 * `validate(target, schema, { ...base, ...given })`, checking `base` only
 * when it is not the object found valid last time (see
 * {@link safeParseOver}): for a component whose defaults are a shared
 * object (`sharedBase`). Returns a new object, as the spread would.
 */
export function validateOver<S extends Schema>(target: string, schema: S, base: object, given: object): z.output<S> {
  const input: Record<string, unknown> = { ...base };
  const keys = Object.keys(given);
  for (const key of keys) input[key] = (given as Record<string, unknown>)[key];
  const result = safeParseOver(schema, base, input, keys);
  if (result.success) return result.data;
  throw new ConfigError(target, toConfigIssues(schema, input, result.error.issues));
}

/**
 * Parses `input` with `schema`; on failure throws a {@link ConfigError} that
 * names every bad field of `target`.
 */
export function validate<S extends Schema>(target: string, schema: S, input: unknown): z.output<S> {
  const result = safeParse(schema, input);
  if (result.success) return result.data;
  throw new ConfigError(target, toConfigIssues(schema, input, result.error.issues));
}
