/**
 * {@link PostgresStore}: the Store contract over PostgreSQL, through a query
 * function over the driver you already have (`pg`, `postgres`).
 *
 * @module
 */
import { integer, oneOf, optional, satisfying } from "../../src/validation.ts";
import {
  type Json,
  MAX_UPDATE_ATTEMPTS,
  type RawEntry,
  type RawOptions,
  type RawWrite,
  type RawWriteResult,
  type RawWritten,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreAdapterOptionShape,
  type StoreCapabilities,
  type Transition,
  UNCHANGED,
} from "../../mod.ts";
import type { SqlQuery, SqlRow } from "./query.ts";
import { RATE_LIMIT_SQL_KINDS } from "./rate_limit_sql.ts";
import { isTableName, type Statements, statements, TABLE_NAME_RULE } from "./sql.ts";

/** A btree index entry holds at most ~2.7 KB: the key column's practical limit. */
const POSTGRES_MAX_KEY_BYTES = 2048;
/** `text` holds up to 1 GB; bulwark allows values up to 256 MiB. */
const POSTGRES_MAX_VALUE_BYTES = 256 * 1024 * 1024;
/** SQLSTATE undefined_table: the table is not there yet. */
const UNDEFINED_TABLE = "42P01";
/** SQLSTATE undefined_function: a table migrated before the rate-limit function existed. */
const UNDEFINED_FUNCTION = "42883";

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions extends StoreAdapterOptions {
  /** Runs one statement: {@link fromPg}, {@link fromPostgresJs}, or your own {@link SqlQuery}. */
  query: SqlQuery;
  /** The table, `name` or `schema.name` (an SQL identifier of letters, digits and underscores, not starting with a digit, at most 51 characters, optionally schema-qualified). Default `"bulwark_store"`. */
  table?: string;
  /**
   * `"on-first-use"` (default): the first operation that finds no table
   * creates it (with its sequence and index) and runs again.
   * `"manual"`: never; call {@link PostgresStore.migrate} yourself (from a
   * deploy step, or as a role allowed to create tables).
   */
  migrate?: "on-first-use" | "manual";
  /** Longest key in UTF-8 bytes, prefix included. Default and at most 2048 (a btree index entry's practical limit). */
  maxKeyBytes?: number;
  /** Largest value in UTF-8 bytes of its JSON. Default 1 MiB; at most 256 MiB. */
  maxValueBytes?: number;
}

let ownOptions: StoreAdapterOptionShape | undefined;

/** Built on first construction, never at import. */
function postgresOptions(): StoreAdapterOptionShape {
  return (ownOptions ??= {
    query: satisfying<SqlQuery>(
      (value) => typeof value === "function",
      "a function (sql, params) => Promise<{ rows }>: wrap your driver with fromPg or fromPostgresJs",
    ),
    table: optional(satisfying<string>(isTableName, TABLE_NAME_RULE)),
    migrate: optional(oneOf(["on-first-use", "manual"])),
    maxKeyBytes: optional(integer(1, POSTGRES_MAX_KEY_BYTES)),
    maxValueBytes: optional(integer(1, POSTGRES_MAX_VALUE_BYTES)),
  });
}

function text(row: SqlRow, column: string): string {
  const value = row[column];
  if (typeof value !== "string") throw new Error(`unexpected ${column} from PostgreSQL: ${String(value)}`);
  return value;
}

/** An entry from a row with `value`, `version`, `expires_at` (all text). */
function entryOf(row: SqlRow): RawEntry {
  const expires = row.expires_at;
  return {
    value: JSON.parse(text(row, "value")) as Json,
    version: text(row, "version"),
    expiresAt: expires === null || expires === undefined ? undefined : Number(expires),
  };
}

/** The version and the expiry the server computed, from a row with `version`, `expires_at` (text). */
function written(row: SqlRow): RawWritten {
  const expires = row.expires_at;
  return { version: text(row, "version"), expiresAt: expires === null || expires === undefined ? undefined : Number(expires) };
}

/** The whole TTL in integer ms as text (`$n::bigint` takes no fractions), or null for none. */
function ttlParameter(write: RawWrite): string | null {
  return write.nativeTtlMs === undefined ? null : String(Math.max(1, Math.ceil(write.nativeTtlMs)));
}

