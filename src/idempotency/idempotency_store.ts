/**
 * Idempotency records in any atomic {@link Store}: a claim per key, decided
 * in one atomic step, so that a repeated request runs its effect once and
 * replays the first answer.
 *
 * @module
 */
import { IdempotencyKeyError } from "../errors.ts";
import { badOptions, badSignal, badString, throwIf } from "../internal/arguments.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { requireStore } from "../store/requirements.ts";
import { type Json, type Store, type Transition, UNCHANGED } from "../store/store.ts";
import {
  boolean,
  clock as clockField,
  durationMs,
  integer,
  isPlainObject,
  lazy,
  optional,
  satisfying,
  strictObject,
  validate,
} from "../validation.ts";

/** Where a key is in its life: claimed by a call still running, or done with a stored result. */
export type IdempotencyStatus = "in-progress" | "completed";

/** What a store holds under one idempotency key. */
export interface IdempotencyRecord {
  /** The key, without the store's `keyPrefix`. */
  readonly key: string;
  /** `"in-progress"` while the first call runs; `"completed"` once its result is stored. */
  readonly status: IdempotencyStatus;
  /** The payload's fingerprint given when the key was claimed, if any. */
  readonly fingerprint: string | undefined;
  /** The stored result (completed records; `undefined` if the result was `undefined`). */
  readonly result: Json | undefined;
  /** The stored failure, when the first call threw and failures are stored. */
  readonly failure: { readonly name: string; readonly message: string } | undefined;
  /** Wall-clock epoch ms of the claim. */
  readonly createdAt: number;
  /** Wall-clock epoch ms after which the record is gone (the claim lapses, or the result is forgotten). */
  readonly expiresAt: number;
}

/** What {@link IdempotencyStore.acquire} answers. */
export type IdempotencyClaim =
  /** The caller holds the key: run the effect, then {@link IdempotencyStore.complete} or {@link IdempotencyStore.release} with `token`. */
  | { readonly outcome: "acquired"; readonly token: string; readonly record: IdempotencyRecord }
  /** Another call holds the key and is still running. */
  | { readonly outcome: "in-progress"; readonly record: IdempotencyRecord }
  /** The effect already ran: `record` holds its result. */
  | { readonly outcome: "completed"; readonly record: IdempotencyRecord }
  /** The key was claimed with a different fingerprint. */
  | { readonly outcome: "fingerprint-mismatch"; readonly record: IdempotencyRecord };

/** Options of {@link IdempotencyStore}. */
export interface IdempotencyStoreOptions {
  /** Where records live: any atomic, strongly consistent {@link Store}. */
  store: Store;
  /** Prepended to every key, to keep idempotency records apart from other state. Default `"idempotency:"`. */
  keyPrefix?: string;
  /** How long a completed record (and its result) is kept, in ms. Default `86_400_000` (24 h). */
  ttlMs?: number;
  /** How long a claim lasts without completing, in ms: a call that crashed frees its key after this. Default `60_000`. */
  inProgressTtlMs?: number;
  /**
   * Accept a store that is not atomic or not strongly consistent (Workers
   * KV). Two instances (on Workers KV, two regions within its propagation
   * window of up to 60 s) can then both claim one key and run the effect
   * twice. Default `false`: such a store is refused.
   */
  allowEventualConsistency?: boolean;
}

/** Options of {@link IdempotencyStore.acquire}. */
export interface IdempotencyAcquireOptions {
  /** The payload's fingerprint; a later claim with another one answers `"fingerprint-mismatch"`. */
  fingerprint?: string;
  /** Overrides the store's `inProgressTtlMs` for this claim. */
  inProgressTtlMs?: number;
  /** Aborts the store operation. */
  signal?: AbortSignal;
}

/** Options of {@link IdempotencyStore.complete}. */
export interface IdempotencyCompleteOptions {
  /** Overrides the store's `ttlMs` for this record. */
  ttlMs?: number;
  /** Store a failure instead of a result: later claims replay it. */
  failure?: { readonly name: string; readonly message: string };
  /** Aborts the store operation. */
  signal?: AbortSignal;
}

