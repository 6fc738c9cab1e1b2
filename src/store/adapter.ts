/**
 * The common half of every store adapter: option validation, argument
 * checks, key prefixing, byte limits before any I/O, a `timeoutMs` bound and
 * an abort signal on every operation, engine errors wrapped into
 * {@link StoreError}, expiry kept beside the value where the engine cannot
 * expire it natively, versions where the engine has none, and `update` as a
 * bounded compare-and-set loop. An adapter extends {@link StoreAdapter} and
 * implements the six raw methods, which see full (prefixed) keys and
 * already-checked input.
 *
 * @module
 */
import type * as z from "zod/mini";
import { type CancelTimer, type Clock, systemClock } from "../clock.ts";
import { InvalidArgumentError, ResilienceError, StoreError, type StoreOperation } from "../errors.ts";
import { badOptions, badSignal, badString } from "../internal/arguments.ts";
import { DeadlineList, type ListedDeadline } from "../internal/deadline_list.ts";
import { onWorkers } from "../internal/runtime.ts";
import { clock, durationMs, optional, satisfying, strictObject, validate } from "../validation.ts";
import { type BreakerLink, shareCircuitState } from "../breaker/shared.ts";
import { shareCircuit, type SharedHalf } from "../breaker/sharing.ts";
import { updateWithin } from "./update_within.ts";
import {
  type Json,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  type StoreOperationOptions,
  type StoreWriteOptions,
  type StoreWriteResult,
  type Transition,
  UNCHANGED,
} from "./store.ts";

/** Options every adapter accepts (adapters add their own beside them). */
export interface StoreAdapterOptions {
  /** Prepended to every key. Default `"bulwark:"`. */
  prefix?: string;
  /** Bound on every operation, in ms; past it the operation fails with `ERR_STORE_TIMEOUT`. Default `5000`. */
  timeoutMs?: number;
  /** Time source for timeouts, expiry (`wallNow`) and backoff. Default `systemClock`. */
  clock?: Clock;
}

/** {@link StoreAdapterOptions} after defaults. */
export interface ResolvedStoreAdapterOptions {
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly clock: Clock;
}

/**
 * An entry as an adapter reads it from its engine: the value, its version,
 * and its expiry (epoch ms) or `undefined`. The adapter may return an entry
 * that has expired (an engine that expires lazily, or a TTL shorter than its
 * native minimum): {@link StoreAdapter} drops it.
 */
export interface RawEntry {
  readonly value: Json;
  readonly version: string;
  readonly expiresAt: number | undefined;
}

/** What a raw write is asked to store, all checked and computed by {@link StoreAdapter}. */
export interface RawWrite {
  /** The value. */
  readonly value: Json;
  /** `JSON.stringify(value)`, already measured against {@link StoreCapabilities.maxValueBytes}. */
  readonly json: string;
  /**
   * A fresh version for this write, from {@link StoreAdapter.newVersion}.
   * An engine with its own versions (Deno KV versionstamps) may ignore it
   * and return its own from the write.
   */
  readonly version: string;
  /** Wall-clock epoch ms after which the entry is gone; `undefined`: never. Keep it beside the value. */
  readonly expiresAt: number | undefined;
  /**
   * The TTL to give the engine, in ms: the caller's `ttlMs` raised to
   * {@link StoreCapabilities.minTtlMs} (the entry is still dropped on read
   * at `expiresAt`); `undefined`: no native expiry.
   */
  readonly nativeTtlMs: number | undefined;
  /**
   * The store's wall-clock now (epoch ms). A conditional write treats an
   * entry whose `expiresAt` is at or before it as absent.
   */
  readonly nowMs: number;
}

/**
 * What a raw write made: the version the entry now has, and the expiry the
 * engine computed on its own clock (Redis `TIME`, PostgreSQL `now()`), so
 * that every client reads the same `expiresAt`. Without `expiresAt`, the
 * entry's is {@link RawWrite.expiresAt}.
 */
export interface RawWritten {
  readonly version: string;
  readonly expiresAt?: number | undefined;
}

/** The result of a raw conditional write. */
export type RawWriteResult =
  /** Written; `version` is the version it now has (usually {@link RawWrite.version}); `expiresAt` as in {@link RawWritten}. */
  | { readonly ok: true; readonly version: string; readonly expiresAt?: number | undefined }
  /** Not written; `current` is what the engine holds (expired or not; `undefined` if nothing). */
  | { readonly ok: false; readonly current: RawEntry | undefined };

/** Options handed to every raw method. */
export interface RawOptions {
  /** The caller's signal, if any, to pass to an engine call that accepts one. The base already races it. */
  readonly signal: AbortSignal | undefined;
}

/** The maximum compare-and-set rounds of the default {@link StoreAdapter.updateRaw} before it fails with `ERR_STORE`. */
export const MAX_UPDATE_ATTEMPTS = 100;

/** The longest backoff (ms) between two rounds of the default {@link StoreAdapter.updateRaw}. */
const MAX_BACKOFF_MS = 50;

