/**
 * The distributed rate limits' transitions (`RATE_LIMIT_TRANSITIONS` in the
 * core) as SQLite statements for {@link D1Store}: each decision is one
 * `db.batch()` (one round trip, one transaction) of two statements on the
 * key's row:
 *
 * 1. `SELECT` of the row as it is (the state the decision starts from) and
 *    the engine's time;
 * 2. `INSERT ... SELECT ... ON CONFLICT DO UPDATE ... RETURNING`: reads the
 *    row, decides at the engine's time (`julianday('now')`, the same value
 *    for the whole statement), writes the next state only if it admits, and
 *    returns that time (no row: refused).
 *
 * The statement computes exactly what the TypeScript algorithm computes (the
 * same arithmetic in the same order on doubles; the state is written with
 * 17 significant digits, every double exactly). The client then computes the output
 * (remaining, reset, retry-after) with the TypeScript transition on the
 * state the statement read, at its time (an admission) or at the `SELECT`'s
 * (a refusal: a moment earlier, when it refused too, since no algorithm
 * admits less as time passes), and checks it decided the same.
 *
 * The exact sliding-window log (a list of times) stays a compare-and-set
 * loop.
 *
 * @module
 */
import { RATE_LIMIT_TRANSITION_NAMES } from "../../src/rate_limit/transition_names.ts";

/** The engine's time in integer epoch ms, or the tests' (`?` bound to a number, else NULL). */
const NOW = `COALESCE(CAST(?5 AS REAL), CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS REAL))`;

/** `x` as a REAL (SQLite divides two INTEGERs as integers). */
const real = (x: string) => `CAST(${x} AS REAL)`;
/** Floor of `x` >= 0, as a REAL. */
const floor = (x: string) => `CAST(CAST(${x} AS INTEGER) AS REAL)`;
/**
 * `x` as JSON text with every digit: SQLite's `json_object` and `CAST(... AS TEXT)` keep 15
 * significant digits; its `printf` with `!` goes to 26, so `%!.17g` is exact.
 */
const num = (x: string) => `printf('%!.17g', ${x})`;
/** A JSON object of numbers, written by hand with {@link num}. */
const object = (fields: Record<string, string>) =>
  Object.entries(fields).map(([name, x], i) => `'${i === 0 ? "{" : ","}"${name}":' || ${num(x)}`).join(" || ") + " || '}'";
/** A field of the state, as a REAL. */
const field = (name: string) => real(`json_extract(raw, '$.${name}')`);

/**
 * The decision on `table`: `derived` are columns computed in order from
 * `s` (key, now, raw: the live state if it is a JSON object, else NULL,
 * cost, and the input's numbers: lim, win / rate, per, burst); a row is
 * written (`value`, expiring `reset` ms on) only if `admitted`.
 * Parameters: see {@link rateLimitParameters}.
 */
function upsert(table: string, derived: string[], admitted: string, value: string, reset: string): string {
  // Each CTE adds the columns the next needs: SQLite has no aliases within one SELECT.
  const ctes = derived.map((columns, i) => `d${i + 1} AS (SELECT *, ${columns} FROM d${i})`).join(",\n  ");
  return `WITH s0 AS (
    SELECT ?1 AS key, ${NOW} AS now, CAST(?3 AS REAL) AS cost,
      CAST(?4 AS REAL) AS lim, CAST(?6 AS REAL) AS win, CAST(?4 AS REAL) AS rate, CAST(?6 AS REAL) AS per, CAST(?7 AS REAL) AS burst
  ),
  s AS (
    SELECT s0.*, CASE WHEN json_valid(t.value) AND json_type(t.value) = 'object' THEN t.value END AS raw
    FROM s0 LEFT JOIN ${table} t ON t.key = s0.key AND (t.expires_at IS NULL OR t.expires_at > s0.now)
  ),
  d0 AS (SELECT * FROM s),
  ${ctes},
  r AS (SELECT *, ${reset} AS reset FROM d${derived.length})
INSERT INTO ${table} (key, value, version, expires_at)
SELECT key, ${value}, ?2, CAST(now AS INTEGER) + MAX(1, CAST(reset AS INTEGER) + (reset > CAST(reset AS INTEGER))) FROM r WHERE ${admitted}
ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
RETURNING CAST(${NOW} AS INTEGER) AS now`;
}