/**
 * Longest idempotency key, in characters.
 *
 * @example
 * ```ts
 * import { idempotencyKeyProblem, MAX_IDEMPOTENCY_KEY_LENGTH } from "bulwark";
 * if (idempotencyKeyProblem("k".repeat(MAX_IDEMPOTENCY_KEY_LENGTH)) !== undefined) throw new Error("fits");
 * ```
 */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Why `key` is not a valid idempotency key, or `undefined` when it is one:
 * a string of 1 to 255 printable ASCII characters (0x20 to 0x7E).
 *
 * @example
 * ```ts
 * import { idempotencyKeyProblem } from "bulwark";
 * if (idempotencyKeyProblem("order-42") !== undefined) throw new Error("a valid key");
 * if (idempotencyKeyProblem("x".repeat(256)) === undefined) throw new Error("too long");
 * ```
 */
export function idempotencyKeyProblem(key: unknown): string | undefined {
  if (typeof key !== "string") return "not a string";
  if (key.length === 0) return "empty";
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return `${key.length} characters long`;
  if (!PRINTABLE_ASCII.test(key)) return "not printable ASCII";
  return undefined;
}

function checkKey(key: unknown): string {
  const problem = idempotencyKeyProblem(key);
  if (problem !== undefined) throw new IdempotencyKeyError(key, problem);
  return key as string;
}

/** The record as stored (JSON). Short field names: it travels on every claim. */
interface Stored {
  readonly s: "p" | "c";
  readonly t?: string;
  readonly f?: string;
  readonly r?: Json;
  readonly e?: { readonly name: string; readonly message: string };
  readonly c: number;
  readonly x: number;
}

function asStored(value: Json | undefined): Stored | undefined {
  return isPlainObject(value) && (value.s === "p" || value.s === "c") && typeof value.c === "number" &&
      typeof value.x === "number"
    ? value as unknown as Stored
    : undefined;
}

function toRecord(key: string, stored: Stored): IdempotencyRecord {
  return {
    key,
    status: stored.s === "p" ? "in-progress" : "completed",
    fingerprint: stored.f,
    result: stored.r,
    failure: stored.e,
    createdAt: stored.c,
    expiresAt: stored.x,
  };
}

interface ClaimInput {
  readonly token: string;
  readonly fingerprint: string | null;
  readonly ttlMs: number;
  readonly [field: string]: Json;
}

type ClaimOutput = { readonly outcome: IdempotencyClaim["outcome"]; readonly record: Json };

/**
 * Claim a key: take it if it is free (or its record lapsed), else report
 * what holds it. One atomic step in every store: an engine that runs
 * transitions does it in one round trip.
 */
const claimTransition: Transition<ClaimInput, ClaimOutput> = {
  name: "bulwark.idempotency.claim",
  apply(current, input, nowMs) {
    const stored = asStored(current);
    if (stored === undefined || stored.x <= nowMs) {
      const next: Stored = {
        s: "p",
        t: input.token,
        ...(input.fingerprint === null ? {} : { f: input.fingerprint }),
        c: nowMs,
        x: nowMs + input.ttlMs,
      };
      return { next: next as unknown as Json, ttlMs: input.ttlMs, output: { outcome: "acquired", record: next as unknown as Json } };
    }
    const outcome = input.fingerprint !== null && stored.f !== undefined && stored.f !== input.fingerprint
      ? "fingerprint-mismatch"
      : stored.s === "p"
      ? "in-progress"
      : "completed";
    return { next: UNCHANGED, output: { outcome, record: current as Json } };
  },
};

interface FinishInput {
  readonly token: string;
  /** `null`: release (delete the claim); else the completed record's TTL. */
  readonly ttlMs: number | null;
  /** `[result]`, or `[]` for a result of `undefined`. */
  readonly result: readonly Json[];
  readonly failure: { readonly name: string; readonly message: string } | null;
  readonly [field: string]: Json;
}

/**
 * Complete or release a claim, only if it is still the caller's: a call
 * that ran past `inProgressTtlMs`, whose key another call has claimed
 * since, must not overwrite that call's claim.
 */