/** A transition's own exception, carried through {@link StoreAdapter} unchanged (it is the caller's bug, not the engine's). */
class TransitionThrew {
  // No parameter property: Node's type stripping (the benchmarks) refuses them.
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/**
 * zod schemas of an adapter's own options, by option name: merged into the
 * common ones. `zod/mini`'s for an adapter of yours; the package's own
 * adapters use src/validation.ts's helpers (zod's core classes only).
 */
export type StoreAdapterOptionShape = Readonly<Record<string, z.core.$ZodType>>;

const NO_EXTRA: StoreAdapterOptionShape = {};
// One schema per adapter shape, built on first construction, never at import.
let schemas: WeakMap<StoreAdapterOptionShape, z.core.$ZodType> | undefined;

function optionsSchema(extra: StoreAdapterOptionShape): z.core.$ZodType {
  schemas ??= new WeakMap();
  let schema = schemas.get(extra);
  if (schema === undefined) {
    schema = strictObject({
      prefix: optional(satisfying<string>((value) => typeof value === "string", "a string")),
      // setTimeout's largest delay.
      timeoutMs: optional(durationMs(0, true, 2_147_483_647)),
      clock: optional(clock()),
      ...extra,
    });
    schemas.set(extra, schema);
  }
  return schema;
}

/**
 * Validates the common adapter options and the adapter's own (`extra`: a
 * zod/mini schema per option name; fields it does not name are refused as
 * unknown), throwing one `ConfigError` that names every bad field; applies
 * the defaults. `parsed` holds every option as validated.
 *
 * `extra` may also be a list of option names the adapter validates itself
 * (they are then passed through unchecked).
 *
 * @example
 * ```ts
 * import { resolveStoreAdapterOptions } from "bulwark";
 * const resolved = resolveStoreAdapterOptions("MyStore", { prefix: "app:" });
 * if (resolved.prefix !== "app:" || resolved.timeoutMs !== 5_000) throw new Error("defaults");
 * ```
 */
export function resolveStoreAdapterOptions(
  target: string,
  options: StoreAdapterOptions | undefined,
  extra: StoreAdapterOptionShape | readonly string[] = NO_EXTRA,
): ResolvedStoreAdapterOptions & { readonly parsed: Readonly<Record<string, unknown>> } {
  const bad = badOptions(target, options);
  if (bad !== undefined) throw bad;
  let input: Record<string, unknown> = { ...options };
  let passThrough: Record<string, unknown> = {};
  let shape: StoreAdapterOptionShape = NO_EXTRA;
  if (Array.isArray(extra)) {
    input = {};
    for (const [key, value] of Object.entries(options ?? {})) {
      if (extra.includes(key)) passThrough[key] = value;
      else input[key] = value;
    }
  } else shape = extra as StoreAdapterOptionShape;
  const parsed = validate(
    target,
    optionsSchema(shape) as unknown as Parameters<typeof validate>[1],
    input,
  ) as Record<string, unknown>;
  passThrough = { ...passThrough, ...parsed };
  return {
    prefix: (parsed.prefix as string | undefined) ?? "bulwark:",
    timeoutMs: (parsed.timeoutMs as number | undefined) ?? 5_000,
    clock: (parsed.clock as Clock | undefined) ?? systemClock,
    parsed: passThrough,
  };
}

/**
 * UTF-8 length of `text` in bytes, as `TextEncoder` would encode it (a lone
 * surrogate counts as the 3 bytes of U+FFFD), without allocating.
 *
 * @example
 * ```ts
 * import { utf8ByteLength } from "bulwark";
 * if (utf8ByteLength("aé€😀") !== 1 + 2 + 3 + 4) throw new Error("wrong length");
 * ```
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Makes opaque version strings for engines that have none: a random
 * per-source part (so two processes never collide) and a counter (so every
 * write of this source differs). Randomness is drawn when the source is
 * created, never at import.
 *
 * @example
 * ```ts
 * import { versionSource } from "bulwark";
 * const next = versionSource();
 * if (next() === next()) throw new Error("versions must differ");
 * ```
 */
export function versionSource(): () => string {
  const random = new Uint32Array(2);
  crypto.getRandomValues(random);
  const base = random[0]!.toString(36) + random[1]!.toString(36) + ".";
  let counter = 0;
  return () => base + (counter++).toString(36);
}

/**
 * The worst-case bytes {@link encodeEnvelope} adds around a value's JSON for
 * versions of at most `maxVersionBytes`: subtract it from the engine's limit
 * to declare {@link StoreCapabilities.maxValueBytes}.
 *
 * @example
 * ```ts
 * import { encodeEnvelope, envelopeOverheadBytes, utf8ByteLength } from "bulwark";
 * const text = encodeEnvelope("{}", "v1", 1_700_000_000_000);
 * if (utf8ByteLength(text) - 2 > envelopeOverheadBytes(2)) throw new Error("overhead underestimated");
 * ```
 */
export function envelopeOverheadBytes(maxVersionBytes: number): number {
  // {"r":"<version>","e":<up to 17 characters>,"v":<json>}
  return '{"r":"'.length + maxVersionBytes + '","e":'.length + 17 + ',"v":'.length + "}".length;
}

/**
 * One string holding a value's JSON, its version and its expiry, for engines
 * that store strings (Workers KV, Redis, files). `json` is inserted as is
 * (already `JSON.stringify`ed), so nothing is serialised twice.
 *
 * @example
 * ```ts
 * import { decodeEnvelope, encodeEnvelope } from "bulwark";
 * const entry = decodeEnvelope(encodeEnvelope('{"a":[1]}', "v7", undefined));
 * if (entry.version !== "v7" || entry.expiresAt !== undefined) throw new Error("round trip");
 * ```
 */
export function encodeEnvelope(json: string, version: string, expiresAt: number | undefined): string {
  return `{"r":${JSON.stringify(version)},"e":${expiresAt === undefined ? "null" : String(expiresAt)},"v":${json}}`;
}

/**
 * Reads what {@link encodeEnvelope} wrote; throws an `Error` (which
 * {@link StoreAdapter} reports as `ERR_STORE`) on anything else.
 *
 * @example
 * ```ts
 * import { decodeEnvelope } from "bulwark";
 * let threw = false;
 * try { decodeEnvelope("not json"); } catch { threw = true; }
 * if (!threw) throw new Error("should refuse");
 * ```
 */
export function decodeEnvelope(text: string): RawEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`unreadable record (not JSON): ${text.slice(0, 80)}`, { cause: error });
  }
  const record = parsed as { r?: unknown; e?: unknown; v?: unknown } | null;
  if (
    typeof record !== "object" || record === null || typeof record.r !== "string" ||
    !(record.e === null || typeof record.e === "number") || !("v" in record)
  ) {
    throw new Error(`unreadable record (not a bulwark envelope): ${text.slice(0, 80)}`);
  }
  return { value: record.v as Json, version: record.r, expiresAt: record.e ?? undefined };
}

