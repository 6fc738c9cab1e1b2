/**
 * The SQL behind {@link PostgresStore}: one statement per operation, so each
 * is atomic and one round trip. Times are the server's (`now()`, epoch ms
 * as a bigint), so many clients with skewed clocks agree on expiry.
 * Versions come from a sequence beside the table: a new one on every write,
 * never reused (not even after a delete).
 *
 * @module
 */

import { rateLimitFunction } from "./rate_limit_sql.ts";

/** `schema.table` or `table`; each part a plain SQL identifier, short enough for the sequence and index names derived from it. */
const TABLE_NAME = /^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,50}$/;

/** What a valid table name looks like, for error messages. */
export const TABLE_NAME_RULE: string =
  "an SQL identifier (letters, digits, underscores, not starting with a digit, at most 51 characters), optionally schema-qualified";

/** Whether `name` is a table name {@link PostgresStore} accepts. */
export function isTableName(name: unknown): name is string {
  return typeof name === "string" && TABLE_NAME.test(name);
}

/** Epoch ms of the statement's start, on the server. */
const NOW_MS = "floor(extract(epoch from now()) * 1000)::bigint";
const LIVE = `(expires_at IS NULL OR expires_at > ${NOW_MS})`;
/** Every entry column, as text (both drivers return text alike). */
const ENTRY = "value, version::text AS version, expires_at::text AS expires_at";

/** The statements for one table. */
export interface Statements {
  readonly migrate: string;
  readonly get: string;
  readonly readForUpdate: string;
  readonly set: string;
  readonly delete: string;
  readonly deleteIfVersion: string;
  readonly insertIfAbsent: string;
  readonly compareAndSet: string;
  readonly purgeExpired: string;
  /** One rate-limit decision: $1 key, $2 kind, $3 input JSON (see rate_limit_sql.ts); returns `out`. */
  readonly rateLimit: string;
}

/** Builds the statements for `table` (already checked with {@link isTableName}). */
export function statements(table: string): Statements {
  const parts = table.split(".");
  const quote = (name: string) => `"${name}"`;
  const last = parts[parts.length - 1]!;
  const schema = parts.length === 2 ? `${quote(parts[0]!)}.` : "";
  const t = `${schema}${quote(last)}`;
  const sequence = `${schema}${quote(`${last}_version`)}`;
  // nextval() takes the sequence's name as text: quoted, in a string literal.
  const nextVersion = `nextval('${sequence}')`;
  const rateLimitFn = `${schema}${quote(`${last}_rate_limit`)}`;
  // The conflicting-row fallback reads the snapshot the statement started
  // with; the store re-reads when that snapshot is older than the conflict.
  const orCurrent = (written: string) => `
SELECT true AS ok, NULL::text AS value, version::text AS version, expires_at::text AS expires_at FROM ${written}
UNION ALL
SELECT false, ${ENTRY} FROM ${t} WHERE key = $1 AND ${LIVE} AND NOT EXISTS (SELECT 1 FROM ${written})`;
  return {
    // One statement (DO), so it is atomic; the advisory lock serializes
    // concurrent first uses, which CREATE ... IF NOT EXISTS alone does not.
    migrate: `DO $migrate$ BEGIN
  SET LOCAL client_min_messages = warning; -- no "already exists, skipping" notices
  PERFORM pg_advisory_xact_lock(hashtext('bulwark.store.migrate'));
  CREATE SEQUENCE IF NOT EXISTS ${sequence};
  CREATE TABLE IF NOT EXISTS ${t} (
    key text PRIMARY KEY,
    value text NOT NULL,
    version bigint NOT NULL,
    expires_at bigint
  );
  CREATE INDEX IF NOT EXISTS ${quote(`${last}_expires_at`)} ON ${t} (expires_at) WHERE expires_at IS NOT NULL;
  ${rateLimitFunction(rateLimitFn, t, sequence)};
END $migrate$`,
    get: `SELECT ${ENTRY} FROM ${t} WHERE key = $1 AND ${LIVE}`,
    readForUpdate: `SELECT ${NOW_MS}::text AS now, e.value, e.version::text AS version, e.expires_at::text AS expires_at
FROM (SELECT 1) AS one LEFT JOIN ${t} AS e ON e.key = $1 AND (e.expires_at IS NULL OR e.expires_at > ${NOW_MS})`,
    set: `INSERT INTO ${t} AS e (key, value, version, expires_at)
VALUES ($1, $2, ${nextVersion}, ${NOW_MS} + $3::bigint)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
RETURNING version::text AS version, expires_at::text AS expires_at`,
    delete: `DELETE FROM ${t} WHERE key = $1 RETURNING ${LIVE} AS live`,
    deleteIfVersion: `DELETE FROM ${t} WHERE key = $1 AND version::text = $2 AND ${LIVE} RETURNING true AS ok`,
    // An expired row is as good as absent: overwritten in place.
    insertIfAbsent: `WITH written AS (
  INSERT INTO ${t} AS e (key, value, version, expires_at)
  VALUES ($1, $2, ${nextVersion}, ${NOW_MS} + $3::bigint)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
  WHERE e.expires_at IS NOT NULL AND e.expires_at <= ${NOW_MS}
  RETURNING version, expires_at
)${orCurrent("written")}`,
    compareAndSet: `WITH written AS (
  UPDATE ${t} SET value = $2, version = ${nextVersion}, expires_at = ${NOW_MS} + $3::bigint
  WHERE key = $1 AND version::text = $4 AND ${LIVE}
  RETURNING version, expires_at
)${orCurrent("written")}`,
    rateLimit: `SELECT ${rateLimitFn}($1, $2, $3) AS out`,
    purgeExpired: `WITH purged AS (DELETE FROM ${t} WHERE expires_at <= ${NOW_MS} RETURNING 1) SELECT count(*)::text AS n FROM purged`,
  };
}