const finishTransition: Transition<FinishInput, boolean> = {
  name: "bulwark.idempotency.finish",
  apply(current, input, nowMs) {
    const stored = asStored(current);
    if (stored === undefined || stored.s !== "p" || stored.t !== input.token || stored.x <= nowMs) {
      return { next: UNCHANGED, output: false };
    }
    if (input.ttlMs === null) return { next: undefined, output: true };
    const next: Stored = {
      s: "c",
      ...(stored.f === undefined ? {} : { f: stored.f }),
      ...(input.result.length === 0 ? {} : { r: input.result[0]! }),
      ...(input.failure === null ? {} : { e: input.failure }),
      c: stored.c,
      x: nowMs + input.ttlMs,
    };
    return { next: next as unknown as Json, ttlMs: input.ttlMs, output: true };
  },
};

interface SetInput {
  readonly ttlMs: number;
  /** `[result]`, or `[]` for a result of `undefined`. */
  readonly result: readonly Json[];
  readonly [field: string]: Json;
}

/** Writes a completed record, timed by the store's clock. */
const setTransition: Transition<SetInput, null> = {
  name: "bulwark.idempotency.set",
  apply(_current, input, nowMs) {
    const next: Stored = { s: "c", ...(input.result.length === 0 ? {} : { r: input.result[0]! }), c: nowMs, x: nowMs + input.ttlMs };
    return { next: next as unknown as Json, ttlMs: input.ttlMs, output: null };
  },
};

/**
 * The transitions {@link IdempotencyStore} runs (claim, finish, set), by
 * name. A store that runs decisions by name on the engine's side (the
 * Durable Object behind `DurableObjectStore`) must have them registered;
 * `stateObjectClass` from `bulwark/cloudflare` registers them by default,
 * so users never list them.
 *
 * @example
 * ```ts
 * import { IDEMPOTENCY_TRANSITIONS } from "bulwark";
 * const names = IDEMPOTENCY_TRANSITIONS.map((transition) => transition.name);
 * if (!names.includes("bulwark.idempotency.claim")) throw new Error("the claim is one of them");
 * ```
 */
export const IDEMPOTENCY_TRANSITIONS: readonly Transition[] = /* @__PURE__ */ Object.freeze([
  claimTransition as unknown as Transition,
  finishTransition as unknown as Transition,
  setTransition as unknown as Transition,
]);

const keyPrefixField = () =>
  satisfying<string>(
    (value) => typeof value === "string" && PRINTABLE_ASCII.test(value) && value.length <= 255,
    "a string of printable ASCII characters",
  );

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    store: satisfying<Store>((value) => typeof value === "object" && value !== null, "a Store"),
    keyPrefix: keyPrefixField(),
    ttlMs: durationMs(0, true),
    inProgressTtlMs: durationMs(0, true),
    allowEventualConsistency: boolean(),
  })
);

const perCallTtl = /* @__PURE__ */ lazy(() => optional(durationMs(0, true)));

/** A fresh claim token; `crypto.randomUUID` is a web standard on every runtime bulwark supports. */
function newToken(): string {
  return crypto.randomUUID();
}

/**
 * Idempotency records over any atomic {@link Store} (memory, files, Redis,
 * SQL, Durable Objects, Deno KV): the store API of the seeds (`get`,
 * `getRecord`, `set`, `delete`, `acquire`), plus `complete` and `release`
 * for the claim's owner. {@link idempotent} and the `bulwark/hono`
 * middleware are built on it.
 *
 * Every claim, completion and release is one atomic {@link Store.update}.
 * Times are the store's (`nowMs` of the transition), so instances with
 * skewed clocks agree where the engine has a clock.
 *
 * @example
 * ```ts
 * import { IdempotencyStore, MemoryStore } from "bulwark";
 *
 * const records = new IdempotencyStore({ store: new MemoryStore(), inProgressTtlMs: 30_000 });
 * const claim = await records.acquire("order-42", { fingerprint: "sha256:ab12" });
 * if (claim.outcome !== "acquired") throw new Error("the key was free");
 * const again = await records.acquire("order-42", { fingerprint: "sha256:ab12" });
 * if (again.outcome !== "in-progress") throw new Error("claimed by the first call");
 * await records.complete("order-42", claim.token, { id: 7 });
 * if ((await records.get<{ id: number }>("order-42"))?.id !== 7) throw new Error("the result is stored");
 * const other = await records.acquire("order-42", { fingerprint: "sha256:ffff" });
 * if (other.outcome !== "fingerprint-mismatch") throw new Error("another payload");
 * ```
 */