const NOOP = (): void => {};
/** The raw options of a call without a signal: read-only, so one object serves every call. */
const NO_SIGNAL: RawOptions = Object.freeze({ signal: undefined });
const same = <T>(value: T): T => value;
/** A signal that never aborts, for calls with nothing to cancel; made on first use, never at import. */
let idleSignal: AbortSignal | undefined;
function neverAborted(): AbortSignal {
  return (idleSignal ??= new AbortController().signal);
}

/**
 * An operation of {@link StoreAdapter} in flight: settled once, by the
 * engine's answer, its deadline (an entry of the store's one
 * {@link DeadlineList}) or the caller's signal. One object per operation
 * rather than a closure for each of those.
 */
class InFlight implements ListedDeadline {
  deadlineAt = -1;
  deadlineNext: ListedDeadline | CancelTimer | undefined = undefined;
  deadlinePrev: ListedDeadline | undefined = undefined;
  resolve: (value: unknown) => void = NOOP;
  reject: (reason: unknown) => void = NOOP;
  onAbort: (() => void) | undefined = undefined;
  #settled = false;
  // No parameter properties: Node's type stripping (the benchmarks) refuses them.
  readonly #store: StoreAdapter;
  readonly #operation: StoreOperation;
  readonly #key: string;
  readonly #signal: AbortSignal | undefined;
  readonly #onGiveUp: ((reason: unknown) => void) | undefined;
  readonly #deadlines: DeadlineList;

  constructor(
    store: StoreAdapter,
    operation: StoreOperation,
    key: string,
    signal: AbortSignal | undefined,
    onGiveUp: ((reason: unknown) => void) | undefined,
    deadlines: DeadlineList,
  ) {
    this.#store = store;
    this.#operation = operation;
    this.#key = key;
    this.#signal = signal;
    this.#onGiveUp = onGiveUp;
    this.#deadlines = deadlines;
  }

  /** The deadline passed: `ERR_STORE_TIMEOUT`, naming the bound that passed (the store's, or a shorter one of its caller's). */
  expire(): void {
    const timeoutMs = this.#deadlines.durationMs;
    this.finish(
      true,
      new StoreError("ERR_STORE_TIMEOUT", this.#store.name, this.#operation, this.#key, `no answer within ${timeoutMs} ms`, {
        timeoutMs,
      }),
    );
  }

  finish(fail: boolean, value: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#deadlines.remove(this);
    if (this.onAbort !== undefined) this.#signal!.removeEventListener("abort", this.onAbort);
    if (fail) {
      this.#onGiveUp?.(value);
      this.reject(value);
    } else this.resolve(value);
  }
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<T>).then === "function";
}

/** A time to live, in a write's options or a transition's result: `undefined` or a finite number > 0. */
function badTtlMs(target: string, argument: string, ttlMs: unknown): InvalidArgumentError | undefined {
  return ttlMs === undefined || (typeof ttlMs === "number" && Number.isFinite(ttlMs) && ttlMs > 0)
    ? undefined
    : new InvalidArgumentError(target, argument, ttlMs, "a finite number of milliseconds > 0 or undefined");
}

const NOT_JSON = "a JSON value (null, a boolean, a finite number, a string, an array or a plain object of them)";

