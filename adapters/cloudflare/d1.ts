/**
 * `D1Store`: a `Store` over a Cloudflare D1 database.
 *
 * @module
 */
import { optional, satisfying } from "../../src/validation.ts";
import type { Json, Transition } from "../../src/store/store.ts";
import {
  type RawEntry,
  type RawOptions,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptionShape,
  type StoreAdapterOptions,
} from "../../src/store/adapter.ts";
import type { StoreCapabilities } from "../../src/store/store.ts";
import { type Binding, type D1DatabaseLike, resolveBinding } from "./bindings.ts";
import { checkBinding } from "./checks.ts";
import { rateLimitParameters, rateLimitStatements } from "./d1_rate_limit_sql.ts";

/** D1's largest string, BLOB or row, in bytes. */
const D1_MAX_ROW_BYTES = 2_000_000;
/** Our bound on keys: D1 has none but the row's, and keys this long are a bug. */
const D1_MAX_KEY_BYTES = 2_048;
/** Room in the row for the version, the expiry and SQLite's record header. */
const ROW_OVERHEAD_BYTES = 128;
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

let ownOptions: StoreAdapterOptionShape | undefined;

/** Built on first construction, never at import. */
function d1Options(): StoreAdapterOptionShape {
  const allowed = "a SQL identifier (a letter or _, then letters, digits or _; at most 63 characters)";
  return (ownOptions ??= {
    table: optional(satisfying<string>((value) => typeof value === "string" && TABLE_NAME.test(value), allowed)),
  });
}

/** Options of {@link D1Store}: the common store options, plus the table. */
export interface D1StoreOptions extends StoreAdapterOptions {
  /** The table that holds the entries, created on first use. Default `"bulwark_store"`. */
  table?: string;
}

interface Row {
  value: string;
  version: string;
  expires_at: number | null;
}

/**
 * A `Store` over a D1 database: one row per key in a table it creates
 * on first use (`CREATE TABLE IF NOT EXISTS`, or ahead of time with
 * {@link D1Store.migrate}). Strongly consistent and atomic: every
 * conditional write is one SQL statement (`INSERT ... ON CONFLICT ... DO
 * UPDATE ... WHERE` for insert-if-absent, `UPDATE ... WHERE version = ?` for
 * compare-and-set) and wins only if it changed a row. `update` is a
 * compare-and-set loop (D1 runs no JavaScript next to the data), except
 * for the distributed rate limits' transitions (fixed window, both sliding
 * windows, token bucket, GCRA) on a database with `batch`: SQLite decides
 * those in one `db.batch()` of two statements, on its own clock (one round
 * trip, no conflict).
 *
 * Expiry is an `expires_at` column (epoch ms, the store's clock) checked by
 * every read and conditional write; expired rows stay until overwritten or
 * {@link D1Store.purgeExpired} deletes them (from a Cron Trigger, say).
 *
 * Limits: keys up to 2 KiB (prefix included); values up to D1's 2,000,000
 * byte row less the key and bookkeeping. Reads go to the primary database
 * (no read replicas through the Sessions API), hence `"strong"`.
 *
 * The database is passed as is, or as a function that returns it, called on
 * every operation (for a store built at module scope). The constructor
 * performs no I/O.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { D1Store, type D1DatabaseLike, type D1PreparedStatementLike } from "bulwark/cloudflare";
 * // In a Worker: new D1Store(env.STATE_DB). Here, SQLite in memory behind D1's interface.
 * const sqlite = new DatabaseSync(":memory:");
 * const d1: D1DatabaseLike = {
 *   prepare(query) {
 *     const bound = (args: any[]): D1PreparedStatementLike => ({
 *       bind: (...more) => bound(more),
 *       first: async <T>() => (sqlite.prepare(query).get(...args) ?? null) as T | null,
 *       run: async () => ({ meta: { changes: Number(sqlite.prepare(query).run(...args).changes) } }),
 *     });
 *     return bound([]);
 *   },
 * };
 * const store = new D1Store(d1);
 * const claims = await Promise.all([1, 2, 3].map((n) => store.insertIfAbsent("job:42", { worker: n })));
 * if (claims.filter((claim) => claim.ok).length !== 1) throw new Error("exactly one claim wins");
 * ```
 */
