import type { Clock } from "../clock.ts";
import { InvalidArgumentError } from "../errors.ts";
import { badSignal } from "./arguments.ts";

/**
 * `clock.sleep` built on `clock.schedule`: resolves after `ms`, or rejects at
 * once with `signal.reason` when the signal aborts, leaving no timer behind.
 * `Infinity` never resolves (only an abort ends it). An `ms` that is not a
 * number (or is `NaN` or `-Infinity`), or a `signal` that is not an
 * `AbortSignal`, rejects with an `InvalidArgumentError` naming `target`
 * before any timer is armed.
 */
export function sleepOn(clock: Clock, ms: number, signal: AbortSignal | undefined, target: string): Promise<void> {
  if (typeof ms !== "number" || Number.isNaN(ms) || ms === -Infinity) {
    return Promise.reject(new InvalidArgumentError(target, "ms", ms, "a number of milliseconds (Infinity: never)"));
  }
  const misuse = badSignal(target, signal);
  if (misuse !== undefined) return Promise.reject(misuse);
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = clock.schedule(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