/**
 * The base of every store adapter. It implements {@link Store} over six raw
 * methods an adapter writes for its engine ({@link StoreAdapter.getRaw},
 * {@link StoreAdapter.setRaw}, {@link StoreAdapter.deleteRaw},
 * {@link StoreAdapter.insertRaw}, {@link StoreAdapter.compareAndSetRaw},
 * {@link StoreAdapter.compareAndDeleteRaw}) and, optionally, a native
 * {@link StoreAdapter.updateRaw}.
 *
 * Before a raw method runs, the base has checked every argument
 * (`InvalidArgumentError`), prefixed the key, measured key and value against
 * the declared limits (`ERR_STORE_LIMIT`), turned `ttlMs` into `expiresAt`
 * and a native TTL, drawn a fresh version, and refused an already aborted
 * signal. While it runs, the base races it against `timeoutMs` and the
 * signal (listener removed after). One timer on the clock bounds all of a
 * store's pending operations (they share `timeoutMs`, so the oldest is due
 * first): each still fails exactly `timeoutMs` after it started, and the
 * timer is cancelled a few microtask turns after the last one settles
 * unless another has started (on Workers, where a timer belongs to its
 * request, each operation has its own). Whatever it throws becomes a
 * `StoreError("ERR_STORE")` with the engine's error as `cause`. What it
 * reads is dropped if expired.
 *
 * Raw methods may return plain values instead of promises (an in-process
 * engine): then no timer is armed at all.
 *
 * @example
 * ```ts
 * import { type Json, type RawEntry, type RawOptions, type RawWrite, type RawWriteResult, StoreAdapter, type StoreCapabilities } from "bulwark";
 *
 * // A toy adapter over a Map (MemoryStore is the real one).
 * class MapStore extends StoreAdapter {
 *   readonly name = "map";
 *   readonly capabilities: StoreCapabilities = {
 *     atomic: true, consistency: "strong", maxKeyBytes: 256, maxValueBytes: 1024,
 *     minTtlMs: 0, minWriteIntervalMs: 0, runsTransitions: false,
 *   };
 *   #map = new Map<string, RawEntry>();
 *   constructor() { super("MapStore", {}); }
 *   protected getRaw(key: string): RawEntry | undefined { return this.#map.get(key); }
 *   protected setRaw(key: string, write: RawWrite): string {
 *     this.#map.set(key, { value: JSON.parse(write.json) as Json, version: write.version, expiresAt: write.expiresAt });
 *     return write.version;
 *   }
 *   protected deleteRaw(key: string, _options: RawOptions, nowMs: number): boolean {
 *     const entry = this.#map.get(key);
 *     this.#map.delete(key);
 *     return entry !== undefined && (entry.expiresAt === undefined || entry.expiresAt > nowMs);
 *   }
 *   protected insertRaw(key: string, write: RawWrite): RawWriteResult {
 *     const current = this.#map.get(key);
 *     if (current !== undefined && (current.expiresAt === undefined || current.expiresAt > write.nowMs)) return { ok: false, current };
 *     return { ok: true, version: this.setRaw(key, write) };
 *   }
 *   protected compareAndSetRaw(key: string, expected: string, write: RawWrite): RawWriteResult {
 *     const current = this.#map.get(key);
 *     if (current?.version !== expected || (current.expiresAt !== undefined && current.expiresAt <= write.nowMs)) return { ok: false, current };
 *     return { ok: true, version: this.setRaw(key, write) };
 *   }
 *   protected compareAndDeleteRaw(key: string, expected: string): boolean {
 *     if (this.#map.get(key)?.version !== expected) return false;
 *     return this.#map.delete(key);
 *   }
 * }
 *
 * const store = new MapStore();
 * const first = await store.set("k", { n: 1 });
 * const second = await store.compareAndSet("k", first.version, { n: 2 });
 * const stale = await store.compareAndSet("k", first.version, { n: 3 });
 * if (!second.ok || stale.ok) throw new Error("compare-and-set");
 * ```
 */
export abstract class StoreAdapter implements Store {
  /** Name used in errors, e.g. `"redis"`. */
  abstract readonly name: string;
  /** What this adapter guarantees, and its engine's limits. */
  abstract readonly capabilities: StoreCapabilities;
  /** Prepended to every key. */
  readonly prefix: string;
  /** Bound on every operation, in ms. */
  readonly timeoutMs: number;
  /** Time source for timeouts, expiry and backoff. */
  protected readonly clock: Clock;
  /** Every option as validated (the common ones and the adapter's own), before defaults. */
  protected readonly adapterOptions: Readonly<Record<string, unknown>>;
  readonly #target: string;
  #nextVersion: (() => string) | undefined;
  #conflicts = 0;
  /** Whether callers of this process take turns per key in {@link StoreAdapter.update} (not on Workers); decided on first use. */
  #takesTurns: boolean | undefined;
  readonly #updateQueue = new Map<string, Promise<void>>();
  /** The deadlines of the pending operations: one timer for all of them (made on first use). */
  #deadlines: DeadlineList | undefined;
  /** Deadlines of updates bounded shorter than `timeoutMs` ({@link updateWithin}), by duration (made on first use). */
  #shorter: Map<number, DeadlineList> | undefined;

  /**
   * @param target The class name used in errors, e.g. `"RedisStore"`.
   * @param options The caller's options.
   * @param extraOptions The adapter's own options: a zod/mini schema per name
   *   (validated with the common ones, in one `ConfigError`; read them back
   *   from {@link StoreAdapter.adapterOptions}), or a list of names it validates itself.
   */
  constructor(
    target: string,
    options: StoreAdapterOptions | undefined,
    extraOptions: StoreAdapterOptionShape | readonly string[] = NO_EXTRA,
  ) {
    const resolved = resolveStoreAdapterOptions(target, options, extraOptions);
    this.adapterOptions = resolved.parsed;
    this.#target = target;
    this.prefix = resolved.prefix;
    this.timeoutMs = resolved.timeoutMs;
    this.clock = resolved.clock;
  }

  /** How many compare-and-set rounds of `update` lost a race and were retried, since construction. */
  get conflicts(): number {
    return this.#conflicts;
  }

  /**
   * @internal Shares a breaker's state through this store (a breaker given
   * `store` calls it): the sharing code comes with the store, so a breaker
   * without one does not bundle it (breaker/sharing.ts).
   */
  [shareCircuit](link: BreakerLink): SharedHalf {
    return shareCircuitState(this, link);
  }

