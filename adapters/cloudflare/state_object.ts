/**
 * The Durable Object behind `DurableObjectStore`: entries in the object's own
 * SQLite storage, and every conditional write and whole decision run inside
 * the object, where its single thread makes them atomic.
 *
 * @module
 */
import { ConfigError } from "../../src/errors.ts";
import { IDEMPOTENCY_TRANSITIONS } from "../../src/idempotency/idempotency_store.ts";
import { RATE_LIMIT_TRANSITIONS } from "../../src/rate_limit/distributed.ts";
import { type Json, type Transition, type TransitionResult, UNCHANGED } from "../../src/store/store.ts";

/** Our bound on keys (the Durable Object storage API's own key limit). */
export const DO_MAX_KEY_BYTES = 2_048;
/**
 * The largest value's JSON: SQLite-backed Durable Object storage takes rows
 * of up to 2,000,000 bytes; room is left for the longest key, the version,
 * the expiry and SQLite's record header.
 */
export const DO_MAX_VALUE_BYTES = 2_000_000 - DO_MAX_KEY_BYTES - 128;

/**
 * One entry as it crosses RPC: the value as JSON text (the client has
 * measured and serialized it already; the object stores it as is).
 */
export interface WireEntry {
  /** The value, as JSON text. */
  readonly value: string;
  /** Opaque; changes on every write. */
  readonly version: string;
  /** Epoch ms (the object's clock) after which the entry is gone, or `null`. */
  readonly expiresAt: number | null;
}

/** The outcome of a conditional write, as it crosses RPC. */
export type WireWriteResult =
  | { readonly ok: true; readonly entry: WireEntry }
  | { readonly ok: false; readonly current: WireEntry | null };

/** The outcome of a decision, as it crosses RPC. */
export type WireUpdateResult =
  | { readonly ok: true; readonly output: Json }
  | { readonly ok: false; readonly reason: "unknown-transition" | "threw"; readonly detail: string }
  | { readonly ok: false; readonly reason: "too-large"; readonly detail: string; readonly limit: number; readonly actual: number };

/**
 * The object's RPC surface: what `DurableObjectStore` calls on a stub. Keys
 * arrive prefixed, values as JSON text. Writes carry the version and expiry
 * the store drew, and conditional ones the store's `nowMs`, so that every
 * operation but `update` agrees with the store's clock; `update` runs on the
 * object's own `Date.now()`.
 */
export interface StateObjectRpc {
  /** The entry under `key` live at `nowMs`, or `null` (the row is deleted once the object's own clock has it expired too). */
  get(key: string, nowMs: number): Promise<WireEntry | null>;
  /** Writes unconditionally. */
  set(key: string, value: string, version: string, expiresAt: number | null): Promise<void>;
  /** Removes `key`; whether there was an entry live at `nowMs`. */
  delete(key: string, nowMs: number): Promise<boolean>;
  /** Writes only if there is no entry live at `nowMs`. */
  insertIfAbsent(key: string, value: string, version: string, expiresAt: number | null, nowMs: number): Promise<WireWriteResult>;
  /** Writes only if the entry live at `nowMs` has version `expected`. */
  compareAndSet(
    key: string,
    expected: string,
    value: string,
    version: string,
    expiresAt: number | null,
    nowMs: number,
  ): Promise<WireWriteResult>;
  /** Deletes only if the entry's version is `expected`; whether it did. */
  compareAndDelete(key: string, expected: string): Promise<boolean>;
  /** Runs the transition registered as `name` on `key`, at the object's `Date.now()`. */
  update(key: string, name: string, input: Json): Promise<WireUpdateResult>;
}

/** The part of a Durable Object's `SqlStorage` (`ctx.storage.sql`) the object uses. */
export interface SqlStorageLike {
  /** Runs `query` with `?` bindings; the rows it returns. */
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

/** The part of a `DurableObjectState` (`ctx`) the object uses. */
export interface DurableObjectStateLike {
  /** The object's storage (SQLite-backed: `new_sqlite_classes` in the migration). */
  readonly storage: {
    readonly sql: SqlStorageLike;
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number): Promise<void>;
  };
}

