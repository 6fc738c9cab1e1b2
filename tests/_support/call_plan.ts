/**
 * The planned operation of the pipeline equivalence tests
 * (pipeline_fused.test.ts, pipeline_fast_path.test.ts): each attempt of a
 * call does what its plan says, on a ManualClock, logging as it goes; and
 * how those tests write an error into their logs.
 */
import type { ExecutionContext, Operation } from "../../mod.ts";
import type { ManualClock } from "../../src/testing/mod.ts";

/** What one attempt of the operation does. */
export type Behaviour =
  | { kind: "value" | "reject" | "syncValue" | "syncThrow" | "hang" }
  | { kind: "later"; ms: number; ok: boolean };

/** The part of a call's plan the operation reads. */
export interface AttemptPlan {
  /** Attempt n does attempts[(n - 1) % length]. */
  readonly attempts: readonly Behaviour[];
  /** The operation reads its signal (a hanging attempt always does). */
  readonly readsSignal: boolean;
}

export interface OperationOptions {
  /** Log whether the signal is aborted when the operation reads it. */
  readonly logSignal?: boolean;
  /** A first attempt that succeeds returns "<name> again" (for a `retryOnResult` that retries it). */
  readonly againFirst?: boolean;
}

/**
 * Added to a "later" attempt's sleep: distinct for every call and attempt
 * (and from the tests' other timer offsets), so that no two timers are due
 * at the same instant.
 */
export function laterOffset(call: number, attempt: number): number {
  return Math.sqrt(5) * 1e-6 * (call + 1) + Math.sqrt(7) * 1e-8 * attempt;
}

/** The operation of call `index`: each attempt logs `call<index>#<attempt> runs`, then does as planned. */
export function operation(
  plan: AttemptPlan,
  index: number,
  clock: ManualClock,
  log: (entry: string) => void,
  { logSignal = false, againFirst = false }: OperationOptions = {},
): Operation<string> {
  let attempt = 0;
  return (context: ExecutionContext) => {
    attempt++;
    const behaviour = plan.attempts[(attempt - 1) % plan.attempts.length]!;
    const name = `call${index}#${attempt}`;
    log(`${name} runs`);
    const signal = plan.readsSignal || behaviour.kind === "hang" ? context.signal : undefined;
    if (logSignal && signal !== undefined) log(`${name} signal ${signal.aborted ? "aborted" : "live"}`);
    const ok = againFirst && attempt === 1 ? `${name} again` : `${name} ok`;
    switch (behaviour.kind) {
      case "syncValue":
        return ok;
      case "syncThrow":
        throw new Error(`${name} threw`);
      case "value":
        return Promise.resolve(ok);
      case "reject":
        return Promise.reject(new Error(`${name} failed`));
      case "later":
        return clock.sleep(behaviour.ms + laterOffset(index, attempt), signal).then(() => {
          if (!behaviour.ok) throw new Error(`${name} failed late`);
          return `${name} ok late`;
        });
      case "hang":
        return new Promise<string>((_, reject) => {
          if (signal!.aborted) reject(signal!.reason);
          signal!.addEventListener("abort", () => reject(signal!.reason));
        });
    }
  };
}

/**
 * An error as the logs write it: its name and code (`TimeoutError(ERR_TIMEOUT)`),
 * then its message and its cause's, unless `messages` is false.
 */
export function describeError(error: unknown, { messages = true }: { messages?: boolean } = {}): string {
  if (error instanceof Error) {
    const named = `${error.name}${"code" in error ? `(${String(error.code)})` : ""}`;
    if (!messages) return named;
    const cause = error.cause === undefined ? "" : ` (cause: ${describeError(error.cause)})`;
    return `${named} ${error.message}${cause}`;
  }
  return `thrown ${String(error)}`;
}