export class IdempotencyStore {
  /** The store records live in. */
  readonly store: Store;
  /** Prepended to every key. */
  readonly keyPrefix: string;
  /** How long completed records are kept, in ms. */
  readonly ttlMs: number;
  /** How long an uncompleted claim holds its key, in ms. */
  readonly inProgressTtlMs: number;

  constructor(options: IdempotencyStoreOptions) {
    throwIf(badOptions("IdempotencyStore", options));
    const resolved = validate("IdempotencyStore", optionsSchema(), {
      keyPrefix: "idempotency:",
      ttlMs: 86_400_000,
      inProgressTtlMs: 60_000,
      allowEventualConsistency: false,
      ...options,
    });
    requireStore(
      "IdempotencyStore",
      resolved.store,
      {
        atomic: true,
        strong: true,
        why: "two instances could both claim one idempotency key and run its effect twice " +
          "(on Workers KV: two regions, within its propagation window of up to 60 s)",
        optIn: "allowEventualConsistency",
      },
      resolved.allowEventualConsistency,
    );
    this.store = resolved.store;
    this.keyPrefix = resolved.keyPrefix;
    this.ttlMs = resolved.ttlMs;
    this.inProgressTtlMs = resolved.inProgressTtlMs;
  }

  /**
   * Claims `key` atomically. Answers `"acquired"` (with the `token` to
   * complete or release it), `"in-progress"`, `"completed"` (with the
   * stored record) or `"fingerprint-mismatch"`.
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * const first = await records.acquire("k");
   * const second = await records.acquire("k");
   * if (first.outcome !== "acquired" || second.outcome !== "in-progress") throw new Error("one winner");
   * ```
   */
  async acquire(key: string, options: IdempotencyAcquireOptions = {}): Promise<IdempotencyClaim> {
    const target = "IdempotencyStore.acquire";
    throwIf(badString(target, key, "key") ?? badOptions(target, options) ?? badSignal(target, options.signal, "options.signal"));
    checkKey(key);
    const fingerprint = options.fingerprint;
    throwIf(fingerprint === undefined ? undefined : badString(target, fingerprint, "options.fingerprint"));
    const ttlMs = validate(target, perCallTtl(), options.inProgressTtlMs) ?? this.inProgressTtlMs;
    const token = newToken();
    const { outcome, record } = await this.store.update(
      this.keyPrefix + key,
      claimTransition,
      { token, fingerprint: fingerprint ?? null, ttlMs },
      { signal: options.signal },
    );
    const parsed = toRecord(key, asStored(record)!);
    return outcome === "acquired" ? { outcome, token, record: parsed } : { outcome, record: parsed };
  }

  /**
   * Stores the result of the claim `token` holds on `key` (or, with
   * `options.failure`, its failure) for `ttlMs`. Resolves to `false` when
   * the claim is no longer the caller's (it lapsed after `inProgressTtlMs`),
   * and then writes nothing.
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * const claim = await records.acquire("k");
   * if (claim.outcome !== "acquired") throw new Error("free");
   * if (!(await records.complete("k", claim.token, "done"))) throw new Error("still ours");
   * if ((await records.getRecord("k"))?.status !== "completed") throw new Error("completed");
   * ```
   */
  async complete(key: string, token: string, result: Json | undefined, options: IdempotencyCompleteOptions = {}): Promise<boolean> {
    const target = "IdempotencyStore.complete";
    throwIf(
      badString(target, key, "key") ?? badString(target, token, "token") ?? badOptions(target, options) ??
        badSignal(target, options.signal, "options.signal"),
    );
    checkKey(key);
    const ttlMs = validate(target, perCallTtl(), options.ttlMs) ?? this.ttlMs;
    const input: FinishInput = {
      token,
      ttlMs,
      result: result === undefined ? [] : [result],
      failure: options.failure === undefined
        ? null
        : { name: String(options.failure.name), message: String(options.failure.message) },
    };
    return await this.store.update(this.keyPrefix + key, finishTransition, input, { signal: options.signal });
  }