/**
 * The class the object extends: `DurableObject` from `"cloudflare:workers"`
 * (what makes its methods callable over RPC), or a stand-in with the same
 * constructor outside Workers.
 */
export type DurableObjectBase = abstract new (ctx: never, env: never) => object;

/** Options of {@link stateObjectClass}. */
export interface StateObjectOptions {
  /**
   * The transitions `DurableObjectStore.update` may name, besides bulwark's
   * own (the idempotency store's, always registered; a transition of the same
   * name is refused with `ConfigError`). A transition's `apply` cannot cross RPC: the caller sends its
   * `name` and input, and the object runs the one registered here.
   */
  transitions?: readonly Transition[];
}

/** An instance of the class {@link stateObjectClass} makes. */
export interface StateObject extends StateObjectRpc {
  /** Deletes expired entries and schedules the next clean-up (the object's alarm handler). */
  alarm(): Promise<void>;
}

/**
 * The class {@link stateObjectClass} makes from `Base`: export it from the
 * Worker's main module. It keeps `Base`'s constructor and instance type, so
 * given `DurableObject` it is still a `DurableObject` to TypeScript (the brand
 * the bindings `wrangler types` generates require:
 * `DurableObjectNamespace<YourClass>`), and a {@link StateObject}.
 */
export type StateObjectClass<B extends DurableObjectBase = DurableObjectBase> = new (
  ...args: ConstructorParameters<B>
) => InstanceType<B> & StateObject;

/**
 * bulwark's own transitions, which every state object runs without the user
 * listing them: the idempotency store's claim, finish and set, and the
 * distributed rate limits' five algorithms. The adapter imports them from
 * the core, never the reverse.
 */
const BUILT_IN_TRANSITIONS: readonly Transition[] = [...IDEMPOTENCY_TRANSITIONS, ...RATE_LIMIT_TRANSITIONS];

const SCHEMA = `CREATE TABLE IF NOT EXISTS bulwark_entries (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  version TEXT NOT NULL,
  expires_at INTEGER
)`;

/**
 * Makes the Durable Object class that holds `DurableObjectStore` state.
 * Export the result from the Worker's main module under the `class_name` of
 * the binding, with a `new_sqlite_classes` migration in `wrangler.toml`:
 *
 * ```ts ignore
 * import { DurableObject } from "cloudflare:workers";
 * import { stateObjectClass } from "bulwark/cloudflare";
 * export class BulwarkStateObject extends stateObjectClass(DurableObject, { transitions: [myTransition] }) {}
 * ```
 *
 * bulwark's own transitions are registered by default, merged with
 * `options.transitions`: the idempotency store's (`IDEMPOTENCY_TRANSITIONS`)
 * and the distributed rate limits' (`RATE_LIMIT_TRANSITIONS`), so an
 * `IdempotencyStore` or a `DistributedRateLimiter` over a
 * `DurableObjectStore` needs nothing listed.
 * A transition of yours with one of their names is refused with
 * `ConfigError`.
 *
 * Taking `DurableObject` as an argument keeps `bulwark/cloudflare` free of
 * `"cloudflare:workers"` imports, so it also loads (and its tests run) on
 * Node, Deno and Bun.
 *
 * Inside the object every RPC method runs to completion without yielding
 * between its read and its write (SQLite storage is synchronous), so
 * conditional writes and transitions are atomic. Time is the object's own
 * `Date.now()`. Entries with a TTL are deleted by the object's alarm once
 * they expire (reads skip them before that).
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { stateObjectClass } from "bulwark/cloudflare";
 * // Outside Workers: SQLite in memory stands in for the object's storage.
 * const db = new DatabaseSync(":memory:");
 * const ctx = {
 *   storage: {
 *     sql: { exec: (query: string, ...args: any[]) => {
 *         const rows = db.prepare(query).all(...args) as Record<string, unknown>[];
 *         return { toArray: () => rows };
 *       } },
 *     getAlarm: async () => null,
 *     setAlarm: async () => {},
 *   },
 * };
 * const counter = { name: "example.count", apply: (current: unknown) => ({ next: Number(current ?? 0) + 1, output: Number(current ?? 0) + 1 }) };
 * const StateObject = stateObjectClass(class { constructor(_ctx: unknown, _env: unknown) {} }, { transitions: [counter] });
 * const object = new StateObject(ctx, undefined as never);
 * await object.update("hits", "example.count", null);
 * const result = await object.update("hits", "example.count", null);
 * if (!result.ok || result.output !== 2) throw new Error("expected the second hit");
 * ```
 */