  /**
   * @internal {@link StoreAdapter.update} without a signal, failing with
   * `ERR_STORE_TIMEOUT` `timeoutMs` after it started when that is sooner
   * than the store's own `timeoutMs` (a compare-and-set loop stops there).
   * A `DistributedRateLimiter` whose `timeoutMs` is the shorter calls it:
   * its bound then costs it no controller, listener or timer. The store
   * keeps one timer per duration (a store sees one or two).
   */
  [updateWithin]<I extends Json, O extends Json>(key: string, transition: Transition<I, O>, input: I, timeoutMs: number): Promise<O> {
    let deadlines: DeadlineList | undefined;
    if (timeoutMs < this.timeoutMs) {
      const lists = this.#shorter ??= new Map();
      deadlines = lists.get(timeoutMs);
      if (deadlines === undefined) lists.set(timeoutMs, deadlines = new DeadlineList(this.clock, timeoutMs));
    }
    if (this.update !== StoreAdapter.prototype.update) {
      // A subclass's own update (one that counts or logs) is still the one called, bounded here.
      let pending: Promise<O>;
      try {
        pending = this.update(key, transition, input);
      } catch (error) {
        return Promise.reject(error);
      }
      return deadlines === undefined ? pending : this.#race("update", key, undefined, pending, same, undefined, deadlines);
    }
    return this.#update(key, transition, input, undefined, deadlines);
  }

  // ---- The raw methods: what an adapter writes. -------------------------

  /**
   * Reads the entry under the full `key`, or `undefined`. May return an
   * expired entry; the base drops it.
   */
  protected abstract getRaw(key: string, options: RawOptions): RawEntry | undefined | PromiseLike<RawEntry | undefined>;

  /**
   * Writes unconditionally; returns the version the entry now has (usually
   * `write.version`), or a {@link RawWritten} when the engine computed the expiry.
   */
  protected abstract setRaw(
    key: string,
    write: RawWrite,
    options: RawOptions,
  ): string | RawWritten | PromiseLike<string | RawWritten>;

  /** Removes the key; returns whether there was an entry live at `nowMs` (epoch ms). */
  protected abstract deleteRaw(key: string, options: RawOptions, nowMs: number): boolean | PromiseLike<boolean>;

  /**
   * Writes only if there is no entry live at `write.nowMs` (an expired one
   * is replaced). Atomic if {@link StoreCapabilities.atomic} is declared.
   */
  protected abstract insertRaw(key: string, write: RawWrite, options: RawOptions): RawWriteResult | PromiseLike<RawWriteResult>;

  /**
   * Writes only if the entry's version is `expectedVersion` and it is live
   * at `write.nowMs`. Atomic if {@link StoreCapabilities.atomic} is declared.
   */
  protected abstract compareAndSetRaw(
    key: string,
    expectedVersion: string,
    write: RawWrite,
    options: RawOptions,
  ): RawWriteResult | PromiseLike<RawWriteResult>;

  /**
   * Deletes only if the entry's version is `expectedVersion`; returns
   * whether it did. Used by the default `update` when a transition deletes.
   */
  protected abstract compareAndDeleteRaw(
    key: string,
    expectedVersion: string,
    options: RawOptions,
  ): boolean | PromiseLike<boolean>;

  /**
   * Whether {@link StoreAdapter.updateRaw} runs `transition` in one engine
   * call that cannot lose a race (a Lua port, say): then `update` neither
   * makes callers take turns per key nor arms a cancellation for a loop.
   * Default `false`.
   */
  protected runsInOneCall(_transition: Transition): boolean {
    return false;
  }