  /**
   * Gives up the claim `token` holds on `key`, so that a retry can claim it
   * at once. Resolves to `false` when the claim was no longer the caller's.
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * const claim = await records.acquire("k");
   * if (claim.outcome !== "acquired") throw new Error("free");
   * await records.release("k", claim.token);
   * if ((await records.acquire("k")).outcome !== "acquired") throw new Error("free again");
   * ```
   */
  async release(key: string, token: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const target = "IdempotencyStore.release";
    throwIf(
      badString(target, key, "key") ?? badString(target, token, "token") ?? badOptions(target, options) ??
        badSignal(target, options.signal, "options.signal"),
    );
    checkKey(key);
    return await this.store.update(this.keyPrefix + key, finishTransition, { token, ttlMs: null, result: [], failure: null }, {
      signal: options.signal,
    });
  }

  /**
   * The stored result of a completed `key`, or `undefined` (no record, still
   * in progress, or expired).
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * await records.set("k", { ok: true });
   * if ((await records.get<{ ok: boolean }>("k"))?.ok !== true) throw new Error("stored");
   * ```
   */
  async get<V extends Json = Json>(key: string, options: { signal?: AbortSignal } = {}): Promise<V | undefined> {
    const record = await this.#read("IdempotencyStore.get", key, options);
    return record?.status === "completed" ? record.result as V | undefined : undefined;
  }

  /**
   * The whole record under `key` (status, fingerprint, result, times), or
   * `undefined`.
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * await records.acquire("k", { fingerprint: "f1" });
   * const record = await records.getRecord("k");
   * if (record?.status !== "in-progress" || record.fingerprint !== "f1") throw new Error("claimed");
   * ```
   */
  async getRecord(key: string, options: { signal?: AbortSignal } = {}): Promise<IdempotencyRecord | undefined> {
    return await this.#read("IdempotencyStore.getRecord", key, options);
  }

  /**
   * Stores `value` as the completed result of `key`, unconditionally, for
   * `options.ttlMs` (default: the store's `ttlMs`).
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * await records.set("k", 42, { ttlMs: 1_000 });
   * if ((await records.acquire("k")).outcome !== "completed") throw new Error("already done");
   * ```
   */
  async set(key: string, value: Json | undefined, options: { ttlMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const target = "IdempotencyStore.set";
    throwIf(badString(target, key, "key") ?? badOptions(target, options) ?? badSignal(target, options.signal, "options.signal"));
    checkKey(key);
    const ttlMs = validate(target, perCallTtl(), options.ttlMs) ?? this.ttlMs;
    await this.store.update(this.keyPrefix + key, setTransition, { ttlMs, result: value === undefined ? [] : [value] }, {
      signal: options.signal,
    });
  }

  /**
   * Removes the record of `key`, whatever its status; resolves to whether
   * there was one.
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * await records.set("k", 1);
   * if (!(await records.delete("k")) || (await records.getRecord("k")) !== undefined) throw new Error("gone");
   * ```
   */
  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const target = "IdempotencyStore.delete";
    throwIf(badString(target, key, "key") ?? badOptions(target, options) ?? badSignal(target, options.signal, "options.signal"));
    checkKey(key);
    return await this.store.delete(this.keyPrefix + key, { signal: options.signal });
  }

  async #read(target: string, key: string, options: { signal?: AbortSignal }): Promise<IdempotencyRecord | undefined> {
    throwIf(badString(target, key, "key") ?? badOptions(target, options) ?? badSignal(target, options.signal, "options.signal"));
    checkKey(key);
    const entry = await this.store.get(this.keyPrefix + key, { signal: options.signal });
    const stored = asStored(entry?.value);
    return stored === undefined ? undefined : toRecord(key, stored);
  }
}

/** Options of {@link MemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions extends Omit<IdempotencyStoreOptions, "store" | "allowEventualConsistency"> {
  /** Most records held; a new record beyond it evicts expired records first, then the oldest written. Default `10_000`. */
  maxEntries?: number;
  /** Time source for expiry (`wallNow`). Default `systemClock`. */
  clock?: import("../clock.ts").Clock;
}

