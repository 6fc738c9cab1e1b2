/**
 * What the lifecycle components share: the alert hook's type and a safe way
 * to call user callbacks. (Options are validated with `validate()` and
 * schemas built by `lazy()`, from `src/validation.ts`, as everywhere else.)
 *
 * @module
 */

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
