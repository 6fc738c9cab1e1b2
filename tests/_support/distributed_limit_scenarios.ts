// Scenarios every engine of the distributed rate limits runs
// (tests/rate_limit_distributed*.test.ts): N concurrent limit() calls never
// admit more than the limit, and admit exactly the limit when they ask for
// more. The limits are long enough (a minute) that no unit is replenished
// while the calls race, whatever the machine's load.
import { type AlgorithmOptions, DistributedRateLimiter, type Store } from "../../mod.ts";

/** One configuration per algorithm, each with a limit of `limit` units per minute. */
export function algorithmsWithLimit(limit: number): AlgorithmOptions[] {
  return [
    { algorithm: "fixed-window", limit, windowMs: 3_600_000 },
    { algorithm: "sliding-window", limit, windowMs: 60_000 },
    { algorithm: "sliding-window", limit, windowMs: 60_000, approximate: true },
    { algorithm: "token-bucket", rate: limit, perMs: 600_000, burst: limit },
    { algorithm: "gcra", rate: limit, perMs: 600_000, burst: limit },
  ];
}

/** A short label for an algorithm's options. */
export function label(options: AlgorithmOptions): string {
  return options.algorithm + ("approximate" in options && options.approximate ? " (counter)" : "");
}

/**
 * `calls` concurrent `limit()` calls on one key through `limiters` (round
 * robin): resolves to how many were admitted. The blocked-key cache is off,
 * so every call reaches the store.
 */
export async function admittedOf(
  store: Store | Store[],
  options: AlgorithmOptions,
  key: string,
  calls: number,
  extra: { timeoutMs?: number; prefix?: string } = {},
): Promise<number> {
  const stores = Array.isArray(store) ? store : [store];
  const limiters = stores.map((s) =>
    new DistributedRateLimiter({ ...options, store: s, maxBlockedKeys: 0, onStoreError: "deny", timeoutMs: 30_000, ...extra })
  );
  const decisions = await Promise.all(Array.from({ length: calls }, (_, i) => limiters[i % limiters.length]!.limit(key)));
  for (const decision of decisions) {
    if (decision.source !== "store") throw new Error(`a decision did not come from the store: ${JSON.stringify(decision)}`);
  }
  return decisions.filter((decision) => decision.allowed).length;
}
