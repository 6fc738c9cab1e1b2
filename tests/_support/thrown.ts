import { expect } from "vitest";

/** What `fn` throws; fails the test if it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

/**
 * Calls `start`, which must return a promise and never throw. (Not
 * `expect(start).not.toThrow()`: Bun's matcher awaits a returned promise
 * and counts its rejection as a throw.)
 */
export function started(start: () => Promise<unknown>): Promise<unknown> {
  let returned: Promise<unknown> | undefined;
  let thrown: unknown = "nothing";
  try {
    returned = start();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBe("nothing");
  return returned!;
}
