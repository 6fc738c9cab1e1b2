import { InvalidArgumentError, StoreError } from "../errors.ts";
import { isSignal } from "../internal/arguments.ts";
import { type Json, type Store, type StoreEntry, type Transition, UNCHANGED } from "../store/store.ts";

/** Options of {@link runStoreConformance}. */
export interface StoreConformanceOptions {
  /**
   * Lets `ms` of the store's time pass. A store on a `ManualClock` passes
   * `(ms) => clock.advance(ms)`; a real engine keeps the default, a real
   * wait (`setTimeout`).
   */
  advance?: (ms: number) => Promise<void>;
  /**
   * The TTL the expiry checks use, in ms: long enough for a few round trips
   * of the engine, since the entry must still be there right after writing.
   * Default `250`.
   */
  ttlMs?: number;
  /**
   * Makes a store of the same kind whose engine never answers (an adapter
   * over a request that never completes), for the timeout and abort checks.
   * Its `timeoutMs` is read from the store (`store.timeoutMs`) or
   * {@link StoreConformanceOptions.hangingTimeoutMs}; keep it short (100 ms):
   * the timeout check waits it out three times. Without it those checks
   * are skipped.
   */
  makeHangingStore?: () => Store | Promise<Store>;
  /** The hanging store's `timeoutMs`, if it has no `timeoutMs` property. */
  hangingTimeoutMs?: number;
  /** The store's key prefix, if it has no `prefix` property (for the key-limit check). Default `store.prefix ?? ""`. */
  prefix?: string;
  /** Concurrent contenders in the atomicity checks. Default `50`. */
  contenders?: number;
  /** A check that has not settled after this many real ms fails. Default `10_000`. */
  checkTimeoutMs?: number;
  /** Run only the checks whose name contains one of these strings. */
  only?: readonly string[];
}

/** What {@link runStoreConformance} found. */
export interface StoreConformanceReport {
  /** Names of the checks that passed. */
  passed: string[];
  /** The checks that failed, each with what went wrong. */
  failed: { name: string; error: unknown }[];
  /** Checks that do not apply to this store (not atomic, no hanging store given), with why. */
  skipped: { name: string; reason: string }[];
}

class CheckFailed extends Error {
  override name = "CheckFailed";
}

function fail(message: string): never {
  throw new CheckFailed(message);
}

function show(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 120 ? `${text.slice(0, 120)}... (${text.length} chars)` : text;
  } catch {
    return String(value);
  }
}

/** Structural JSON equality; object key order is not significant (jsonb reorders keys). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") {
    return typeof a === "number" && typeof b === "number" && a === b;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameJson(item, other[i]));
  }
  const ak = Object.keys(a as object);
  const bk = Object.keys(b as object);
  if (ak.length !== bk.length) return false;
  return ak.every((k) =>
    Object.prototype.hasOwnProperty.call(b, k) &&
    sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

function expectJson(actual: unknown, expected: unknown, what: string): void {
  if (!sameJson(actual, expected)) fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return fail("expected the call to reject, but it resolved");
}

function expectStoreError(error: unknown, code: StoreError["code"], what: string): StoreError {
  if (!(error instanceof StoreError) || error.code !== code) {
    fail(`${what}: expected a StoreError ${code}, got ${error instanceof Error ? `${error.name}: ${error.message}` : show(error)}`);
  }
  return error;
}

function expectInvalidArgument(call: () => Promise<unknown>, what: string): Promise<void> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    return Promise.reject(new CheckFailed(`${what}: threw synchronously (${String(error)}); a call returning a promise must reject`));
  }
  return rejection(promise).then((error) => {
    if (!(error instanceof InvalidArgumentError)) {
      fail(`${what}: expected an InvalidArgumentError, got ${error instanceof Error ? `${error.name}: ${error.message}` : show(error)}`);
    }
  });
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** A transition adding `input` to a number (absent: 0). */
const increment: Transition<number, number> = {
  name: "bulwark.conformance.increment",
  apply(current, input) {
    const next = (typeof current === "number" ? current : 0) + input;
    return { next, output: next };
  },
};