export class D1Store extends StoreAdapter {
  /** `"d1"`. */
  readonly name: string = "d1";
  /** Strong and atomic; D1's limits. */
  readonly capabilities: StoreCapabilities = {
    atomic: true,
    consistency: "strong",
    maxKeyBytes: D1_MAX_KEY_BYTES,
    maxValueBytes: D1_MAX_ROW_BYTES - D1_MAX_KEY_BYTES - ROW_OVERHEAD_BYTES,
    minTtlMs: 0,
    minWriteIntervalMs: 0,
    runsTransitions: false,
  };
  /** The table that holds the entries. */
  readonly table: string;
  readonly #database: Binding<D1DatabaseLike>;
  /** Set once the table is known to exist; a flag, not a shared promise (no promise crosses requests on Workers). */
  #ready = false;
  /** The rate-limit statements on this table, built on first use. */
  #rateLimits: ReadonlyMap<string, { readonly read: string; readonly decide: string }> | undefined;

  constructor(database: Binding<D1DatabaseLike>, options?: D1StoreOptions) {
    const binding = checkBinding<D1DatabaseLike>("D1Store", database, "a D1 database", ["prepare"]);
    super("D1Store", options, d1Options());
    this.#database = binding;
    this.table = (this.adapterOptions as D1StoreOptions).table ?? "bulwark_store";
  }

  /**
   * Creates the table if it does not exist. Optional: the first operation
   * does it too. Call it from a deploy step to keep DDL off the request path.
   *
   * @example
   * ```ts
   * import { D1Store, type D1DatabaseLike } from "bulwark/cloudflare";
   * const queries: string[] = [];
   * const statement = { bind: () => statement, first: async () => null, run: async () => ({ meta: { changes: 0 } }) };
   * const d1: D1DatabaseLike = { prepare: (query) => (queries.push(query), statement) };
   * await new D1Store(d1, { table: "app_state" }).migrate();
   * if (!queries[0]?.startsWith("CREATE TABLE IF NOT EXISTS app_state")) throw new Error(queries[0]);
   * ```
   */
  async migrate(): Promise<void> {
    await resolveBinding(this.#database).prepare(
      `CREATE TABLE IF NOT EXISTS ${this.table} (key TEXT PRIMARY KEY, value TEXT NOT NULL, version TEXT NOT NULL, expires_at INTEGER)`,
    ).run();
    this.#ready = true;
  }

  /**
   * Deletes the rows that expired by the store's clock; resolves to how many.
   *
   * @example
   * ```ts
   * import { D1Store, type D1DatabaseLike } from "bulwark/cloudflare";
   * const statement = { bind: () => statement, first: async () => null, run: async () => ({ meta: { changes: 3 } }) };
   * const d1: D1DatabaseLike = { prepare: () => statement };
   * if (await new D1Store(d1).purgeExpired() !== 3) throw new Error("expected 3 rows");
   * ```
   */
  async purgeExpired(): Promise<number> {
    const result = await this.#statement(`DELETE FROM ${this.table} WHERE expires_at IS NOT NULL AND expires_at <= ?`, this.clock.wallNow());
    return result.meta.changes;
  }

  protected async getRaw(key: string): Promise<RawEntry | undefined> {
    await this.#ensure();
    const row = await this.#database_().prepare(`SELECT value, version, expires_at FROM ${this.table} WHERE key = ?`).bind(key).first<Row>();
    return row === null ? undefined : toEntry(row);
  }

