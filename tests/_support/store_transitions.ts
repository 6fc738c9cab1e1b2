/**
 * Transitions the test Worker's Durable Object registers, so that tests can
 * name them in `DurableObjectStore.update` (a transition's code cannot cross
 * RPC; the object runs the one registered under the name).
 */
import type { Json, Transition } from "../../mod.ts";

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

export const TEST_TRANSITIONS: readonly Transition[] = [addTransition as unknown as Transition, clockTransition as unknown as Transition];
