// Option validation on zod/mini: the fast path never accepts what zod
// refuses, and arguments that are not options objects at all get our words,
// not zod's.
import fc from "fast-check";
import * as z from "zod/mini";
import { afterEach, describe, expect, it } from "vitest";
import {
  Bulkhead,
  CircuitBreaker,
  ConfigError,
  configure,
  defaultsFor,
  InvalidArgumentError,
  rateLimiter,
  RetryPolicy,
  TimeoutPolicy,
  validateDefaults,
} from "../mod.ts";
import {
  abortSignal,
  arrayOf,
  boolean,
  clock,
  durationMs,
  errorClasses,
  fraction,
  func,
  integer,
  name,
  object,
  oneOf,
  optional,
  positiveNumber,
  safeParse,
  safeParseOver,
  satisfying,
  type Schema,
  strictObject,
  toConfigIssues,
} from "../src/validation.ts";
import { thrown } from "./_support/thrown.ts";

afterEach(() => configure({}));

/** Values near every boundary the helpers draw, and anything else. */
const values = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 1.5, 255, 256, 1e-9, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2),
  fc.constantFrom(NaN, Infinity, -Infinity, null, undefined, "", "x", "full", true, false, [], {}, () => 1),
  fc.double(),
  fc.integer(),
  fc.anything(),
);

