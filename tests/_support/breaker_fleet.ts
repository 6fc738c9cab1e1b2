// The shared-breaker scenario run by both sides of a two-process test
// (tests/circuit_breaker_shared_engines.node.test.ts and its child,
// breaker_fleet_child.ts; the Deno KV test and its child): one breaker
// named alike in every process, and a "dependency" that counts its calls
// in the same store, so the test can count what reached it from all.
import { CircuitBreaker, CircuitOpenError, type Store } from "../../mod.ts";
import { increment } from "./store_transitions.ts";

export const REFRESH_MS = 200;
export const RESET_TIMEOUT_MS = 1_500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** This process's instance of the fleet's breaker. */
export function fleetBreaker(store: Store): CircuitBreaker {
  return new CircuitBreaker({
    name: "fleet",
    store,
    maxFailures: 3,
    resetTimeoutMs: RESET_TIMEOUT_MS,
    halfOpenMaxWaitMs: 20_000,
    refreshMs: REFRESH_MS,
    storeTimeoutMs: 5_000,
  });
}

/** Opens the breaker here (three failures). */
export async function trip(breaker: CircuitBreaker): Promise<void> {
  for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => {});
}

/**
 * One call through the breaker to the dependency, which counts itself under
 * "hits" and, with `hold`, answers only once "release" is set (30 s at most).
 */
export async function callDependency(breaker: CircuitBreaker, store: Store, hold = false): Promise<"ran" | "refused"> {
  try {
    await breaker.execute(async () => {
      await store.update("hits", increment, 1);
      for (let waited = 0; hold && waited < 30_000; waited += 20) {
        if ((await store.get("release")) !== undefined) break;
        await sleep(20);
      }
    });
    return "ran";
  } catch (error) {
    if (error instanceof CircuitOpenError) return "refused";
    throw error;
  }
}

/** `count` concurrent held calls; `onAnswer` after each answer. */
export async function burst(
  breaker: CircuitBreaker,
  store: Store,
  count: number,
  onAnswer: (answered: number) => void = () => {},
): Promise<{ ran: number; refused: number }> {
  let answered = 0;
  const outcomes = await Promise.all(
    Array.from({ length: count }, () =>
      callDependency(breaker, store, true).then((outcome) => {
        onAnswer(++answered);
        return outcome;
      })),
  );
  return { ran: outcomes.filter((o) => o === "ran").length, refused: outcomes.filter((o) => o === "refused").length };
}

/** Hits counted so far. */
export async function hits(store: Store): Promise<number> {
  return Number((await store.get("hits"))?.value ?? 0);
}

export { sleep };
