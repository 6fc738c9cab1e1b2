// Transitions the adapter tests run through store.update().
import type { Json, Transition } from "../../mod.ts";

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
