/**
 * The parts of the Workers binding types the Cloudflare stores use, written
 * out so that `bulwark/cloudflare` needs no `@cloudflare/workers-types`: the
 * real `KVNamespace`, `D1Database` and `DurableObjectNamespace` (and any fake
 * with the same methods) fit them.
 *
 * @module
 */

/**
 * A binding, or a function that returns it. A store built at module scope
 * takes the function form and calls it on every operation, so it never
 * holds a binding from an earlier request and never touches one at import
 * time (`() => env.STATE_KV` with `import { env } from "cloudflare:workers"`).
 *
 * @example
 * ```ts
 * import type { Binding, KvNamespaceLike } from "bulwark/cloudflare";
 * const fromEnv: Binding<KvNamespaceLike> = () => ({} as KvNamespaceLike);
 * if (typeof fromEnv !== "function") throw new Error("expected the lazy form");
 * ```
 */
export type Binding<T> = T | (() => T);

/**
 * The methods of a Workers KV namespace (`KVNamespace`) that `KvStore` calls.
 *
 * @example
 * ```ts
 * import type { KvNamespaceLike } from "bulwark/cloudflare";
 * const entries = new Map<string, { value: string; metadata: unknown }>();
 * const kv: KvNamespaceLike = {
 *   getWithMetadata: async (key) => entries.get(key) ?? { value: null, metadata: null },
 *   put: async (key, value, options) => void entries.set(key, { value, metadata: options?.metadata ?? null }),
 *   delete: async (key) => void entries.delete(key),
 * };
 * await kv.put("k", "v");
 * if ((await kv.getWithMetadata("k", { type: "text" })).value !== "v") throw new Error("lost the value");
 * ```
 */
export interface KvNamespaceLike {
  /** The value as text and its metadata; `value` is `null` if the key is absent. */
  getWithMetadata(key: string, options: { type: "text" }): Promise<{ value: string | null; metadata: unknown }>;
  /** Writes `value`; `expirationTtl` is in seconds, at least 60. */
  put(key: string, value: string, options?: { expirationTtl?: number; metadata?: unknown }): Promise<void>;
  /** Removes the key (no error if absent). */
  delete(key: string): Promise<void>;
}

/**
 * The methods of a D1 prepared statement (`D1PreparedStatement`) that `D1Store` calls.
 *
 * @example
 * ```ts
 * import type { D1PreparedStatementLike } from "bulwark/cloudflare";
 * const statement: D1PreparedStatementLike = {
 *   bind: () => statement,
 *   first: async () => null,
 *   run: async () => ({ meta: { changes: 0 } }),
 * };
 * if ((await statement.bind(1).run()).meta.changes !== 0) throw new Error("unexpected change");
 * ```
 */
export interface D1PreparedStatementLike {
  /** The statement with its `?` parameters bound, in order. */
  bind(...values: unknown[]): D1PreparedStatementLike;
  /** The first row, or `null`. */
  first<T = Record<string, unknown>>(): Promise<T | null>;
  /** Runs the statement; `meta.changes` counts the rows it wrote. */
  run(): Promise<{ meta: { changes: number } }>;
}

/**
 * The method of a D1 database (`D1Database`) that `D1Store` calls.
 *
 * @example
 * ```ts
 * import type { D1DatabaseLike } from "bulwark/cloudflare";
 * const seen: string[] = [];
 * const db: D1DatabaseLike = {
 *   prepare(query) {
 *     seen.push(query);
 *     const statement = { bind: () => statement, first: async () => null, run: async () => ({ meta: { changes: 0 } }) };
 *     return statement;
 *   },
 * };
 * await db.prepare("SELECT 1").run();
 * if (seen[0] !== "SELECT 1") throw new Error("not prepared");
 * ```
 */
export interface D1DatabaseLike {
  /** A statement for `query` (SQLite dialect, `?` parameters). */
  prepare(query: string): D1PreparedStatementLike;
  /**
   * Runs `statements` as one transaction in one round trip; each result's
   * `results` holds its rows. D1 has it; `D1Store` uses it, when present,
   * to make a rate-limit decision in one round trip.
   */
  batch?(statements: D1PreparedStatementLike[]): Promise<Array<{ results?: unknown[] }>>;
}

/**
 * The methods of a Durable Object namespace (`DurableObjectNamespace`) that
 * `DurableObjectStore` calls: a name to an id, an id to an RPC stub.
 *
 * @example
 * ```ts
 * import type { DurableObjectNamespaceLike } from "bulwark/cloudflare";
 * const objects = new Map<unknown, object>();
 * const namespace: DurableObjectNamespaceLike = {
 *   idFromName: (name) => name,
 *   get: (id) => objects.get(id) ?? objects.set(id, {}).get(id)!,
 * };
 * if (namespace.get(namespace.idFromName("a")) !== namespace.get(namespace.idFromName("a"))) throw new Error("two objects");
 * ```
 */
export interface DurableObjectNamespaceLike {
  /** The id of the object called `name` (the same name always gives the same object). */
  idFromName(name: string): unknown;
  /** An RPC stub of the object with that id. */
  get(id: unknown): object;
}

/** Calls the lazy form of a binding, if that is what it is. */
export function resolveBinding<T extends object>(binding: Binding<T>): T {
  return typeof binding === "function" ? (binding as () => T)() : binding;
}
