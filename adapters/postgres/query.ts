/**
 * The one thing {@link PostgresStore} needs from a PostgreSQL driver: a
 * function that runs one parameterized statement and resolves to its rows.
 * The adapter never imports a driver: bring your own, wrapped by one of the
 * functions below (or any function of this shape).
 *
 * @module
 */

/** One row, column name to value, as the driver returns it. */
export type SqlRow = Record<string, unknown>;

/**
 * Runs one statement with `$1, $2, ...` placeholders and resolves to its
 * rows; rejects with the driver's error (whose `code` is the SQLSTATE, as
 * both `pg` and `postgres` give it). The store passes only strings and
 * `null` as parameters, with explicit casts in the SQL, so any driver
 * serializes them alike.
 *
 * @example
 * ```ts
 * import type { SqlQuery } from "bulwark/postgres";
 * const query: SqlQuery = (sql, params) => Promise.resolve({ rows: [{ sql, params }] });
 * const { rows } = await query("SELECT $1::text AS a", ["x"]);
 * if (rows.length !== 1) throw new Error("unexpected");
 * ```
 */
export type SqlQuery = (sql: string, params: unknown[]) => Promise<{ rows: SqlRow[] }>;

/** What {@link fromPg} calls: `query(text, values)` of a `pg` `Pool` or `Client`. */
export interface PgLike {
  query(text: string, values: unknown[]): Promise<{ rows: SqlRow[] }>;
}

/**
 * Wraps a `pg` `Pool` (or a connected `Client`) as a {@link SqlQuery}. A
 * pool is the usual choice: every store operation is one statement, so it
 * never holds a connection between statements.
 *
 * @example
 * ```ts
 * import { fromPg } from "bulwark/postgres";
 * // A stand-in for `new pg.Pool(...)`.
 * const pool = { query: (text: string, values: unknown[]) => Promise.resolve({ rows: [{ text, n: values.length }] }) };
 * const { rows } = await fromPg(pool)("SELECT $1::text", ["x"]);
 * if (rows[0]?.n !== 1) throw new Error("unexpected");
 * ```
 */
export function fromPg(pool: PgLike): SqlQuery {
  return (sql, params) => pool.query(sql, params);
}

/** What {@link fromPostgresJs} calls: `unsafe(query, params)` of a `postgres` (porsager) instance. */
export interface PostgresJsLike {
  unsafe(query: string, params: never[]): PromiseLike<ArrayLike<SqlRow>>;
}

/**
 * Wraps a `postgres` (porsager's postgres.js) instance as a
 * {@link SqlQuery}. Statements go through `sql.unsafe(query, params)`,
 * which still sends the parameters separately (no interpolation: the only
 * text the store builds into SQL is the table name, checked as an
 * identifier).
 *
 * @example
 * ```ts
 * import { fromPostgresJs } from "bulwark/postgres";
 * // A stand-in for `postgres(url)`: `unsafe` resolves to an array of rows.
 * const sql = { unsafe: (query: string, params: never[]) => Promise.resolve([{ query, n: params.length }]) };
 * const { rows } = await fromPostgresJs(sql)("SELECT $1::text", ["x"]);
 * if (rows[0]?.n !== 1) throw new Error("unexpected");
 * ```
 */
export function fromPostgresJs(sql: PostgresJsLike): SqlQuery {
  return async (query, params) => ({ rows: Array.from(await sql.unsafe(query, params as never[])) });
}
