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
 * The exact sliding-window log too: its ring of times is read with
 * `json_each` and written back slot for slot as the TypeScript step writes
 * it (see `slidingWindowLog` below).
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
 * `materialized`: each CTE computed once (SQLite otherwise inlines a column
 * into every use, re-running any subquery in it each time).
 * Parameters: see {@link rateLimitParameters}.
 */
function upsert(table: string, derived: string[], admitted: string, value: string, reset: string, materialized = false): string {
  // Each CTE adds the columns the next needs: SQLite has no aliases within one SELECT.
  const as = materialized ? "AS MATERIALIZED" : "AS";
  const ctes = derived.map((columns, i) => `d${i + 1} ${as} (SELECT *, ${columns} FROM d${i})`).join(",\n  ");
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
 * The exact log (`SlidingWindowLog`): its ring of admission times, kept as
 * the TypeScript step keeps it (same capacity, head, size and slots), so the
 * state written is the one TypeScript writes. `times` is the ring as JSON
 * (a fresh one: `min(limit, 8)` zeros), read with `json_each`; a slot's
 * position is its distance from `head`. Expired entries leave from the
 * front (`dropped`: the first position in the ring whose time is still in
 * the window). Then, as `step` does: `mode` 1 writes `now` into the next
 * `cost` slots in place; `mode` 2 copies the live entries to the front of
 * a ring grown by doubling (or back to its starting size once the window
 * emptied), capped at the limit, filled with `now`; `mode` 0 refuses.
 */
function slidingWindowLog(table: string): string {
  const position = "((j.key - head) % cap + cap) % cap";
  // Ordered by a window function: SQLite keeps an aggregate's order only with ORDER BY inside it (3.44+).
  // Only for an admission: a refusal scans the ring once, for `dropped`.
  const body = "CASE WHEN mode > 0 THEN (SELECT group_concat(v, ',') OVER (ORDER BY o ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) " +
    `FROM (SELECT CASE WHEN mode = 1 THEN j.key ELSE ${position} END AS o, ` +
    `${num("CASE WHEN mode = 1 AND ((j.key - h - n) % cap + cap) % cap < cost THEN now ELSE j.value END")} AS v ` +
    `FROM json_each(times) j WHERE mode = 1 OR (${position} >= dropped AND ${position} < size)) LIMIT 1) END`;
  return upsert(
    table,
    [
      "CASE WHEN raw IS NULL THEN '[' || substr('0,0,0,0,0,0,0,0', 1, 2 * MIN(lim, 8) - 1) || ']' ELSE json_extract(raw, '$.times') END AS times, " +
      "IFNULL(json_extract(raw, '$.head'), 0) AS head, IFNULL(json_extract(raw, '$.size'), 0) AS size",
      "json_array_length(times) AS cap",
      `IFNULL((SELECT MIN(${position}) FROM json_each(times) j WHERE ${position} < size AND j.value > now - win), size) AS dropped`,
      "(head + dropped) % cap AS h, size - dropped AS n",
      "CASE WHEN n + cost <= cap AND (n > 0 OR cap <= 8) THEN 1 WHEN n + cost <= lim THEN 2 ELSE 0 END AS mode",
      "MIN(lim, (WITH RECURSIVE grow(c) AS (SELECT CASE WHEN n = 0 THEN MIN(lim, 8) ELSE cap * 2 END " +
      "UNION ALL SELECT c * 2 FROM grow WHERE c < n + cost) SELECT MAX(c) FROM grow)) AS grown",
      `${body} AS body`,
    ],
    "mode > 0",
    `'{"times":[' || CASE WHEN mode = 1 THEN body ELSE IFNULL(body || ',', '') || ` +
      `substr(replace(hex(zeroblob(grown - n)), '00', ',' || ${num("now")}), 2) END || ` +
      `'],"head":' || CASE WHEN mode = 1 THEN h ELSE 0 END || ',"size":' || CAST(n + cost AS INTEGER) || '}'`,
    // The newest entry is now's: full again a window on.
    "MAX(0.0, (now + win) - now)",
    true,
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

/** The two statements of one decision on `table`, by transition name. */
export function rateLimitStatements(table: string): ReadonlyMap<string, { readonly read: string; readonly decide: string }> {
  // ?7 named too, so both statements take the same seven parameters.
  const read = `SELECT CAST(${NOW} AS INTEGER) AS now, t.value AS value, t.expires_at AS expires_at, ?7 AS burst
FROM (SELECT 1) LEFT JOIN ${table} t ON t.key = ?1`;
  return new Map([
    [RATE_LIMIT_TRANSITION_NAMES["fixed-window"], { read, decide: fixedWindow(table) }],
    [RATE_LIMIT_TRANSITION_NAMES["token-bucket"], { read, decide: tokenBucket(table) }],
    [RATE_LIMIT_TRANSITION_NAMES.gcra, { read, decide: gcra(table) }],
    [RATE_LIMIT_TRANSITION_NAMES["sliding-window-counter"], { read, decide: slidingWindowCounter(table) }],
    [RATE_LIMIT_TRANSITION_NAMES["sliding-window"], { read, decide: slidingWindowLog(table) }],
  ]);
}