describe("validation fast path", () => {
  const leaves: Record<string, Schema> = {
    "integer(1)": integer(1),
    "integer(0, 255)": integer(0, 255),
    "durationMs(0)": durationMs(0),
    "durationMs(0, true)": durationMs(0, true),
    "positiveNumber()": positiveNumber(),
    "positiveNumber(1, true)": positiveNumber(1, true),
    "fraction()": fraction(),
    "fraction(true)": fraction(true),
    "oneOf": oneOf(["none", "full"]),
    "func": func(),
    "name": name(),
    "boolean": boolean(),
    "clock": clock(),
    "abortSignal": abortSignal(),
    "errorClasses": errorClasses(),
    "arrayOf": arrayOf((item) => typeof item === "string", "a string", "an array of strings"),
  };

  for (const [label, schema] of Object.entries(leaves)) {
    it(`${label}: accepts only what zod accepts`, () => {
      fc.assert(fc.property(values, (value) => {
        const fast = safeParse(schema, value);
        expect(fast.success).toBe(z.safeParse(schema, value).success);
      }));
    });
  }

  // The helpers check numbers with the fast path's rule; these are the zod
  // schemas they replaced, whose verdicts they must keep.
  const zodNumbers: Array<[string, Schema, Schema]> = [
    ["integer(1)", integer(1), z.number().check(z.refine(Number.isInteger), z.minimum(1), z.maximum(Number.MAX_SAFE_INTEGER))],
    ["integer(0, 255)", integer(0, 255), z.int().check(z.minimum(0), z.maximum(255))],
    ["durationMs(0)", durationMs(0), z.number().check(z.minimum(0))],
    ["durationMs(0, true)", durationMs(0, true), z.number().check(z.gt(0))],
    ["positiveNumber()", positiveNumber(), z.number().check(z.gt(0))],
    ["positiveNumber(1, true)", positiveNumber(1, true), z.number().check(z.minimum(1))],
    ["fraction()", fraction(), z.number().check(z.gt(0), z.maximum(1))],
    ["fraction(true)", fraction(true), z.number().check(z.minimum(0), z.maximum(1))],
  ];
  for (const [label, ours, zods] of zodNumbers) {
    it(`${label}: the verdict of zod's number schema`, () => {
      fc.assert(fc.property(values, (value) => {
        expect(z.safeParse(ours, value).success).toBe(z.safeParse(zods, value).success);
      }));
    });
  }

  it("a strict object: unknown keys, missing fields and bad fields all go to zod", () => {
    const schema = z.strictObject({ a: integer(1), b: z.optional(fraction()), c: z.optional(func()) });
    const objects = fc.oneof(
      fc.record({ a: values, b: values, c: values }, { requiredKeys: [] }),
      fc.dictionary(fc.constantFrom("a", "b", "c", "d", "__proto__", "constructor"), values),
      values,
    );
    fc.assert(fc.property(objects, (value) => {
      expect(safeParse(schema, value).success).toBe(z.safeParse(schema, value).success);
    }));
  });

  it("an object a walk of its keys cannot see through still gets zod's verdict", () => {
    // A field defined non-enumerable, or read through a getter of a class,
    // is read by zod (`input[field]`) but not listed by `for...in`.
    const strict = z.strictObject({ a: integer(1), b: z.optional(fraction()) });
    const loose = z.object({ a: integer(1), b: z.optional(fraction()) });
    class Options {
      get a(): unknown {
        return this.value;
      }
      constructor(readonly value: unknown) {}
    }
    const hidden = fc.tuple(values, values).map(([a, b]) => {
      const object: Record<string, unknown> = { a };
      Object.defineProperty(object, "b", { value: b, enumerable: false });
      return object;
    });
    const hiddenNull = fc.tuple(values, values).map(([a, b]) => {
      const object: Record<string, unknown> = Object.assign(Object.create(null), { a });
      Object.defineProperty(object, "b", { value: b, enumerable: false });
      return object;
    });
    const objects = fc.oneof(hidden, hiddenNull, values.map((a) => new Options(a)));
    fc.assert(fc.property(objects, (value) => {
      for (const schema of [strict, loose]) {
        expect(safeParse(schema, value).success).toBe(z.safeParse(schema, value).success);
      }
    }));
    // The cases that matter, spelled out: a hidden bad field is refused.
    const bad: Record<string, unknown> = { a: 1 };
    Object.defineProperty(bad, "b", { value: 2, enumerable: false });
    expect(safeParse(strict, bad).success).toBe(false);
    expect(safeParse(loose, bad).success).toBe(false);
  });

  it("safeParseOver: a base checked once, then only the options given, with zod's verdict", () => {
    const schema = z.strictObject({ a: integer(1), b: durationMs(0), c: z.optional(fraction()), d: z.optional(func()) });
    const bases = fc.oneof(
      fc.constant(Object.freeze({ a: 1, b: 0 })),
      fc.constant(Object.freeze({ a: 3, b: 10, c: 0.5 })),
      fc.constant(Object.freeze({ a: 0, b: 10 })), // invalid: never trusted
      fc.constant(Object.freeze({ b: 10 })), // a required field missing
      fc.constant(Object.freeze({ a: 1, b: 1, e: 1 })), // an unknown key
    );
    const given = fc.dictionary(fc.constantFrom("a", "b", "c", "d", "e"), values, { maxKeys: 3 });
    fc.assert(fc.property(fc.array(fc.tuple(bases, given), { minLength: 1, maxLength: 6 }), (calls) => {
      for (const [base, options] of calls) {
        const input: Record<string, unknown> = { ...base };
        const keys = Object.keys(options).filter((key) => options[key] !== undefined);
        for (const key of keys) input[key] = options[key];
        expect(safeParseOver(schema, base, input, keys).success).toBe(z.safeParse(schema, input).success);
      }
    }));
  });

  it("a breaker sees the defaults configure() sets after it was first built, and their checks", () => {
    expect(new CircuitBreaker().options.maxFailures).toBe(5);
    configure({ circuitBreaker: { maxFailures: 3 } });
    expect(new CircuitBreaker().options.maxFailures).toBe(3);
    expect(new CircuitBreaker({ maxFailures: 7 }).options.maxFailures).toBe(7);
    expect(() => new CircuitBreaker({ maxFailures: 0 })).toThrow(ConfigError);
    configure({});
    expect(new CircuitBreaker().options.maxFailures).toBe(5);
  });

  it("a retry, timeout and bulkhead see the defaults configure() sets after they were first built", () => {
    expect(new RetryPolicy().options.maxAttempts).toBe(3);
    expect(new TimeoutPolicy().options.timeoutMs).toBe(30_000);
    expect(new Bulkhead().options.maxConcurrent).toBe(10);
    configure({ retry: { maxAttempts: 4, jitter: "equal" }, timeout: { timeoutMs: 5 }, bulkhead: { maxConcurrent: 2 } });
    expect(new RetryPolicy().options.maxAttempts).toBe(4);
    expect(new RetryPolicy().options.jitter).toBe("equal");
    // A backoff function turns the default jitter off, configured or not.
    expect(new RetryPolicy({ backoff: () => 1 }).options.jitter).toBe("none");
    expect(new TimeoutPolicy().options.timeoutMs).toBe(5);
    expect(new Bulkhead().options.maxConcurrent).toBe(2);
    expect(() => new RetryPolicy({ maxAttempts: 0 })).toThrow(ConfigError);
    expect(() => new RetryPolicy({ maxAttempts: undefined })).toThrow(ConfigError);
    configure({});
    expect(new RetryPolicy().options.maxAttempts).toBe(3);
    expect(new TimeoutPolicy().options.timeoutMs).toBe(30_000);
    expect(new Bulkhead().options.maxConcurrent).toBe(10);
  });

  it("arrayOf reports what z.array would: the same fields, values and messages", () => {
    const isFunction = (item: unknown): boolean => typeof item === "function";
    const ours = z.strictObject({ list: z.optional(arrayOf(isFunction, "a function", "an array of functions")) });
    const zods = z.strictObject({
      list: z.optional(z.array(satisfying(isFunction, "a function"), { error: "an array of functions" })),
    });
    const inputs = fc.record({ list: fc.oneof(values, fc.array(fc.oneof(values, fc.constant(() => 1)))) }, { requiredKeys: [] });
    fc.assert(fc.property(inputs, (input) => {
      const a = z.safeParse(ours, input);
      const b = z.safeParse(zods, input);
      expect(a.success).toBe(b.success);
      expect(safeParse(ours, input).success).toBe(b.success);
      if (!a.success && !b.success) {
        expect(toConfigIssues(ours, input, a.error.issues)).toEqual(toConfigIssues(zods, input, b.error.issues));
      }
    }));
  });

  it("strictObject and object give z.strictObject's and z.object's verdict, issues and output", () => {
    const nestedShape = () => ({ depth: integer(1), label: z.optional(name()) });
    const shape = () => ({
      count: integer(1),
      delayMs: z.optional(durationMs(0)),
      mode: z.optional(oneOf(["a", "b"])),
      // Accepts undefined although required: absent, it is zod's "nonoptional" issue.
      anything: satisfying<unknown>(() => true, "anything"),
      nested: z.optional(strictObject(nestedShape(), "an object")),
    });
    const zodShape = () => ({
      ...shape(),
      nested: z.optional(z.strictObject(nestedShape(), { error: "an object" })),
    });
    const pairs: Array<[string, Schema, Schema]> = [
      ["strict", strictObject(shape()), z.strictObject(zodShape())],
      ["strict with a message", strictObject(shape(), "options"), z.strictObject(zodShape(), { error: "options" })],
      ["loose", object(shape()), z.object(zodShape())],
    ];
    const key = fc.constantFrom("count", "delayMs", "mode", "anything", "nested", "cuont", "extra", "__proto__");
    const nested = fc.oneof(
      values,
      fc.dictionary(fc.constantFrom("depth", "label", "dpeth"), values, { maxKeys: 3 }),
    );
    const input = fc.oneof(
      values,
      fc.dictionary(key, fc.oneof(values, nested), { maxKeys: 6 }),
      // Inherited keys: zod reads and walks them too.
      fc.dictionary(key, values, { maxKeys: 3 }).map((proto) => Object.create(proto) as unknown),
    );
    for (const [label, ours, zods] of pairs) {
      fc.assert(fc.property(input, (value) => {
        const a = z.safeParse(ours, value);
        const b = z.safeParse(zods, value);
        expect({ label, success: a.success }).toEqual({ label, success: b.success });
        expect(safeParse(ours, value).success).toBe(b.success);
        if (a.success && b.success) expect(a.data).toEqual(b.data);
        if (!a.success && !b.success) {
          expect(toConfigIssues(ours, value, a.error.issues)).toEqual(toConfigIssues(zods, value, b.error.issues));
        }
      }), { numRuns: 500 });
    }
  });

  it("optional gives z.optional's verdict, issues and output, in our objects and in zod's", () => {
    const isFunction = (item: unknown) => typeof item === "function";
    const leaves = (wrap: (schema: Schema) => Schema) => ({
      count: integer(1),
      delayMs: wrap(durationMs(0)),
      mode: wrap(oneOf(["a", "b"])),
      list: wrap(arrayOf(isFunction, "a function", "an array of functions")),
      anything: satisfying<unknown>(() => true, "anything"),
    });
    const ours = () => ({
      ...leaves(optional),
      // Loose: its output (unknown keys dropped) must replace the input.
      nested: optional(object({ depth: integer(1), label: optional(name()) }, "an object")),
    });
    const zods = () => ({
      ...leaves(z.optional),
      nested: z.optional(z.object({ depth: integer(1), label: z.optional(name()) }, { error: "an object" })),
    });
    const pairs: Array<[string, Schema, Schema]> = [
      ["our strict object", strictObject(ours()), z.strictObject(zods())],
      ["zod's strict object", z.strictObject(ours()), z.strictObject(zods())],
      ["our loose object", object(ours()), z.object(zods())],
    ];
    const key = fc.constantFrom("count", "delayMs", "mode", "list", "anything", "nested", "mdoe");
    const nested = fc.oneof(
      values,
      fc.dictionary(fc.constantFrom("depth", "label", "lable"), values, { maxKeys: 3 }),
    );
    const input = fc.oneof(values, fc.dictionary(key, fc.oneof(values, nested, fc.array(values, { maxLength: 3 })), { maxKeys: 6 }));
    // Valid ones, which random input seldom is: the nested output drops `lable`.
    const examples = [
      { count: 1, anything: 0, nested: { depth: 2, lable: "x" } },
      { count: 1, anything: null, nested: { depth: 2, label: "x" }, delayMs: undefined, list: [isFunction] },
      { count: 3, mode: "b", nested: undefined, anything: undefined },
    ];
    for (const [label, a, b] of pairs) {
      for (const value of examples) {
        const mine = z.safeParse(a, value);
        expect({ label, success: mine.success, data: mine.data }).toEqual({ label, success: true, data: z.safeParse(b, value).data });
      }
      fc.assert(fc.property(input, (value) => {
        const mine = z.safeParse(a, value);
        const theirs = z.safeParse(b, value);
        expect({ label, success: mine.success }).toEqual({ label, success: theirs.success });
        expect(safeParse(a, value).success).toBe(theirs.success);
        if (mine.success && theirs.success) expect(mine.data).toEqual(theirs.data);
        if (!mine.success && !theirs.success) {
          expect(toConfigIssues(a, value, mine.error.issues)).toEqual(toConfigIssues(b, value, theirs.error.issues));
        }
      }), { numRuns: 500 });
    }
  });

  it("gives zod's issues, with our messages, when the options are bad", () => {
    const error = thrown(() => new RetryPolicy({ maxAttempts: 1.5, jitter: "sometimes" as never })) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues.map((issue) => `${issue.field}: ${issue.allowed}`).sort()).toEqual([
      'jitter: one of "none", "full", "equal", "decorrelated"',
      "maxAttempts: an integer >= 1",
    ]);
  });

  it("builds the same breaker either way", () => {
    const breaker = new CircuitBreaker({ maxFailures: 2, resetTimeoutMs: 5, excludedErrors: [TypeError] });
    expect(breaker.options.maxFailures).toBe(2);
    expect(breaker.options.excludedErrors).toEqual([TypeError]);
    expect(Object.isFrozen(breaker.options)).toBe(true);
    expect(Object.isFrozen(breaker.options.excludedErrors)).toBe(true);
  });
});