  protected async setRaw(key: string, write: RawWrite): Promise<string> {
    await this.#statement(
      `INSERT INTO ${this.table} (key, value, version, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at`,
      key,
      write.json,
      write.version,
      write.expiresAt ?? null,
    );
    return write.version;
  }

  protected async deleteRaw(key: string, _options: RawOptions, nowMs: number): Promise<boolean> {
    await this.#ensure();
    const row = await this.#database_().prepare(`DELETE FROM ${this.table} WHERE key = ? RETURNING expires_at`).bind(key)
      .first<{ expires_at: number | null }>();
    return row !== null && (row.expires_at === null || row.expires_at > nowMs);
  }

  protected async insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    // One statement: inserts, or replaces a row that has expired; else changes nothing.
    const result = await this.#statement(
      `INSERT INTO ${this.table} (key, value, version, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
       WHERE ${this.table}.expires_at IS NOT NULL AND ${this.table}.expires_at <= ?`,
      key,
      write.json,
      write.version,
      write.expiresAt ?? null,
      write.nowMs,
    );
    if (result.meta.changes === 1) return { ok: true, version: write.version };
    return { ok: false, current: await this.getRaw(key) };
  }

  protected async compareAndSetRaw(key: string, expected: string, write: RawWrite): Promise<RawWriteResult> {
    const result = await this.#statement(
      `UPDATE ${this.table} SET value = ?, version = ?, expires_at = ?
       WHERE key = ? AND version = ? AND (expires_at IS NULL OR expires_at > ?)`,
      write.json,
      write.version,
      write.expiresAt ?? null,
      key,
      expected,
      write.nowMs,
    );
    if (result.meta.changes === 1) return { ok: true, version: write.version };
    return { ok: false, current: await this.getRaw(key) };
  }

  protected async compareAndDeleteRaw(key: string, expected: string): Promise<boolean> {
    const result = await this.#statement(`DELETE FROM ${this.table} WHERE key = ? AND version = ?`, key, expected);
    return result.meta.changes === 1;
  }

  /** A rate-limit transition, on a database with `batch`: one round trip, no race to lose. */
  protected override runsInOneCall(transition: Transition): boolean {
    return this.#statements(transition.name) !== undefined && typeof this.#database_().batch === "function";
  }

  /**
   * A rate-limit transition (fixed window, both sliding windows, token
   * bucket, GCRA) on a database with `batch`: one batch of two statements
   * (see `d1_rate_limit_sql.ts`), decided in SQLite on its clock. Anything
   * else: the compare-and-set loop.
   */
  protected override updateRaw<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    options: RawOptions,
    cancelled: AbortSignal,
  ): O | PromiseLike<O> {
    const statements = this.#statements(transition.name);
    const database = this.#database_();
    if (statements === undefined || typeof database.batch !== "function") return super.updateRaw(key, transition, input, options, cancelled);
    return this.#decide(database, statements, key, transition, input);
  }

  async #decide<I extends Json, O extends Json>(
    database: D1DatabaseLike,
    statements: { readonly read: string; readonly decide: string },
    key: string,
    transition: Transition<I, O>,
    input: I,
  ): Promise<O> {
    await this.#ensure();
    const parameters = rateLimitParameters(key, this.newVersion(), input as unknown as Record<string, number>);
    const [read, decided] = await database.batch!([
      database.prepare(statements.read).bind(...parameters),
      database.prepare(statements.decide).bind(...parameters),
    ]);
    const row = read?.results?.[0] as { now: number; value: string | null; expires_at: number | null } | undefined;
    const written = decided?.results?.[0] as { now: number } | undefined;
    if (row === undefined || decided?.results === undefined) throw new Error("unexpected result from D1: no rows");
    return decidedOutput(transition, input, row, written);
  }

  #statements(name: string): { readonly read: string; readonly decide: string } | undefined {
    return (this.#rateLimits ??= rateLimitStatements(this.table)).get(name);
  }

  #database_(): D1DatabaseLike {
    return resolveBinding(this.#database);
  }

  async #ensure(): Promise<void> {
    if (!this.#ready) await this.migrate();
  }

  async #statement(query: string, ...values: unknown[]): Promise<{ meta: { changes: number } }> {
    await this.#ensure();
    return await this.#database_().prepare(query).bind(...values).run();
  }
}

function toEntry(row: Row): RawEntry {
  return {
    value: JSON.parse(row.value) as Json,
    version: row.version,
    expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
  };
}

/**
 * The output of a decision SQLite made: the TypeScript transition on the
 * state the batch read, at the decision's time if it admitted (`written`),
 * else at the read's (a moment earlier: it refused then too). It must
 * decide as SQLite did.
 */
function decidedOutput<I extends Json, O extends Json>(
  transition: Transition<I, O>,
  input: I,
  row: { now: number; value: string | null; expires_at: number | null },
  written: { now: number } | undefined,
): O {
  const now = Number(written === undefined ? row.now : written.now);
  let current: Json | undefined;
  if (row.value !== null && (row.expires_at === null || Number(row.expires_at) > now)) {
    try {
      current = JSON.parse(row.value) as Json;
    } catch {
      current = undefined; // Not JSON: SQLite started fresh too.
    }
  }
  const output = transition.apply(current, input, now).output;
  if (typeof output !== "object" || output === null || (output as { a?: unknown }).a !== (written !== undefined)) {
    throw new Error(
      `${transition.name}: D1 ${written === undefined ? "refused" : "admitted"} but the TypeScript transition decided ${JSON.stringify(output)}`,
    );
  }
  return output;
}