/** Every JSON shape a store must hand back as written. */
const SHAPES: ReadonlyArray<readonly [string, Json]> = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["zero", 0],
  ["negative integer", -42],
  ["fraction", 0.1 + 0.2],
  ["negative fraction", -1.5e-7],
  ["large number", 1.7976931348623157e308],
  ["max safe integer", Number.MAX_SAFE_INTEGER],
  ["empty string", ""],
  ["string", "plain"],
  ["unicode string", "é ü ß 中文 العربية עברית 😀 𝄞 \u{10FFFF} ‮rtl"],
  ["escapes", "quote \" backslash \\ newline \n tab \t nul \u0000 control \u001f slash /"],
  ["empty object", {}],
  ["empty array", []],
  ["array of every kind", [null, true, 1, -1.25, "s", [], {}, [[[]]]]],
  ["nested", { a: { b: [1, { c: null, d: ["x", { e: "😀" }] }] }, "key with space": 1, "é": "ü", "": "empty key" }],
];

/**
 * The conformance suite for {@link Store} implementations: what "works"
 * means for every adapter in bulwark, and for one you write for your own
 * database. A plain async function, no test runner needed: it resolves to
 * the checks that passed, failed (with the error) and were skipped (with why);
 * assert `failed` is empty in whatever runner you use.
 *
 * It checks: round trips of every JSON shape (nested, unicode with astral
 * characters, empty string, object and array, negative and fractional
 * numbers) and of odd keys; values and keys exactly at the declared limits,
 * and one byte over refused with `ERR_STORE_LIMIT` before any I/O; a new
 * version on every write (even of an equal value); TTL expiry; `delete`;
 * `insertIfAbsent` and `compareAndSet` semantics, and with many concurrent
 * contenders exactly one winner (when `capabilities.atomic`); `update` with
 * concurrent increments summing exactly (atomic stores); readers never seeing
 * a torn value during concurrent writes; bad arguments rejected with
 * `InvalidArgumentError`; abort and timeout (given a hanging store).
 *
 * `makeStore` is called once per check; keys are unique per run, so one
 * shared engine is fine.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "bulwark";
 * import { ManualClock, runStoreConformance } from "bulwark/testing";
 *
 * const clock = new ManualClock();
 * const report = await runStoreConformance(() => new MemoryStore({ clock }), {
 *   advance: (ms) => clock.advance(ms),
 * });
 * if (report.failed.length > 0) throw new Error(`failed: ${report.failed.map((f) => f.name).join(", ")}`);
 * ```
 */