  /**
   * Runs a transition on the full `key` and returns its output. The default
   * is a compare-and-set loop over the raw methods, callers of this process
   * taking turns per key (so only other processes cause retries; at most
   * {@link MAX_UPDATE_ATTEMPTS} rounds, a short jittered backoff on the
   * store's clock after each lost race). Turns are taken only when
   * `runsTransitions` is `false` and {@link StoreAdapter.runsInOneCall} says no. Override it where the engine runs
   * the transition next to the data (and declare `runsTransitions`): call
   * {@link StoreAdapter.applyTransition} to run and check it.
   * `cancelled` aborts when the caller stops waiting (timeout, abort): stop there.
   */
  protected updateRaw<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    options: RawOptions,
    cancelled: AbortSignal,
  ): O | PromiseLike<O> {
    return this.#casLoop(key, transition, input, options, cancelled);
  }

  async #casLoop<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    options: RawOptions,
    cancelled: AbortSignal,
  ): Promise<O> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      if (cancelled.aborted) throw cancelled.reason;
      const nowMs = this.clock.wallNow();
      const found = await this.getRaw(key, options);
      const current = found !== undefined && isLive(found, nowMs) ? found : undefined;
      const result = this.applyTransition(transition, current?.value, input, nowMs);
      if (result.next === UNCHANGED) return result.output;
      let won: boolean;
      if (result.next === undefined) {
        won = current === undefined || await this.compareAndDeleteRaw(key, current.version, options);
      } else {
        const write = this.prepareWrite(result.json!, result.next, result.ttlMs, nowMs);
        const outcome = current === undefined
          ? await this.insertRaw(key, write, options)
          : await this.compareAndSetRaw(key, current.version, write, options);
        won = outcome.ok;
      }
      if (won) return result.output;
      this.#conflicts++;
      if (attempt > 0) {
        // Jittered, growing backoff so that contenders spread out; the first retry is immediate.
        const ceiling = Math.min(MAX_BACKOFF_MS, 2 ** Math.min(attempt, 6));
        await this.clock.sleep(Math.random() * ceiling, cancelled);
      }
    }
    throw new Error(`update lost ${MAX_UPDATE_ATTEMPTS} compare-and-set races in a row`);
  }

  // ---- Helpers for adapter writers. --------------------------------------

  /** A fresh opaque version (random per store instance, counter per write). */
  protected newVersion(): string {
    return (this.#nextVersion ??= versionSource())();
  }

  /**
   * Runs `transition.apply` and checks its result: `next` must be JSON,
   * `undefined` or {@link UNCHANGED}, `ttlMs` absent or finite > 0. For a
   * native `updateRaw`; `json` is `JSON.stringify(next)` when there is
   * something to write, already measured against `maxValueBytes`.
   */
  protected applyTransition<I extends Json, O extends Json>(
    transition: Transition<I, O>,
    current: Json | undefined,
    input: I,
    nowMs: number,
  ): { next: Json | undefined | typeof UNCHANGED; ttlMs: number | undefined; output: O; json: string | undefined } {
    let result;
    try {
      result = transition.apply(current, input, nowMs);
    } catch (error) {
      throw new TransitionThrew(error);
    }
    const where = `transition '${transition.name}'`;
    if (typeof result !== "object" || result === null || !("next" in result) || !("output" in result)) {
      throw new TransitionThrew(
        new InvalidArgumentError(`${this.#target}.update`, `${where} result`, result, "an object { next, output, ttlMs? }"),
      );
    }
    const ttlMs = result.ttlMs;
    const badTtl = badTtlMs(`${this.#target}.update`, `${where} result.ttlMs`, ttlMs);
    if (badTtl !== undefined) throw new TransitionThrew(badTtl);
    let json: string | undefined;
    if (result.next !== UNCHANGED && result.next !== undefined) {
      const text = this.#stringify(result.next, `${where} result.next`, "update");
      if (typeof text !== "string") throw new TransitionThrew(text);
      json = text;
      const limit = this.#valueLimit("update", undefined, json);
      if (limit !== undefined) throw limit;
    }
    return { next: result.next, ttlMs, output: result.output, json };
  }

  // ---- The Store interface. ----------------------------------------------

  /** The entry under `key`, or `undefined` if there is none or it expired. */
  get(key: string, options?: StoreOperationOptions): Promise<StoreEntry | undefined> {
    const signal = options?.signal;
    const bad = this.#badKeyAndOptions("get", key, options);
    if (bad !== undefined) return Promise.reject(bad);
    const full = this.prefix + key;
    const limit = this.#keyLimit("get", key, full);
    if (limit !== undefined) return Promise.reject(limit);
    return this.#run("get", key, signal, () => this.getRaw(full, { signal }), (found) => {
      if (found === undefined) return undefined;
      if (!isLive(found, this.clock.wallNow())) return undefined;
      return { value: found.value, version: found.version, expiresAt: found.expiresAt };
    });
  }

  /** Writes `value` under `key` unconditionally; resolves to the new entry. */
  set<V extends Json>(key: string, value: V, options?: StoreWriteOptions): Promise<StoreEntry<V>> {
    const checked = this.#checkWrite("set", key, value, options);
    if (checked instanceof ResilienceError) return Promise.reject(checked);
    const { full, write, signal } = checked;
    return this.#run("set", key, signal, () => this.setRaw(full, write, { signal }), (written) =>
      typeof written === "string"
        ? { value, version: written, expiresAt: write.expiresAt }
        : { value, version: written.version, expiresAt: "expiresAt" in written ? written.expiresAt : write.expiresAt });
  }

  /** Removes `key`; resolves to whether there was a live entry. */
  delete(key: string, options?: StoreOperationOptions): Promise<boolean> {
    const signal = options?.signal;
    const bad = this.#badKeyAndOptions("delete", key, options);
    if (bad !== undefined) return Promise.reject(bad);
    const full = this.prefix + key;
    const limit = this.#keyLimit("delete", key, full);
    if (limit !== undefined) return Promise.reject(limit);
    const nowMs = this.clock.wallNow();
    return this.#run("delete", key, signal, () => this.deleteRaw(full, { signal }, nowMs), (existed) => existed);
  }

  /** Writes `value` only if `key` has no live entry. */
  insertIfAbsent<V extends Json>(key: string, value: V, options?: StoreWriteOptions): Promise<StoreWriteResult<V>> {
    const checked = this.#checkWrite("insertIfAbsent", key, value, options);
    if (checked instanceof ResilienceError) return Promise.reject(checked);
    const { full, write, signal } = checked;
    return this.#run(
      "insertIfAbsent",
      key,
      signal,
      () => this.insertRaw(full, write, { signal }),
      (outcome) => this.#writeResult(outcome, value, write),
    );
  }

  /** Writes `value` only if the live entry's version is `expectedVersion` (`undefined`: only if there is none). */
  compareAndSet<V extends Json>(
    key: string,
    expectedVersion: string | undefined,
    value: V,
    options?: StoreWriteOptions,
  ): Promise<StoreWriteResult<V>> {
    if (expectedVersion !== undefined && typeof expectedVersion !== "string") {
      return Promise.reject(
        new InvalidArgumentError(`${this.#target}.compareAndSet`, "expectedVersion", expectedVersion, "a version string or undefined"),
      );
    }
    const checked = this.#checkWrite("compareAndSet", key, value, options);
    if (checked instanceof ResilienceError) return Promise.reject(checked);
    const { full, write, signal } = checked;
    return this.#run(
      "compareAndSet",
      key,
      signal,
      () =>
        expectedVersion === undefined
          ? this.insertRaw(full, write, { signal })
          : this.compareAndSetRaw(full, expectedVersion, write, { signal }),
      (outcome) => this.#writeResult(outcome, value, write),
    );
  }

  /** Runs `transition` on `key` atomically; resolves to its output. */
  update<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    options?: StoreOperationOptions,
  ): Promise<O> {
    return this.#update(key, transition, input, options, undefined);
  }

  /** {@link StoreAdapter.update}, bounded by `deadlines` (`undefined`: the store's `timeoutMs`). */
  #update<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    options: StoreOperationOptions | undefined,
    deadlines: DeadlineList | undefined,
  ): Promise<O> {
    const signal = options?.signal;
    const bad = this.#badKeyAndOptions("update", key, options) ??
      (typeof transition !== "object" || transition === null || typeof transition.name !== "string" ||
          typeof transition.apply !== "function"
        ? new InvalidArgumentError(`${this.#target}.update`, "transition", transition, "a Transition ({ name: string, apply: function })")
        : undefined);
    if (bad !== undefined) return Promise.reject(bad);
    const full = this.prefix + key;
    const limit = this.#keyLimit("update", key, full);
    if (limit !== undefined) return Promise.reject(limit);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.runsInOneCall(transition as unknown as Transition)) {
      // One engine call that cannot lose a race: no turn to take, no loop to stop.
      let pending: O | PromiseLike<O>;
      try {
        pending = this.updateRaw(full, transition, input, signal === undefined ? NO_SIGNAL : { signal }, neverAborted());
      } catch (error) {
        return Promise.reject(this.#wrap("update", key, error, signal));
      }
      return this.#race("update", key, signal, pending, same, undefined, deadlines);
    }
    // The loop must stop when the caller stops waiting; a controller only for update.
    const cancelled = new AbortController();
    // Unless the engine runs the transition itself, a compare-and-set loop:
    // callers in this process take turns per key, so they never make each
    // other retry (only other processes can). The turn
    // passes when the caller's promise settles, which timeoutMs bounds, so a
    // hung engine call cannot hold up the queue for longer than that. Not on
    // Workers: there a request must not start its I/O from another request's
    // settled promise, so each caller runs its own loop and may retry.
    if (!this.capabilities.runsTransitions && (this.#takesTurns ??= !onWorkers())) {
      return this.#updateInTurn(full, key, transition, input, signal, cancelled, deadlines);
    }
    return this.#run(
      "update",
      key,
      signal,
      () => this.updateRaw(full, transition, input, { signal }, cancelled.signal),
      same,
      (reason) => cancelled.abort(reason),
      deadlines,
    );
  }

  /** {@link StoreAdapter.update}'s compare-and-set loop, after the callers ahead on `full` have had their turn. */
  #updateInTurn<I extends Json, O extends Json>(
    full: string,
    key: string,
    transition: Transition<I, O>,
    input: I,
    signal: AbortSignal | undefined,
    cancelled: AbortController,
    deadlines: DeadlineList | undefined,
  ): Promise<O> {
    const queue = this.#updateQueue;
    const previous = queue.get(full);
    const result = this.#run(
      "update",
      key,
      signal,
      () =>
        previous === undefined
          ? this.updateRaw(full, transition, input, { signal }, cancelled.signal)
          : previous.then(() => this.updateRaw(full, transition, input, { signal }, cancelled.signal)),
      same,
      (reason) => cancelled.abort(reason),
      deadlines,
    );
    const turn = result.then(NOOP, NOOP);
    queue.set(full, turn);
    void turn.then(() => {
      if (queue.get(full) === turn) queue.delete(full);
    });
    return result;
  }

  // ---- Internals. --------------------------------------------------------

  #badKeyAndOptions(operation: StoreOperation, key: unknown, options: StoreOperationOptions | undefined) {
    const target = `${this.#target}.${operation}`;
    return badString(target, key, "key") ?? badOptions(target, options) ?? badSignal(target, options?.signal, "options.signal");
  }

  #keyLimit(operation: StoreOperation, key: string, full: string): StoreError | undefined {
    return this.#overLimit(operation, key, full, this.capabilities.maxKeyBytes, "key", "(prefix included)");
  }

  #valueLimit(operation: StoreOperation, key: string | undefined, json: string): StoreError | undefined {
    return this.#overLimit(operation, key, json, this.capabilities.maxValueBytes, "value", "of JSON");
  }

  /** The `ERR_STORE_LIMIT` error for `text` over `max` UTF-8 bytes, or `undefined`. */
  #overLimit(
    operation: StoreOperation,
    key: string | undefined,
    text: string,
    max: number,
    what: string,
    counted: string,
  ): StoreError | undefined {
    // Cheap bound first: a UTF-16 unit is at most 3 bytes.
    if (text.length * 3 <= max) return undefined;
    const bytes = utf8ByteLength(text);
    if (bytes <= max) return undefined;
    return new StoreError(
      "ERR_STORE_LIMIT",
      this.name,
      operation,
      key,
      `${what} is ${bytes} bytes ${counted}; ${this.name} allows at most ${max}`,
      { limit: max, actual: bytes },
    );
  }

  #stringify(value: unknown, argument: string, operation: StoreOperation): string | InvalidArgumentError {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined;
    }
    return typeof json === "string" ? json : new InvalidArgumentError(`${this.#target}.${operation}`, argument, value, NOT_JSON);
  }

  /** A {@link RawWrite} for `json`, with expiry from `ttlMs` at `nowMs`. */
  protected prepareWrite(json: string, value: Json, ttlMs: number | undefined, nowMs: number = this.clock.wallNow()): RawWrite {
    return {
      value,
      json,
      version: this.newVersion(),
      expiresAt: ttlMs === undefined ? undefined : nowMs + ttlMs,
      nativeTtlMs: ttlMs === undefined ? undefined : Math.max(ttlMs, this.capabilities.minTtlMs),
      nowMs,
    };
  }

  #checkWrite(
    operation: StoreOperation,
    key: string,
    value: Json,
    options: StoreWriteOptions | undefined,
  ): ResilienceError | { full: string; write: RawWrite; signal: AbortSignal | undefined } {
    const target = `${this.#target}.${operation}`;
    const bad = this.#badKeyAndOptions(operation, key, options);
    if (bad !== undefined) return bad;
    const ttlMs = options?.ttlMs;
    const badTtl = badTtlMs(target, "options.ttlMs", ttlMs);
    if (badTtl !== undefined) return badTtl;
    const json = this.#stringify(value, "value", operation);
    if (typeof json !== "string") return json;
    const full = this.prefix + key;
    const limit = this.#keyLimit(operation, key, full) ?? this.#valueLimit(operation, key, json);
    if (limit !== undefined) return limit;
    return { full, write: this.prepareWrite(json, value, ttlMs), signal: options?.signal };
  }

  #writeResult<V extends Json>(outcome: RawWriteResult, value: V, write: RawWrite): StoreWriteResult<V> {
    if (outcome.ok) {
      const expiresAt = "expiresAt" in outcome ? outcome.expiresAt : write.expiresAt;
      return { ok: true, entry: { value, version: outcome.version, expiresAt } };
    }
    const current = outcome.current;
    return {
      ok: false,
      current: current !== undefined && isLive(current, this.clock.wallNow())
        ? { value: current.value, version: current.version, expiresAt: current.expiresAt }
        : undefined,
    };
  }

  #wrap(operation: StoreOperation, key: string, error: unknown, signal: AbortSignal | undefined): unknown {
    if (error instanceof TransitionThrew) return error.error;
    if (error instanceof ResilienceError) return error;
    if (signal?.aborted && error === signal.reason) return error;
    const detail = error instanceof Error ? error.message : String(error);
    return new StoreError("ERR_STORE", this.name, operation, key, detail, { cause: error });
  }

  /**
   * Runs `work`, synchronously settled (no timer) or raced against the
   * timeout and the signal; `done` maps its result.
   */
  #run<R, T>(
    operation: StoreOperation,
    key: string,
    signal: AbortSignal | undefined,
    work: () => R | PromiseLike<R>,
    done: (result: R) => T,
    onGiveUp?: (reason: unknown) => void,
    bound?: DeadlineList,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let pending: R | PromiseLike<R>;
    try {
      pending = work();
    } catch (error) {
      return Promise.reject(this.#wrap(operation, key, error, signal));
    }
    return this.#race(operation, key, signal, pending, done, onGiveUp, bound);
  }

  /** {@link StoreAdapter.#run} once `work` has started: `pending` is what it returned. */
  #race<R, T>(
    operation: StoreOperation,
    key: string,
    signal: AbortSignal | undefined,
    pending: R | PromiseLike<R>,
    done: (result: R) => T,
    onGiveUp?: (reason: unknown) => void,
    bound?: DeadlineList,
  ): Promise<T> {
    if (!isThenable(pending)) {
      try {
        return Promise.resolve(done(pending));
      } catch (error) {
        return Promise.reject(this.#wrap(operation, key, error, signal));
      }
    }
    const deadlines = bound ?? (this.#deadlines ??= new DeadlineList(this.clock, this.timeoutMs));
    const flight = new InFlight(this, operation, key, signal, onGiveUp, deadlines);
    const settled = new Promise<T>((resolve, reject) => {
      flight.resolve = resolve as (value: unknown) => void;
      flight.reject = reject;
    });
    // One timer per store bounds every pending operation (deadline_list.ts).
    deadlines.add(flight);
    if (signal !== undefined) {
      const onAbort = (flight.onAbort = () => flight.finish(true, signal.reason));
      signal.addEventListener("abort", onAbort, { once: true });
    }
    pending.then(
      (result) => {
        let mapped: T;
        try {
          mapped = done(result);
        } catch (error) {
          flight.finish(true, this.#wrap(operation, key, error, signal));
          return;
        }
        flight.finish(false, mapped);
      },
      (error: unknown) => flight.finish(true, this.#wrap(operation, key, error, signal)),
    );
    return settled;
  }
}

/**
 * Whether `entry` is live at `nowMs` (epoch ms): it never expires, or
 * expires after `nowMs`.
 *
 * @example
 * ```ts
 * import { isLive } from "bulwark";
 * if (!isLive({ expiresAt: undefined }, 5) || isLive({ expiresAt: 5 }, 5)) throw new Error("isLive");
 * ```
 */
export function isLive(entry: { readonly expiresAt: number | undefined }, nowMs: number): boolean {
  return entry.expiresAt === undefined || entry.expiresAt > nowMs;
}