export function stateObjectClass<B extends DurableObjectBase>(Base: B, options: StateObjectOptions = {}): StateObjectClass<B> {
  const transitions = new Map<string, Transition>();
  for (const transition of BUILT_IN_TRANSITIONS) transitions.set(transition.name, transition);
  for (const transition of options.transitions ?? []) {
    // Replacing bulwark's own would change what every IdempotencyStore on this object decides.
    if (BUILT_IN_TRANSITIONS.some((own) => own.name === transition.name)) {
      throw new ConfigError("stateObjectClass", [{
        field: "transitions",
        value: transition.name,
        allowed: "transitions whose names are not bulwark's own (registered already)",
      }]);
    }
    transitions.set(transition.name, transition);
  }
  // The mixin's own constructor is (ctx, env); the type says it is Base's, which workerd calls it with.
  const Mixin = class BulwarkStateObject extends (Base as DurableObjectBase) implements StateObject {
    readonly #storage: DurableObjectStateLike["storage"];
    readonly #sql: SqlStorageLike;

    constructor(ctx: DurableObjectStateLike, env: never) {
      super(ctx as never, env);
      this.#storage = ctx.storage;
      this.#sql = ctx.storage.sql;
      this.#sql.exec(SCHEMA);
    }

    get(key: string, nowMs: number): Promise<WireEntry | null> {
      return Promise.resolve(this.#live(key, nowMs));
    }

    set(key: string, value: string, version: string, expiresAt: number | null): Promise<void> {
      return this.#write(key, { value, version, expiresAt });
    }

    delete(key: string, nowMs: number): Promise<boolean> {
      const live = this.#live(key, nowMs) !== null;
      this.#sql.exec("DELETE FROM bulwark_entries WHERE key = ?", key);
      return Promise.resolve(live);
    }

    async insertIfAbsent(key: string, value: string, version: string, expiresAt: number | null, nowMs: number): Promise<WireWriteResult> {
      const current = this.#live(key, nowMs);
      if (current !== null) return { ok: false, current };
      const entry = { value, version, expiresAt };
      await this.#write(key, entry);
      return { ok: true, entry };
    }

    async compareAndSet(
      key: string,
      expected: string,
      value: string,
      version: string,
      expiresAt: number | null,
      nowMs: number,
    ): Promise<WireWriteResult> {
      const current = this.#live(key, nowMs);
      if (current?.version !== expected) return { ok: false, current };
      const entry = { value, version, expiresAt };
      await this.#write(key, entry);
      return { ok: true, entry };
    }

    compareAndDelete(key: string, expected: string): Promise<boolean> {
      const found = this.#sql.exec("SELECT version FROM bulwark_entries WHERE key = ?", key).toArray()[0];
      if (found?.version !== expected) return Promise.resolve(false);
      this.#sql.exec("DELETE FROM bulwark_entries WHERE key = ?", key);
      return Promise.resolve(true);
    }

    async update(key: string, name: string, input: Json): Promise<WireUpdateResult> {
      const transition = transitions.get(name);
      if (transition === undefined) {
        const known = [...transitions.keys()].map((n) => `'${n}'`).join(", ") || "none";
        return {
          ok: false,
          reason: "unknown-transition",
          detail: `the Durable Object class has no transition '${name}' (registered: ${known}); ` +
            `pass it in stateObjectClass(DurableObject, { transitions: [...] })`,
        };
      }
      const now = Date.now();
      const current = this.#live(key, now);
      let result: TransitionResult;
      try {
        result = transition.apply(current === null ? undefined : JSON.parse(current.value) as Json, input, now);
      } catch (error) {
        return { ok: false, reason: "threw", detail: `transition '${name}' threw: ${error instanceof Error ? error.message : String(error)}` };
      }
      if (typeof result !== "object" || result === null || !("next" in result) || !("output" in result)) {
        return { ok: false, reason: "threw", detail: `transition '${name}' returned ${String(result)}, not { next, output, ttlMs? }` };
      }
      if (result.next === UNCHANGED) return { ok: true, output: result.output };
      if (result.next === undefined) {
        this.#sql.exec("DELETE FROM bulwark_entries WHERE key = ?", key);
        return { ok: true, output: result.output };
      }
      const text = JSON.stringify(result.next);
      const bytes = new TextEncoder().encode(text).length;
      if (bytes > DO_MAX_VALUE_BYTES) {
        return {
          ok: false,
          reason: "too-large",
          detail: `transition '${name}' produced a value of ${bytes} bytes of JSON; durable-object allows at most ${DO_MAX_VALUE_BYTES}`,
          limit: DO_MAX_VALUE_BYTES,
          actual: bytes,
        };
      }
      await this.#write(key, { value: text, version: crypto.randomUUID(), expiresAt: result.ttlMs === undefined ? null : now + result.ttlMs });
      return { ok: true, output: result.output };
    }

    async alarm(): Promise<void> {
      const now = Date.now();
      this.#sql.exec("DELETE FROM bulwark_entries WHERE expires_at IS NOT NULL AND expires_at <= ?", now);
      const next = this.#sql.exec("SELECT MIN(expires_at) AS next FROM bulwark_entries").toArray()[0]?.next;
      if (typeof next === "number") await this.#storage.setAlarm(next);
    }

    /**
     * The entry live at `now` (the caller's clock, or the object's), or
     * `null`. The row is deleted only once the object's own clock has it
     * expired, as the alarm would: a caller whose clock runs ahead must not
     * delete a row that `update` dated on the object's clock and holds live
     * (an idempotency claim read from such a Worker would be lost, and the
     * next claim win).
     */
    #live(key: string, now: number): WireEntry | null {
      const row = this.#sql.exec("SELECT value, version, expires_at FROM bulwark_entries WHERE key = ?", key).toArray()[0];
      if (row === undefined) return null;
      const expiresAt = row.expires_at === null ? null : Number(row.expires_at);
      if (expiresAt !== null && expiresAt <= now) {
        if (expiresAt <= Date.now()) this.#sql.exec("DELETE FROM bulwark_entries WHERE key = ?", key);
        return null;
      }
      return { value: String(row.value), version: String(row.version), expiresAt };
    }

    /** Writes `entry`, then schedules its clean-up if it expires before the next one due. */
    async #write(key: string, entry: WireEntry): Promise<void> {
      this.#sql.exec(
        `INSERT INTO bulwark_entries (key, value, version, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at`,
        key,
        entry.value,
        entry.version,
        entry.expiresAt,
      );
      if (entry.expiresAt !== null) {
        // Storage calls keep the object's input gate closed: no other call runs in between.
        const scheduled = await this.#storage.getAlarm();
        if (scheduled === null || scheduled > entry.expiresAt) await this.#storage.setAlarm(entry.expiresAt);
      }
    }
  };
  return Mixin as unknown as StateObjectClass<B>;
}