function fixedWindow(table: string): string {
  return upsert(
    table,
    [
      `${floor("now / win")} AS w`,
      `CASE WHEN raw IS NOT NULL AND w = ${field("window")} THEN ${field("count")} ELSE 0.0 END AS count`,
    ],
    "count + cost <= lim",
    object({ window: "w", count: "count + cost" }),
    "(w + 1) * win - now",
  );
}

function tokenBucket(table: string): string {
  return upsert(
    table,
    [
      `COALESCE(CASE WHEN raw IS NOT NULL THEN ${field("anchorMs")} END, now) AS anchor, COALESCE(CASE WHEN raw IS NOT NULL THEN ${field("consumed")} END, 0.0) AS consumed`,
      "((now - anchor) * rate) / per AS refilled",
      "CASE WHEN refilled >= consumed THEN now ELSE anchor END AS na, CASE WHEN refilled >= consumed THEN cost ELSE consumed + cost END AS nc",
    ],
    "((refilled >= consumed AND cost <= burst) OR (refilled < consumed AND consumed + cost - burst <= refilled))",
    object({ anchorMs: "na", consumed: "nc" }),
    "MAX(0.0, (nc * per) / rate - (now - na))",
  );
}

function gcra(table: string): string {
  return upsert(
    table,
    [
      "(now * rate) / per AS position",
      `COALESCE(CASE WHEN raw IS NOT NULL THEN ${field("tat")} END, position) AS tat`,
      "CASE WHEN tat > position THEN tat - position ELSE 0.0 END AS ahead",
      "CASE WHEN ahead > 0 THEN tat + cost ELSE position + cost END AS ntat",
      "ntat - (now * rate) / per AS a",
    ],
    // 4 * 2^-52, exactly: the ulps the TypeScript step forgives.
    "ahead + cost - burst <= (position + burst) * (4.0 / 4503599627370496.0)",
    object({ tat: "ntat" }),
    "CASE WHEN a > 0 THEN a * (per / rate) ELSE 0.0 END",
  );
}

function slidingWindowCounter(table: string): string {
  return upsert(
    table,
    [
      "now / win AS position",
      `${floor("position")} AS w`,
      `COALESCE(CASE WHEN raw IS NOT NULL THEN ${field("window")} END, w) AS sw, COALESCE(CASE WHEN raw IS NOT NULL THEN ${field("previous")} END, 0.0) AS sp, COALESCE(CASE WHEN raw IS NOT NULL THEN ${field("current")} END, 0.0) AS sc`,
      "CASE WHEN w = sw THEN sp WHEN w = sw + 1 THEN sc ELSE 0.0 END AS previous, CASE WHEN w = sw THEN sc ELSE 0.0 END AS current",
    ],
    "previous * (1 - (position - w)) + current + cost <= lim",
    object({ window: "w", previous: "previous", current: "current + cost" }),
    // Admitted: the window is this one and its count > 0, so it ends two windows on.
    "MAX(0.0, (w + 2) * win - now)",
  );
}

/**
 * The parameters of both statements: ?1 key, ?2 version of a write, ?3 cost,
 * ?4 limit or rate, ?5 the tests' time (else NULL: the engine's), ?6
 * windowMs or perMs, ?7 burst (NULL for a window). Numbers are bound as
 * numbers: no decimal text for SQLite to round.
 */
export function rateLimitParameters(key: string, version: string, input: Record<string, number>, nowMs: number | null = null): unknown[] {
  return "l" in input
    ? [key, version, input.c, input.l, nowMs, input.w, null]
    : [key, version, input.c, input.r, nowMs, input.p, input.b];
}

/** The two statements of one decision on `table`, by transition name (the exact log has none). */
export function rateLimitStatements(table: string): ReadonlyMap<string, { readonly read: string; readonly decide: string }> {
  // ?7 named too, so both statements take the same seven parameters.
  const read = `SELECT CAST(${NOW} AS INTEGER) AS now, t.value AS value, t.expires_at AS expires_at, ?7 AS burst
FROM (SELECT 1) LEFT JOIN ${table} t ON t.key = ?1`;
  return new Map([
    [RATE_LIMIT_TRANSITION_NAMES["fixed-window"], { read, decide: fixedWindow(table) }],
    [RATE_LIMIT_TRANSITION_NAMES["token-bucket"], { read, decide: tokenBucket(table) }],
    [RATE_LIMIT_TRANSITION_NAMES.gcra, { read, decide: gcra(table) }],
    [RATE_LIMIT_TRANSITION_NAMES["sliding-window-counter"], { read, decide: slidingWindowCounter(table) }],
  ]);
}
