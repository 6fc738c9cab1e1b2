/**
 * Transitions the test Worker's Durable Object registers, so that tests can
 * name them in `DurableObjectStore.update` (a transition's code cannot cross
 * RPC; the object runs the one registered under the name).
 */
import { type Json, type Transition, UNCHANGED } from "../../mod.ts";

/** Adds `input` (a number) to the key's count and answers with the new count; the key expires after `ttlMs` if the input says so. */
export const addTransition: Transition<{ add: number; ttlMs?: number }, number> = {
  name: "bulwark.test.add",
  apply(current, input) {
    const next = (typeof current === "number" ? current : 0) + input.add;
    return { next, output: next, ...(input.ttlMs === undefined ? {} : { ttlMs: input.ttlMs }) };
  },
};

/** Answers with the object's own clock, writing nothing. */
export const clockTransition: Transition<null, number> = {
  name: "bulwark.test.clock",
  apply(_current, _input, nowMs) {
    return { next: undefined as Json | undefined, output: nowMs };
  },
};

/** Writes a string of `input` x's. */
export const fillTransition: Transition<number, null> = {
  name: "bulwark.test.fill",
  apply: (_current, input) => ({ next: "x".repeat(input), output: null }),
};

/**
 * The transitions `runStoreConformance` (bulwark/testing) names, registered
 * under the same names with the same behaviour, so that the suite's
 * `update` checks run inside the object. (A copy: the suite keeps them
 * private. If they drifted apart, the suite would fail on the object.)
 */
/** The `ttlMs` the Durable Object's conformance run passes to the suite, which its "ttl" transition uses. */
export const CONFORMANCE_TTL_MS = 1_000;

const CONFORMANCE_TRANSITIONS: readonly Transition[] = [
  {
    name: "bulwark.conformance.increment",
    apply: (current, input) => {
      const next = (typeof current === "number" ? current : 0) + (input as number);
      return { next, output: next };
    },
  },
  { name: "bulwark.conformance.same", apply: () => ({ next: "same", output: null }) },
  { name: "bulwark.conformance.ttl", apply: () => ({ next: 1, ttlMs: CONFORMANCE_TTL_MS, output: null }) },
  { name: "bulwark.conformance.peek", apply: (current) => ({ next: UNCHANGED, output: current ?? null }) },
  { name: "bulwark.conformance.remove", apply: () => ({ next: undefined, output: null }) },
];

export const TEST_TRANSITIONS: readonly Transition[] = [
  addTransition as unknown as Transition,
  clockTransition as unknown as Transition,
  fillTransition as unknown as Transition,
  ...CONFORMANCE_TRANSITIONS,
];

// Transitions the Redis and PostgreSQL adapter tests run through store.update().

/** Adds `input` to the number under the key (0 if absent); outputs the new total. */
export const increment: Transition<number, number> = {
  name: "test.increment",
  apply(current, by) {
    const next = (typeof current === "number" ? current : 0) + by;
    return { next, output: next };
  },
};

/** Writes nothing; outputs the `nowMs` the store handed it. */
export const clockProbe: Transition<null, number> = {
  name: "test.clock-probe",
  apply(_current: Json | undefined, _input: null, nowMs: number) {
    return { next: undefined, output: nowMs };
  },
};
