/**
 * The Durable Object behind `DurableObjectStore`: entries in the object's own
 * SQLite storage, and every conditional write and whole decision run inside
 * the object, where its single thread makes them atomic.
 *
 * @module
 */
import { type Json, type Transition, UNCHANGED } from "../../src/store/store.ts";

/** Longest row SQLite-backed Durable Object storage accepts (a string, BLOB or row). */
const MAX_ROW_BYTES = 2_000_000;

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
  | { readonly ok: false; readonly reason: "unknown-transition" | "too-large"; readonly detail: string };

/**
 * The object's RPC surface: what `DurableObjectStore` calls on a stub.
 * Keys arrive prefixed; values as JSON text; TTLs in ms (`null`: none).
 */
export interface StateObjectRpc {
  /** The live entry under `key`, or `null`. */
  get(key: string): Promise<WireEntry | null>;
  /** Writes unconditionally. */
  set(key: string, value: string, ttlMs: number | null): Promise<WireEntry>;
  /** Removes `key`; whether there was a live entry. */
  delete(key: string): Promise<boolean>;
  /** Writes only if there is no live entry. */
  insertIfAbsent(key: string, value: string, ttlMs: number | null): Promise<WireWriteResult>;
  /** Writes only if the live entry's version is `expected` (`null`: no live entry). */
  compareAndSet(key: string, expected: string | null, value: string, ttlMs: number | null): Promise<WireWriteResult>;
  /** Runs the transition registered as `name` on `key`, with the object's `Date.now()`. */
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
   * own. A transition's `apply` cannot cross RPC: the caller sends its
   * `name` and input, and the object runs the one registered here.
   */
  transitions?: readonly Transition[];
}

/** An instance of the class {@link stateObjectClass} makes. */
export interface StateObject extends StateObjectRpc {
  /** Deletes expired entries and schedules the next clean-up (the object's alarm handler). */
  alarm(): Promise<void>;
}

/** The class {@link stateObjectClass} makes: export it from the Worker's main module. */
export type StateObjectClass = new (ctx: DurableObjectStateLike, env: never) => StateObject;

/**
 * bulwark's own transitions, which every state object runs. (The store-backed
 * rate limits and breakers of the next issues register theirs here.)
 */
const BUILT_IN_TRANSITIONS: readonly Transition[] = [];

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
 *     sql: { exec: (query: string, ...args: any[]) => ({ toArray: () => db.prepare(query).all(...args) as Record<string, unknown>[] }) },
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
export function stateObjectClass(Base: DurableObjectBase, options: StateObjectOptions = {}): StateObjectClass {
  const transitions = new Map<string, Transition>();
  for (const transition of [...BUILT_IN_TRANSITIONS, ...(options.transitions ?? [])]) {
    transitions.set(transition.name, transition);
  }
  return class BulwarkStateObject extends Base implements StateObject {
    readonly #storage: DurableObjectStateLike["storage"];
    readonly #sql: SqlStorageLike;

    constructor(ctx: DurableObjectStateLike, env: never) {
      super(ctx as never, env);
      this.#storage = ctx.storage;
      this.#sql = ctx.storage.sql;
      this.#sql.exec(SCHEMA);
    }

    get(key: string): Promise<WireEntry | null> {
      return Promise.resolve(this.#live(key, Date.now()));
    }

    set(key: string, value: string, ttlMs: number | null): Promise<WireEntry> {
      return this.#afterWrite(this.#write(key, value, ttlMs, Date.now()));
    }

    delete(key: string): Promise<boolean> {
      const live = this.#live(key, Date.now()) !== null;
      this.#sql.exec("DELETE FROM bulwark_entries WHERE key = ?", key);
      return Promise.resolve(live);
    }

    async insertIfAbsent(key: string, value: string, ttlMs: number | null): Promise<WireWriteResult> {
      const now = Date.now();
      const current = this.#live(key, now);
      if (current !== null) return { ok: false, current };
      return { ok: true, entry: await this.#afterWrite(this.#write(key, value, ttlMs, now)) };
    }

    async compareAndSet(key: string, expected: string | null, value: string, ttlMs: number | null): Promise<WireWriteResult> {
      const now = Date.now();
      const current = this.#live(key, now);
      if ((current?.version ?? null) !== expected) return { ok: false, current };
      return { ok: true, entry: await this.#afterWrite(this.#write(key, value, ttlMs, now)) };
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
      const result = transition.apply(current === null ? undefined : JSON.parse(current.value) as Json, input, now);
      if (result.next === UNCHANGED) return { ok: true, output: result.output };
      if (result.next === undefined) {
        this.#sql.exec("DELETE FROM bulwark_entries WHERE key = ?", key);
        return { ok: true, output: result.output };
      }
      const text = JSON.stringify(result.next);
      const bytes = new TextEncoder().encode(text).length + new TextEncoder().encode(key).length;
      if (bytes > MAX_ROW_BYTES) {
        return {
          ok: false,
          reason: "too-large",
          detail: `transition '${name}' produced ${bytes} bytes of key and value; Durable Object storage allows at most ${MAX_ROW_BYTES}`,
        };
      }
      await this.#afterWrite(this.#write(key, text, result.ttlMs ?? null, now));
      return { ok: true, output: result.output };
    }

    async alarm(): Promise<void> {
      const now = Date.now();
      this.#sql.exec("DELETE FROM bulwark_entries WHERE expires_at IS NOT NULL AND expires_at <= ?", now);
      const next = this.#sql.exec("SELECT MIN(expires_at) AS next FROM bulwark_entries").toArray()[0]?.next;
      if (typeof next === "number") await this.#storage.setAlarm(next);
    }

    /** The live entry, deleting it if it has expired. */
    #live(key: string, now: number): WireEntry | null {
      const row = this.#sql.exec("SELECT value, version, expires_at FROM bulwark_entries WHERE key = ?", key).toArray()[0];
      if (row === undefined) return null;
      const expiresAt = row.expires_at === null ? null : Number(row.expires_at);
      if (expiresAt !== null && expiresAt <= now) {
        this.#sql.exec("DELETE FROM bulwark_entries WHERE key = ?", key);
        return null;
      }
      return { value: String(row.value), version: String(row.version), expiresAt };
    }

    #write(key: string, value: string, ttlMs: number | null, now: number): WireEntry {
      const entry: WireEntry = { value, version: crypto.randomUUID(), expiresAt: ttlMs === null ? null : now + ttlMs };
      this.#sql.exec(
        `INSERT INTO bulwark_entries (key, value, version, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at`,
        key,
        value,
        entry.version,
        entry.expiresAt,
      );
      return entry;
    }

    /** Schedules the clean-up of an entry with a TTL, if no earlier one is due. */
    async #afterWrite(entry: WireEntry): Promise<WireEntry> {
      if (entry.expiresAt !== null) {
        const scheduled = await this.#storage.getAlarm();
        if (scheduled === null || scheduled > entry.expiresAt) await this.#storage.setAlarm(entry.expiresAt);
      }
      return entry;
    }
  };
}