function sqlState(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * The Store contract over PostgreSQL, through a query function over the
 * driver you already have ({@link fromPg}, {@link fromPostgresJs}). It
 * imports no driver.
 *
 * - One table (`key text PRIMARY KEY, value text, version bigint,
 *   expires_at bigint`), a sequence for versions (a new one on every write,
 *   never reused) and a partial index on `expires_at`. Created on first use,
 *   or by {@link PostgresStore.migrate} (`migrate: "manual"`).
 * - Every operation is one statement, so atomic and one round trip:
 *   `INSERT ... ON CONFLICT` for `set` and `insertIfAbsent`, a conditional
 *   `UPDATE ... WHERE version = $n RETURNING` for `compareAndSet`. A lost
 *   race reports what the key holds from the same statement; only when that
 *   snapshot predates the winner's commit is it read again (a second).
 * - Expiry is the server's (`now()`, epoch ms in `expires_at`): an expired
 *   row is invisible and overwritten in place; {@link PostgresStore.purgeExpired}
 *   deletes the leftovers (run it now and then).
 * - `update()` reads the row with the server's time (one round trip), runs
 *   the transition here and writes back conditionally (a second): two round
 *   trips, one if the transition writes nothing, two more per lost race. It
 *   never holds a connection or a lock between statements, so a pool
 *   serves it.
 *
 * @example
 * ```ts
 * import { PostgresStore, type SqlQuery } from "bulwark/postgres";
 * // Construction only; with a real driver:
 * //   new PostgresStore({ query: fromPg(new pg.Pool({ connectionString })) })
 * const statements: string[] = [];
 * const query: SqlQuery = (sql) => (statements.push(sql), Promise.resolve({ rows: [] }));
 * const store = new PostgresStore({ query, table: "app.state" });
 * if ((await store.get("missing")) !== undefined || !statements[0]!.includes('"app"."state"')) throw new Error("unexpected");
 * ```
 */
export class PostgresStore extends StoreAdapter {
  /** `"postgres"` */
  readonly name: string = "postgres";
  /** Atomic, strong; the configured limits; any TTL (expiry is checked by the server on every statement). */
  readonly capabilities: StoreCapabilities;
  /** The table, as configured. */
  readonly table: string;
  readonly #query: SqlQuery;
  readonly #sql: Statements;
  readonly #migrateOnFirstUse: boolean;
  #migrating: Promise<void> | undefined;

  /** Throws `ConfigError` naming every bad option. */
  constructor(options: PostgresStoreOptions) {
    super("PostgresStore", options, postgresOptions());
    const own = this.adapterOptions as Pick<
      PostgresStoreOptions,
      "query" | "table" | "migrate" | "maxKeyBytes" | "maxValueBytes"
    >;
    this.#query = own.query;
    this.table = own.table ?? "bulwark_store";
    this.#sql = statements(this.table);
    this.#migrateOnFirstUse = (own.migrate ?? "on-first-use") === "on-first-use";
    this.capabilities = {
      atomic: true,
      consistency: "strong",
      maxKeyBytes: own.maxKeyBytes ?? POSTGRES_MAX_KEY_BYTES,
      maxValueBytes: own.maxValueBytes ?? 1024 * 1024,
      minTtlMs: 0,
      minWriteIntervalMs: 0,
      runsTransitions: false,
    };
  }

  /**
   * Creates the table, its version sequence and its expiry index if they
   * are missing (idempotent; concurrent calls from many processes are
   * serialized by an advisory lock). One round trip. Rejects with the
   * driver's error, or an `Error` once `timeoutMs` passes.
   *
   * @example
   * ```ts
   * import { PostgresStore } from "bulwark/postgres";
   * const seen: string[] = [];
   * const store = new PostgresStore({ query: (sql) => (seen.push(sql), Promise.resolve({ rows: [] })), migrate: "manual" });
   * await store.migrate();
   * if (!seen[0]!.includes("CREATE TABLE IF NOT EXISTS")) throw new Error("unexpected");
   * ```
   */
  migrate(): Promise<void> {
    return this.#bounded(this.#query(this.#sql.migrate, []).then(() => undefined));
  }

  /**
   * Deletes the rows that have expired (they are already invisible) and
   * resolves to how many. One round trip. Rejects like {@link PostgresStore.migrate}.
   *
   * @example
   * ```ts
   * import { PostgresStore } from "bulwark/postgres";
   * const store = new PostgresStore({ query: () => Promise.resolve({ rows: [{ n: "3" }] }) });
   * if ((await store.purgeExpired()) !== 3) throw new Error("unexpected");
   * ```
   */
  async purgeExpired(): Promise<number> {
    const { rows } = await this.#bounded(this.#statement(this.#sql.purgeExpired, []));
    return Number(rows[0]?.n ?? 0);
  }

  /** Rejects with `ERR_STORE_TIMEOUT` past `timeoutMs` (migrate and purge are not Store operations, but wait no longer). */
  #bounded<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.clock.schedule(() => {
        reject(new Error(`PostgreSQL did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      work.then(
        (value) => (cancel(), resolve(value)),
        (error: unknown) => (cancel(), reject(error)),
      );
    });
  }

  /** Runs a statement; on a missing table (first use), creates it once and runs it again. */
  async #statement(sql: string, params: unknown[]): Promise<{ rows: SqlRow[] }> {
    try {
      return await this.#query(sql, params);
    } catch (error) {
      const state = sqlState(error);
      if (!this.#migrateOnFirstUse || (state !== UNDEFINED_TABLE && state !== UNDEFINED_FUNCTION)) throw error;
    }
    // One migration for every operation that finds the table missing at
    // once; a later miss (the table dropped, a fresh database) migrates again.
    this.#migrating ??= this.#query(this.#sql.migrate, []).then(
      () => void (this.#migrating = undefined),
      (error: unknown) => {
        this.#migrating = undefined;
        throw error;
      },
    );
    await this.#migrating;
    return this.#query(sql, params);
  }

  protected async getRaw(key: string): Promise<RawEntry | undefined> {
    const { rows } = await this.#statement(this.#sql.get, [key]);
    return rows.length === 0 ? undefined : entryOf(rows[0]!);
  }

  protected async setRaw(key: string, write: RawWrite): Promise<RawWritten> {
    const { rows } = await this.#statement(this.#sql.set, [key, write.json, ttlParameter(write)]);
    return written(rows[0] ?? {});
  }

  protected async deleteRaw(key: string): Promise<boolean> {
    const { rows } = await this.#statement(this.#sql.delete, [key]);
    return rows[0]?.live === true;
  }

  protected insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    return this.#conditional(key, undefined, write);
  }

  protected compareAndSetRaw(key: string, expectedVersion: string, write: RawWrite): Promise<RawWriteResult> {
    return this.#conditional(key, expectedVersion, write);
  }

  protected async compareAndDeleteRaw(key: string, expectedVersion: string): Promise<boolean> {
    const { rows } = await this.#statement(this.#sql.deleteIfVersion, [key, expectedVersion]);
    return rows.length > 0;
  }

  async #conditional(key: string, expected: string | undefined, write: RawWrite): Promise<RawWriteResult> {
    const { rows } = expected === undefined
      ? await this.#statement(this.#sql.insertIfAbsent, [key, write.json, ttlParameter(write)])
      : await this.#statement(this.#sql.compareAndSet, [key, write.json, ttlParameter(write), expected]);
    const row = rows[0];
    if (row?.ok === true) return { ok: true, ...written(row) };
    const current = row === undefined ? undefined : entryOf(row);
    // The statement's snapshot shows what it would have won against: the
    // winner committed after it began. Read again to report the winner.
    if (current?.version === expected) return { ok: false, current: await this.getRaw(key) };
    return { ok: false, current };
  }

  /**
   * A distributed rate limit's transition: one statement (the table's
   * `_rate_limit` function). Any other: a compare-and-set loop like the
   * base's, but reading the server's time with the row, so every client
   * hands its transitions the same clock.
   */
  protected override async updateRaw<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    _options: RawOptions,
    cancelled: AbortSignal,
  ): Promise<O> {
    const kind = RATE_LIMIT_SQL_KINDS.get(transition.name);
    if (kind !== undefined) {
      // A distributed rate limit: one statement, decided by the server (rate_limit_sql.ts).
      const { rows } = await this.#statement(this.#sql.rateLimit, [key, kind, JSON.stringify(input)]);
      return JSON.parse(text(rows[0] ?? {}, "out")) as O;
    }
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      if (cancelled.aborted) throw cancelled.reason;
      const { rows } = await this.#statement(this.#sql.readForUpdate, [key]);
      const row = rows[0] ?? {};
      const nowMs = Number(text(row, "now"));
      const current = row.version === null || row.version === undefined ? undefined : entryOf(row);
      const result = this.applyTransition(transition, current?.value, input, nowMs);
      if (result.next === UNCHANGED) return result.output;
      let won: boolean;
      if (result.next === undefined) {
        won = current === undefined || await this.compareAndDeleteRaw(key, current.version);
      } else {
        const write = this.prepareWrite(result.json!, result.next, result.ttlMs, nowMs);
        won = (await this.#conditional(key, current?.version, write)).ok;
      }
      if (won) return result.output;
      // Contenders spread out: the first retry is immediate, then a short jittered backoff.
      if (attempt > 0) await this.clock.sleep(Math.random() * Math.min(50, 2 ** Math.min(attempt, 6)), cancelled);
    }
    throw new Error(`update lost ${MAX_UPDATE_ATTEMPTS} compare-and-set races in a row`);
  }
}
