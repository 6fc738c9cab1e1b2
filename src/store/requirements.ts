import { ConfigError, type ConfigIssue } from "../errors.ts";
import type { Store } from "./store.ts";

/** What a component needs of its store; see {@link requireStore}. */
export interface StoreRequirements {
  /** Needs `insertIfAbsent` / `compareAndSet` / `update` to be atomic (exactly one winner). */
  readonly atomic?: boolean;
  /** Needs reads to see every completed write (`consistency: "strong"`). */
  readonly strong?: boolean;
  /** Why, in words, for the error: e.g. `"two instances could both claim one idempotency key"`. */
  readonly why: string;
  /** The caller's option that accepts a weaker store, named in the error. Default `"bestEffort"`. */
  readonly optIn?: string;
}

/**
 * Refuses, at construction, a store that cannot give a component what it
 * needs: throws a {@link ConfigError} on `field` (default `"store"`) naming
 * the store, what is missing and why, and that `bestEffort: true` (or the
 * option named by `requirements.optIn`) accepts it. With `bestEffort` the store is accepted as is. A value that is not a
 * store at all is refused either way.
 *
 * @example
 * ```ts
 * import { ConfigError, MemoryStore, requireStore } from "bulwark";
 *
 * // A store whose compare-and-set is not atomic (like Workers KV).
 * const lossy = new MemoryStore();
 * Object.defineProperty(lossy, "capabilities", { value: { ...lossy.capabilities, atomic: false } });
 * const needs = { atomic: true, why: "two instances could both claim one key" };
 * requireStore("IdempotencyGuard", new MemoryStore(), needs);
 * requireStore("IdempotencyGuard", lossy, needs, true); // best effort, explicitly
 * let refused = false;
 * try {
 *   requireStore("IdempotencyGuard", lossy, needs);
 * } catch (error) {
 *   refused = error instanceof ConfigError && error.message.includes("two instances could both claim one key");
 * }
 * if (!refused) throw new Error("a store without atomic operations must be refused");
 * ```
 */
export function requireStore(
  target: string,
  store: unknown,
  requirements: StoreRequirements,
  bestEffort = false,
  field = "store",
): asserts store is Store {
  const capabilities = typeof store === "object" && store !== null
    ? (store as { capabilities?: unknown }).capabilities as Store["capabilities"] | undefined
    : undefined;
  if (typeof capabilities !== "object" || capabilities === null || typeof (store as Store).get !== "function") {
    throw new ConfigError(target, [{ field, value: store, allowed: "a Store (MemoryStore, FileStore, a Redis or Durable Object store, ...)" }]);
  }
  if (bestEffort) return;
  const missing: string[] = [];
  if (requirements.atomic && !capabilities.atomic) missing.push("atomic operations (capabilities.atomic)");
  if (requirements.strong && capabilities.consistency !== "strong") missing.push('strong consistency (capabilities.consistency "strong")');
  if (missing.length === 0) return;
  const issue: ConfigIssue = {
    field,
    value: (store as Store).name,
    allowed: `a store with ${missing.join(" and ")}, because otherwise ${requirements.why}; ` +
      `or pass ${requirements.optIn ?? "bestEffort"}: true to accept that`,
  };
  throw new ConfigError(target, [issue]);
}
