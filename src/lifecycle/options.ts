/**
 * What the lifecycle components share to validate their options: zod/mini
 * schemas, built on first use (never at import), and a typed `validate`.
 *
 * @module
 */

import * as z from "zod/mini";
import { validate } from "../validation.ts";

/**
 * `validate()` for a zod/mini schema, typed by the schema's output. (The
 * cast bridges the classic and mini zod types; both parse alike.)
 */
export function check<T>(target: string, schema: z.ZodMiniType<T>, input: unknown): T {
  return validate(target, schema as unknown as Parameters<typeof validate>[1], input) as T;
}

/** `build()` on the first call, the same value after: schemas built on first construction. */
export function once<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

/** An alert hook, as in the seeds: `(channel, message, context)`. May be async; its errors are swallowed. */
export type OnAlert = (channel: string, message: string, context: Readonly<Record<string, unknown>>) => unknown;

/**
 * Calls a user callback that may be sync or async, turning a throw or a
 * rejection into `onError(error)`; never throws, never leaves a rejection
 * unhandled. Resolves when the callback has settled.
 */
export async function callSafely(fn: (() => unknown) | undefined, onError: (error: unknown) => void): Promise<void> {
  if (fn === undefined) return;
  try {
    await fn();
  } catch (error) {
    try {
      onError(error);
    } catch {
      // The error hook itself failed: nothing sensible is left to do.
    }
  }
}

/** `true` or `false`. */
export function flag(): z.ZodMiniType<boolean> {
  return z.boolean({ error: "true or false" });
}