export async function runStoreConformance(
  makeStore: () => Store | Promise<Store>,
  options: StoreConformanceOptions = {},
): Promise<StoreConformanceReport> {
  if (typeof makeStore !== "function") {
    throw new InvalidArgumentError("runStoreConformance", "makeStore", makeStore, "a function returning a Store");
  }
  const advance = options.advance ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const ttlMs = options.ttlMs ?? 250;
  const contenders = options.contenders ?? 50;
  const checkTimeoutMs = options.checkTimeoutMs ?? 10_000;
  const run = `conformance:${Math.random().toString(36).slice(2, 10)}`;
  let counter = 0;
  const fresh = (label: string) => `${run}:${counter++}:${label}`;
  const report: StoreConformanceReport = { passed: [], failed: [], skipped: [] };

  const prefixOf = (store: Store) =>
    options.prefix ?? (typeof (store as { prefix?: unknown }).prefix === "string" ? (store as unknown as { prefix: string }).prefix : "");
  const timeoutOf = (store: Store) =>
    options.hangingTimeoutMs ?? (store as { timeoutMs?: unknown }).timeoutMs as number | undefined;

  type Check = (store: Store) => Promise<void>;
  const checks: Array<{ name: string; skip?: (store: Store) => string | undefined; run: Check }> = [];
  const check = (name: string, runCheck: Check, skip?: (store: Store) => string | undefined) =>
    checks.push({ name, run: runCheck, ...(skip ? { skip } : {}) });
  const needsAtomic = (store: Store) => store.capabilities.atomic ? undefined : "the store declares atomic: false";
  const needsHang = () => options.makeHangingStore ? undefined : "no makeHangingStore given";
  const maxValueUsable = (store: Store) => {
    const max = store.capabilities.maxValueBytes;
    return Number.isFinite(max) && max <= 64 * 1024 * 1024 ? undefined : "maxValueBytes is unbounded or above 64 MiB";
  };
  const maxKeyUsable = (store: Store) => {
    const max = store.capabilities.maxKeyBytes;
    return Number.isFinite(max) && max <= 1024 * 1024 ? undefined : "maxKeyBytes is unbounded or above 1 MiB";
  };

  check("round trip: every JSON shape", async (store) => {
    for (const [label, value] of SHAPES) {
      const key = fresh(label);
      const written = await store.set(key, value);
      expectJson(written.value, value, `set("${label}") resolved value`);
      const read = await store.get(key);
      if (read === undefined) fail(`get after set("${label}") found nothing`);
      expectJson(read.value, value, `get after set("${label}")`);
      if (read.version !== written.version) fail(`${label}: get's version ${show(read.version)} differs from set's ${show(written.version)}`);
    }
  });

  check("round trip: odd keys", async (store) => {
    const keys = ["", " ", "é", "😀", "中文", "a/b", "a\\b", "..", ".", "CON", "a:b", "%2F", "a\nb", "UPPER", "upper", "*?<>|\""];
    const base = fresh("keys");
    for (const [i, suffix] of keys.entries()) await store.set(base + suffix, i);
    for (const [i, suffix] of keys.entries()) {
      const read = await store.get(base + suffix);
      expectJson(read?.value, i, `key ${show(base + suffix)}`);
    }
  });

  check("entries: set resolves to what get returns; no TTL means expiresAt undefined", async (store) => {
    const key = fresh("entry");
    const written = await store.set(key, { a: 1 });
    if (typeof written.version !== "string" || written.version === "") fail(`version must be a non-empty string, got ${show(written.version)}`);
    if (written.expiresAt !== undefined) fail(`expiresAt without ttlMs must be undefined, got ${show(written.expiresAt)}`);
    const read = await store.get(key);
    if (read?.version !== written.version || read.expiresAt !== undefined) {
      fail(`get returned ${show(read)}, expected version ${written.version} and no expiry`);
    }
    if ((await store.get(fresh("missing"))) !== undefined) fail("get of a missing key must resolve to undefined");
  });

  check("versions change on every write, even of an equal value", async (store) => {
    const key = fresh("versions");
    const seen = new Set<string>();
    const note = (entry: StoreEntry, how: string) => {
      if (seen.has(entry.version)) fail(`${how} reused version ${show(entry.version)}`);
      seen.add(entry.version);
    };
    for (let i = 0; i < 3; i++) note(await store.set(key, "same"), `set #${i + 1} of an equal value`);
    const latest = await store.get(key);
    if (latest === undefined || !seen.has(latest.version)) fail("get must return the last written version");
    const swapped = await store.compareAndSet(key, latest.version, "same");
    if (!swapped.ok) fail("compareAndSet with the current version must succeed");
    note(swapped.entry, "compareAndSet of an equal value");
    await store.update(key, { name: "bulwark.conformance.same", apply: () => ({ next: "same", output: null }) }, null);
    const afterUpdate = await store.get(key);
    if (afterUpdate === undefined) fail("update removed the key");
    note(afterUpdate, "update writing an equal value");
    await store.delete(key);
    const inserted = await store.insertIfAbsent(key, "same");
    if (!inserted.ok) fail("insertIfAbsent after delete must succeed");
    note(inserted.entry, "insertIfAbsent after delete");
  });

  check("value at the size limit round trips; one byte over fails with ERR_STORE_LIMIT and writes nothing", async (store) => {
    const max = store.capabilities.maxValueBytes;
    const key = fresh("value-limit");
    // A JSON string: 2 quote bytes, then content ending in an astral character (4 bytes).
    const exact = "x".repeat(max - 2 - 4) + "😀";
    if (utf8Length(JSON.stringify(exact)) !== max) fail("internal: sizing");
    const written = await store.set(key, exact);
    const read = await store.get(key);
    if (read?.value !== exact) fail(`a value of exactly ${max} bytes did not round trip whole (got ${show(read?.value)})`);
    const error = await rejection(store.set(key, exact + "y"));
    const limit = expectStoreError(error, "ERR_STORE_LIMIT", `a value of ${max + 1} bytes`);
    if (limit.limit !== max || limit.actual !== max + 1) fail(`limit/actual must be ${max}/${max + 1}, got ${limit.limit}/${limit.actual}`);
    const after = await store.get(key);
    if (after?.version !== written.version) fail("the refused write changed the stored entry");
    for (const attempt of [
      () => store.insertIfAbsent(fresh("value-limit-insert"), exact + "y"),
      () => store.compareAndSet(key, written.version, exact + "y"),
    ]) {
      expectStoreError(await rejection(attempt()), "ERR_STORE_LIMIT", "a conditional write one byte over");
    }
  }, maxValueUsable);

  check("key at the size limit works; one byte over fails with ERR_STORE_LIMIT", async (store) => {
    const max = store.capabilities.maxKeyBytes;
    const prefixBytes = utf8Length(prefixOf(store));
    const base = fresh("k");
    const room = max - prefixBytes - utf8Length(base);
    if (room < 0) fail(`maxKeyBytes ${max} leaves no room for a key after the prefix`);
    const exact = base + "k".repeat(room);
    await store.set(exact, 1);
    expectJson((await store.get(exact))?.value, 1, "a key of exactly maxKeyBytes");
    const over = exact + "k";
    for (const [what, call] of [
      ["get", () => store.get(over)],
      ["set", () => store.set(over, 1)],
      ["delete", () => store.delete(over)],
      ["insertIfAbsent", () => store.insertIfAbsent(over, 1)],
      ["compareAndSet", () => store.compareAndSet(over, undefined, 1)],
      ["update", () => store.update(over, increment, 1)],
    ] as const) {
      const error = expectStoreError(await rejection(call()), "ERR_STORE_LIMIT", `${what} of a key one byte over`);
      if (error.limit !== max || error.actual !== max + 1) fail(`${what}: limit/actual must be ${max}/${max + 1}, got ${error.limit}/${error.actual}`);
    }
  }, maxKeyUsable);

  check("limits are enforced before any I/O (a hanging engine refuses at once)", async () => {
    const store = await options.makeHangingStore!();
    const tooLong = "k".repeat(Math.min(store.capabilities.maxKeyBytes, 2 * 1024 * 1024) + 1);
    const outcome = await Promise.race([
      rejection(store.get(tooLong)),
      new Promise((resolve) => setTimeout(() => resolve("waited"), 1_000)),
    ]);
    if (outcome === "waited") fail("an oversize key waited for the engine instead of failing before any I/O");
    expectStoreError(outcome, "ERR_STORE_LIMIT", "an oversize key on a hanging engine");
  }, (store) => needsHang() ?? maxKeyUsable(store));

  check("delete removes the entry and says whether there was one", async (store) => {
    const key = fresh("delete");
    if (await store.delete(key) !== false) fail("delete of a missing key must resolve to false");
    await store.set(key, 1);
    if (await store.delete(key) !== true) fail("delete of a live key must resolve to true");
    if ((await store.get(key)) !== undefined) fail("get after delete must find nothing");
    if (await store.delete(key) !== false) fail("a second delete must resolve to false");
  });

  check("TTL: entries expire; a write without TTL clears it", async (store) => {
    const key = fresh("ttl");
    const kept = fresh("ttl-cleared");
    const written = await store.set(key, "soon gone", { ttlMs });
    if (typeof written.expiresAt !== "number" || !Number.isFinite(written.expiresAt)) {
      fail(`set with ttlMs must resolve to a numeric expiresAt, got ${show(written.expiresAt)}`);
    }
    const before = await store.get(key);
    if (before?.value !== "soon gone") fail("the entry must be there before its TTL");
    if (before.expiresAt !== written.expiresAt) fail(`get's expiresAt ${before.expiresAt} differs from set's ${written.expiresAt}`);
    await store.set(kept, 1, { ttlMs });
    await store.set(kept, 2);
    await advance(ttlMs + Math.max(20, ttlMs / 2));
    if ((await store.get(key)) !== undefined) fail(`the entry is still there ${ttlMs} ms after its TTL`);
    expectJson((await store.get(kept))?.value, 2, "an entry rewritten without TTL");
    if (await store.delete(key) !== false) fail("delete of an expired entry must resolve to false");
    const stale = await store.compareAndSet(key, written.version, "revived");
    if (stale.ok) fail("compareAndSet with the version of an expired entry must fail");
    const inserted = await store.insertIfAbsent(key, "new");
    if (!inserted.ok) fail("insertIfAbsent over an expired entry must succeed");
  });

  check("TTL: insertIfAbsent and update honour ttlMs", async (store) => {
    const inserted = fresh("ttl-insert");
    const updated = fresh("ttl-update");
    const claimed = await store.insertIfAbsent(inserted, 1, { ttlMs });
    if (!claimed.ok || typeof claimed.entry.expiresAt !== "number") fail("insertIfAbsent with ttlMs must give an expiresAt");
    await store.update(updated, { name: "bulwark.conformance.ttl", apply: () => ({ next: 1, ttlMs, output: null }) }, null);
    if (typeof (await store.get(updated))?.expiresAt !== "number") fail("a transition's ttlMs must give the entry an expiresAt");
    await advance(ttlMs + Math.max(20, ttlMs / 2));
    if ((await store.get(inserted)) !== undefined) fail("the inserted entry outlived its TTL");
    if ((await store.get(updated)) !== undefined) fail("the updated entry outlived its TTL");
  });

  check("insertIfAbsent: only the first wins; the loser sees the current entry", async (store) => {
    const key = fresh("insert");
    const first = await store.insertIfAbsent(key, "first");
    if (!first.ok) fail("the first insertIfAbsent must win");
    const second = await store.insertIfAbsent(key, "second");
    if (second.ok) fail("a second insertIfAbsent must lose");
    if (second.current?.value !== "first" || second.current.version !== first.entry.version) {
      fail(`the loser must see the current entry, got ${show(second.current)}`);
    }
    expectJson((await store.get(key))?.value, "first", "the value after a lost insert");
  });

  check("compareAndSet: the current version wins, a stale one loses and sees the current entry", async (store) => {
    const key = fresh("cas");
    const absent = await store.compareAndSet(key, "no-such-version", 1);
    if (absent.ok || absent.current !== undefined) fail("compareAndSet on a missing key with a version must fail with no current entry");
    const created = await store.compareAndSet(key, undefined, 1);
    if (!created.ok) fail("compareAndSet with undefined on a missing key must insert");
    const again = await store.compareAndSet(key, undefined, 2);
    if (again.ok) fail("compareAndSet with undefined on a present key must fail");
    const next = await store.compareAndSet(key, created.entry.version, 2);
    if (!next.ok) fail("compareAndSet with the current version must succeed");
    const stale = await store.compareAndSet(key, created.entry.version, 3);
    if (stale.ok) fail("compareAndSet with a stale version must fail");
    if (stale.current?.value !== 2 || stale.current.version !== next.entry.version) {
      fail(`the loser must see the current entry, got ${show(stale.current)}`);
    }
    expectJson((await store.get(key))?.value, 2, "the value after a lost compareAndSet");
  });

  check("update: output returned, UNCHANGED writes nothing, undefined deletes", async (store) => {
    const key = fresh("update");
    if (await store.update(key, increment, 5) !== 5) fail("update must resolve to the transition's output");
    if (await store.update(key, increment, 2) !== 7) fail("update must see the value written before");
    const before = await store.get(key);
    const peek: Transition<null, Json> = {
      name: "bulwark.conformance.peek",
      apply: (current) => ({ next: UNCHANGED, output: current ?? null }),
    };
    if (await store.update(key, peek, null) !== 7) fail("a transition must receive the current value");
    const after = await store.get(key);
    if (after?.version !== before?.version) fail("UNCHANGED must not write (the version changed)");
    const remove: Transition<null, null> = {
      name: "bulwark.conformance.remove",
      apply: () => ({ next: undefined, output: null }),
    };
    await store.update(key, remove, null);
    if ((await store.get(key)) !== undefined) fail("next: undefined must delete the key");
    const seen = await store.update(key, peek, null);
    if (seen !== null) fail(`a transition on a missing key must receive undefined, got ${show(seen)}`);
  });

  check("insertIfAbsent: concurrent contenders, exactly one winner", async (store) => {
    const key = fresh("insert-race");
    const results = await Promise.all(
      Array.from({ length: contenders }, (_, i) => store.insertIfAbsent(key, { contender: i })),
    );
    const winners = results.filter((r) => r.ok);
    if (winners.length !== 1) fail(`${winners.length} of ${contenders} concurrent insertIfAbsent won; exactly one must`);
    const stored = await store.get(key);
    expectJson(stored?.value, winners[0]!.ok ? winners[0]!.entry.value : undefined, "the stored value is the winner's");
  }, needsAtomic);

  check("compareAndSet: concurrent contenders on one version, exactly one winner", async (store) => {
    const key = fresh("cas-race");
    const base = await store.set(key, { contender: -1 });
    const results = await Promise.all(
      Array.from({ length: contenders }, (_, i) => store.compareAndSet(key, base.version, { contender: i })),
    );
    const winners = results.filter((r) => r.ok);
    if (winners.length !== 1) fail(`${winners.length} of ${contenders} concurrent compareAndSet won; exactly one must`);
    const stored = await store.get(key);
    expectJson(stored?.value, winners[0]!.ok ? winners[0]!.entry.value : undefined, "the stored value is the winner's");
  }, needsAtomic);

  check("update: concurrent increments sum exactly", async (store) => {
    const key = fresh("update-race");
    const outputs = await Promise.all(Array.from({ length: contenders }, () => store.update(key, increment, 1)));
    expectJson((await store.get(key))?.value, contenders, `the sum of ${contenders} concurrent increments`);
    const sorted = [...outputs].sort((a, b) => a - b);
    if (!sorted.every((value, i) => value === i + 1)) fail(`each increment must see a distinct count, got ${show(sorted)}`);
  }, needsAtomic);

  check("readers never see a torn value during concurrent writes", async (store) => {
    const key = fresh("torn");
    const size = Math.min(32 * 1024, Math.floor((store.capabilities.maxValueBytes - 64) / 2));
    const make = (n: number) => ({ n, body: String.fromCharCode(97 + (n % 26)).repeat(size), tail: n });
    await store.set(key, make(0));
    let writing = true;
    const writers = (async () => {
      for (let n = 1; n <= 30; n++) await store.set(key, make(n));
    })().finally(() => {
      writing = false;
    });
    const seen: string[] = [];
    const readers = Array.from({ length: 4 }, async () => {
      do {
        const entry = await store.get(key);
        const value = entry?.value as { n?: unknown; body?: unknown; tail?: unknown } | undefined;
        if (value === undefined) fail("a reader found nothing while the key was being rewritten");
        const n = value.n;
        if (typeof n !== "number" || value.tail !== n || !sameJson(value, make(n))) {
          seen.push(show(value));
          fail(`a reader saw a torn value: ${seen[0]}`);
        }
      } while (writing);
    });
    await Promise.all([writers, ...readers]);
  }, (store) => store.capabilities.maxValueBytes < 256 ? "maxValueBytes below 256" : undefined);

  check("bad arguments reject with InvalidArgumentError", async (store) => {
    const key = fresh("bad");
    const loose = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const cases: Array<[string, () => Promise<unknown>]> = [
      ["get(42)", () => loose.get!(42)],
      ["set(null, 1)", () => loose.set!(null, 1)],
      ["delete({})", () => loose.delete!({})],
      ["get(key, { signal: 'abort' })", () => loose.get!(key, { signal: "abort" })],
      ["set(key, 1, 42)", () => loose.set!(key, 1, 42)],
      ["set(key, undefined)", () => loose.set!(key, undefined)],
      ["set(key, function)", () => loose.set!(key, () => 1)],
      ["set(key, 1, { ttlMs: 0 })", () => store.set(key, 1, { ttlMs: 0 })],
      ["set(key, 1, { ttlMs: -5 })", () => store.set(key, 1, { ttlMs: -5 })],
      ["set(key, 1, { ttlMs: NaN })", () => store.set(key, 1, { ttlMs: Number.NaN })],
      ["set(key, 1, { ttlMs: Infinity })", () => store.set(key, 1, { ttlMs: Number.POSITIVE_INFINITY })],
      ["set(key, 1, { ttlMs: '5' })", () => loose.set!(key, 1, { ttlMs: "5" })],
      ["insertIfAbsent(key, 1, { ttlMs: 0 })", () => store.insertIfAbsent(key, 1, { ttlMs: 0 })],
      ["compareAndSet(key, 42, 1)", () => loose.compareAndSet!(key, 42, 1)],
      ["update(key, {})", () => loose.update!(key, {}, 1)],
      ["update(key, { name: 'x' })", () => loose.update!(key, { name: "x" }, 1)],
      ["update(key, { apply })", () => loose.update!(key, { apply: increment.apply }, 1)],
    ];
    for (const [what, call] of cases) await expectInvalidArgument(call, what);
    if ((await store.get(key)) !== undefined) fail("a refused call wrote something");
  });

  check("abort: an aborted signal rejects with its reason and writes nothing", async (store) => {
    const key = fresh("aborted");
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    controller.abort(reason);
    const signal = controller.signal;
    for (const [what, call] of [
      ["get", () => store.get(key, { signal })],
      ["set", () => store.set(key, 1, { signal })],
      ["delete", () => store.delete(key, { signal })],
      ["insertIfAbsent", () => store.insertIfAbsent(key, 1, { signal })],
      ["compareAndSet", () => store.compareAndSet(key, undefined, 1, { signal })],
      ["update", () => store.update(key, increment, 1, { signal })],
    ] as const) {
      const error = await rejection(call());
      if (error !== reason) fail(`${what} with an aborted signal must reject with its reason, got ${show(error)}`);
    }
    if ((await store.get(key)) !== undefined) fail("an aborted write wrote something");
  });

  check("abort: aborting during a hanging operation rejects at once with the reason", async () => {
    const store = await options.makeHangingStore!();
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const pending = rejection(store.get(fresh("abort-hang"), { signal: controller.signal }));
    controller.abort(reason);
    const outcome = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve("waited"), 1_000))]);
    if (outcome !== reason) fail(`expected the abort reason at once, got ${show(outcome)}`);
    if (!isSignal(controller.signal)) fail("internal: signal");
  }, needsHang);

  check("timeout: a hanging engine fails with ERR_STORE_TIMEOUT once timeoutMs passes", async () => {
    const store = await options.makeHangingStore!();
    const timeoutMs = timeoutOf(store);
    if (typeof timeoutMs !== "number") fail("the hanging store has no timeoutMs; pass hangingTimeoutMs");
    for (const [what, call] of [
      ["get", () => store.get(fresh("hang"))],
      ["set", () => store.set(fresh("hang"), 1)],
      ["update", () => store.update(fresh("hang"), increment, 1)],
    ] as const) {
      let settled: unknown = "pending";
      const pending = rejection(call()).then((error) => {
        settled = error;
      });
      await advance(timeoutMs - 1 > 0 ? timeoutMs - 1 : 0);
      if (settled !== "pending" && !(settled instanceof StoreError && settled.code === "ERR_STORE_TIMEOUT")) {
        fail(`${what}: settled before timeoutMs with ${show(settled)}`);
      }
      await advance(2);
      // A real clock may run a little late: give it a bounded grace, never more.
      const grace = Date.now() + 1_000;
      while (settled === "pending" && Date.now() < grace) await new Promise((resolve) => setTimeout(resolve, 5));
      await Promise.race([pending, Promise.resolve()]);
      if (settled === "pending") fail(`${what}: still waiting after timeoutMs (${timeoutMs} ms)`);
      const error = expectStoreError(settled, "ERR_STORE_TIMEOUT", what);
      if (error.timeoutMs !== timeoutMs) fail(`${what}: error.timeoutMs must be ${timeoutMs}, got ${error.timeoutMs}`);
    }
  }, needsHang);

  for (const { name, run: runCheck, skip } of checks) {
    if (options.only && !options.only.some((part) => name.includes(part))) continue;
    let store: Store;
    try {
      store = await makeStore();
    } catch (error) {
      report.failed.push({ name, error });
      continue;
    }
    const reason = skip?.(store);
    if (reason !== undefined) {
      report.skipped.push({ name, reason });
      continue;
    }
    let cancel: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      const handle = setTimeout(
        () => reject(new CheckFailed(`did not settle within ${checkTimeoutMs} ms`)),
        checkTimeoutMs,
      );
      cancel = () => clearTimeout(handle);
    });
    try {
      await Promise.race([runCheck(store), guard]);
      report.passed.push(name);
    } catch (error) {
      report.failed.push({ name, error });
    } finally {
      cancel?.();
    }
  }
  return report;
}