describe("arguments that are not options objects", () => {
  it("configure() refuses null, an array or a number with InvalidArgumentError, and changes nothing", () => {
    configure({ retry: { maxAttempts: 4 } });
    for (const bad of [null, [], 42, "retry"]) {
      const error = thrown(() => configure(bad as never)) as InvalidArgumentError;
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.code).toBe("ERR_INVALID_ARGUMENT");
      expect(error.argument).toBe("defaults");
      expect(error.message).not.toContain("Invalid input");
    }
    expect(defaultsFor("retry").maxAttempts).toBe(4);
  });

  it("configure() names a section that is not an object, in our words", () => {
    const error = thrown(() => configure({ retry: null as never })) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain("'retry' must be an object: current value is null");
  });

  it("validateDefaults() refuses null and arrays with a ConfigError naming the source", () => {
    for (const bad of [null, [], 7]) {
      const error = thrown(() => validateDefaults(bad, "bulwark.config.json")) as ConfigError;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.target).toBe("bulwark.config.json");
      expect(error.issues).toEqual([{ field: "(defaults)", value: bad, allowed: "an object of defaults" }]);
    }
  });

  it("rateLimiter(42) and rateLimiter(fn, 42) throw InvalidArgumentError", () => {
    for (const call of [() => rateLimiter(42 as never), () => rateLimiter(() => 1, 42 as never), () => rateLimiter(null as never)]) {
      const error = thrown(call) as InvalidArgumentError;
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.argument).toBe("options");
      expect(error.message).toContain("must be an options object or undefined");
    }
  });
});
