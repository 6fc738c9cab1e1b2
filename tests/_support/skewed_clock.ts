import type { Clock } from "../../mod.ts";

/** A real clock whose wall time is off by `offsetMs`: a client whose clock disagrees with the engine's. */
export function skewed(offsetMs: number): Clock {
  return {
    now: () => performance.now(),
    wallNow: () => Date.now() + offsetMs,
    sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    schedule: (callback: () => void, ms: number) => {
      const id = setTimeout(callback, ms);
      return () => clearTimeout(id);
    },
  };
}