// Its own fields, strictly: a `store` (or `allowEventualConsistency`) given
// here would otherwise be dropped without a word, the records kept in this process.
const memoryOptionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    keyPrefix: optional(keyPrefixField()),
    ttlMs: optional(durationMs(0, true)),
    inProgressTtlMs: optional(durationMs(0, true)),
    maxEntries: optional(integer(1)),
    clock: optional(clockField()),
  })
);

/** What {@link MemoryIdempotencyStore.stats} reports. */
export interface IdempotencyStoreStats {
  /** Records held, expired ones not yet swept included. */
  readonly total: number;
  /** Records not expired. */
  readonly active: number;
  /** Records expired but not yet swept. */
  readonly expired: number;
}

/**
 * The in-process idempotency store (the seeds' `InMemoryIdempotencyStore`):
 * an {@link IdempotencyStore} over its own {@link MemoryStore}, bounded by
 * `maxEntries` (expired records go first, then the oldest written), with
 * expiry checked on read and swept a few records per write: no timer per
 * key, no timer at all. Shared by nothing outside the process: for a fleet,
 * give `IdempotencyStore` a Redis, SQL, Durable Object or Deno KV store.
 *
 * @example
 * ```ts
 * import { MemoryIdempotencyStore } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 *
 * const clock = new ManualClock();
 * const records = new MemoryIdempotencyStore({ clock, ttlMs: 1_000, maxEntries: 100 });
 * await records.set("order-1", { id: 1 });
 * if (!(await records.exists("order-1"))) throw new Error("stored");
 * await clock.advance(1_000);
 * if ((await records.stats()).expired !== 1) throw new Error("expired, not yet swept");
 * if (records.purgeExpired() !== 1 || (await records.count()) !== 0) throw new Error("purged");
 * ```
 */
export class MemoryIdempotencyStore extends IdempotencyStore {
  readonly #memory: MemoryStore;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    throwIf(badOptions("MemoryIdempotencyStore", options));
    validate("MemoryIdempotencyStore", memoryOptionsSchema(), options);
    const { maxEntries, clock, ...rest } = options;
    const memory = new MemoryStore({
      prefix: "",
      ...(maxEntries === undefined ? {} : { maxEntries }),
      ...(clock === undefined ? {} : { clock }),
    });
    super({ ...rest, store: memory });
    this.#memory = memory;
  }

  /** The most records held. */
  get maxEntries(): number {
    return this.#memory.maxEntries;
  }

  /**
   * Whether `key` has a live record (in progress or completed).
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * await records.acquire("k");
   * if (!(await records.exists("k")) || (await records.exists("other"))) throw new Error("claimed only");
   * ```
   */
  async exists(key: string): Promise<boolean> {
    return (await this.getRecord(key)) !== undefined;
  }

  /**
   * Live records held.
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * await records.set("a", 1);
   * await records.set("b", 2);
   * if ((await records.count()) !== 2) throw new Error("two");
   * ```
   */
  // deno-lint-ignore require-await
  async count(): Promise<number> {
    return this.#memory.countLive();
  }

  /**
   * Records held: `total`, `active` (live) and `expired` (not yet swept).
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * await records.set("a", 1);
   * const { total, active, expired } = await records.stats();
   * if (total !== 1 || active !== 1 || expired !== 0) throw new Error("one live record");
   * ```
   */
  // deno-lint-ignore require-await
  async stats(): Promise<IdempotencyStoreStats> {
    const total = this.#memory.size;
    const active = this.#memory.countLive();
    return { total, active, expired: total - active };
  }

  /**
   * Drops every expired record now; returns how many. Never needed for
   * correctness (expired records are never read), only to free memory at
   * once.
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * if (records.purgeExpired() !== 0) throw new Error("nothing expired");
   * ```
   */
  purgeExpired(): number {
    return this.#memory.purgeExpired();
  }

  /**
   * Removes every record.
   *
   * @example
   * ```ts
   * import { MemoryIdempotencyStore } from "bulwark";
   * const records = new MemoryIdempotencyStore();
   * await records.set("a", 1);
   * records.clear();
   * if ((await records.count()) !== 0) throw new Error("cleared");
   * ```
   */
  clear(): void {
    this.#memory.clear();
  }
}
