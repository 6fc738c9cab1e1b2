// A fleet of shared circuit breakers in one process, on one ManualClock and
// one MemoryStore (the engine every runtime has): each `make()` is another
// instance of the fleet. Used by the generation and override tests.
import { CircuitBreaker, type CircuitBreakerOptions, MemoryStore, type SharedCircuitRecord, type Store } from "../../mod.ts";
import { CountingStore, ManualClock } from "../../src/testing/mod.ts";

/** Lets timers of 0 ms and the promise chains they start run out. */
export async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

export const boom = () => Promise.reject(new Error("down"));
export const ok = () => "ok";
export const KEY = "breaker:payments";

/**
 * Makes `store` declare eventual consistency (as Workers KV does): a read may
 * answer with a record older than one its reader learned, for up to 60 s, so
 * a breaker takes such a record for a stale read. A store that injects stale
 * reads (`FaultyStore`'s `stale`) must declare it: on a strong store a record
 * older than the one learned is what the store holds (it lost data).
 */
export function eventual<S extends Store>(store: S): S {
  (store as { capabilities: Store["capabilities"] }).capabilities = { ...store.capabilities, consistency: "eventual" };
  return store;
}

/** `wrap`: what the instances see of the engine (a `FaultyStore` over it, say), counted by `store`. */
export function fleet(options: Partial<CircuitBreakerOptions<never>> = {}, wrap?: (inner: MemoryStore, clock: ManualClock) => Store) {
  const clock = new ManualClock();
  const inner = new MemoryStore({ clock });
  const store = new CountingStore(wrap === undefined ? inner : wrap(inner, clock));
  const make = () =>
    new CircuitBreaker({
      name: "payments",
      store,
      clock,
      maxFailures: 1,
      resetTimeoutMs: 10_000,
      refreshMs: 1_000,
      storeTimeoutMs: 500,
      ...options,
    });
  const record = async () => (await inner.get(KEY))?.value as unknown as SharedCircuitRecord | undefined;
  /** The engine restarts empty: every key gone (the lease too). */
  const wipe = async () => {
    for (const key of [KEY, `${KEY}:probe`]) await inner.delete(key);
  };
  return { clock, inner, store, make, record, wipe };
}
