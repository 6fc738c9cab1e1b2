/**
 * A breaker's state shared through a {@link Store}: what many instances of
 * one breaker (isolates, processes, regions) agree on, kept off the
 * breaker's healthy path.
 *
 * - Failures are counted locally; the store is written on transitions only
 *   (never the same state twice), and on stores with a minimum interval
 *   between writes of one key (Workers KV: 1 s) at most once per interval.
 * - The shared state is read at most once per `refreshMs`, by a call, in
 *   the background: a busy instance's calls use the state last read and
 *   never wait. A call waits for a read (bounded by `storeTimeoutMs`) only
 *   when the local state may be far older than that: on a fresh instance,
 *   and on one back from idle (elsewhere than on Workers: its refresh timer
 *   stopped and a read is due; on Workers: no read settled for two
 *   intervals). Elsewhere every call waits for the same read. On Workers a
 *   request may not wait on a read another request started, so each call
 *   that finds the state stale makes its own read: one extra read per
 *   request arriving while the first is in flight, until one answers. After
 *   a read that failed or timed out, no call waits.
 * - In half-open, the instance that wins a lease (`insertIfAbsent` /
 *   `compareAndSet`, expiring after `halfOpenMaxWaitMs`) probes; the others
 *   refuse until the verdict is shared or the lease expires.
 * - With `quorum: N`, a local trip is a vote: the shared circuit opens once
 *   N distinct instances voted within `quorumWindowMs`.
 * - A store that fails, hangs or answers late is reported (`storeError`)
 *   and otherwise ignored: the breaker runs on its local state and catches
 *   up at the next refresh.
 * - `forceOpen()`, `disable()` and `reset()` are written with the time they
 *   were made (`manual.at`): the later action wins. A `reset()` on an
 *   instance that has not read the shared state yet starts its first read
 *   and is written over the record read, unless that holds a later action.
 * - Records carry a generation, drawn when a record is created where the
 *   store holds none: after the store loses its data, a brand-new
 *   instance's record (`seq` 1) is still newer than the `seq` 10 the
 *   others saw, and a stale read of the lost generation is still older.
 * - Every record this release writes is marked (`writer: 2`), also those
 *   it writes in the previous release's format (no `gen`) over one of
 *   its records: an override's holder tells this release's `closed` written
 *   without seeing the override (a loss) from the previous release's reset.
 * - A record that is not newer than the one seen is a stale read only while
 *   a read can be stale: one begun after the instance learned its record
 *   (on an eventual store, 60 s after) shows what the store holds, so such
 *   a record means the store lost data and was written over (a previous-
 *   release instance from a low `seq`, a creator whose clock is behind),
 *   and it is taken as current.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { CircuitBreaker } from "./circuit_breaker.ts";
import { runInContext } from "../internal/context.ts";
import { StoreError, type StoreOperation } from "../errors.ts";
import { onWorkers } from "../internal/runtime.ts";
import type { Json, Store, StoreEntry } from "../store/store.ts";
import type { ExecutionContext, Operation } from "../policy.ts";
import { requireStore } from "../store/requirements.ts";
import type { SharedHalf } from "./sharing.ts";

/** States the store holds; `"half-open"` is derived (open, and its period over). */
export type SharedCircuitState = "closed" | "open" | "forced-open" | "disabled";

/** One instance's local trip, while a quorum is being gathered. */
export interface SharedCircuitVote {
  /** The instance's id (random, drawn on first use). */
  readonly id: string;
  /** Wall-clock epoch ms of the trip. */
  readonly at: number;
}

/**
 * The last manual action (`forceOpen()`, `disable()`, `reset()`) of a
 * record's history: which of two conflicting overrides wins, and whether a
 * record read after the store lost data already knows of the override an
 * instance holds.
 *
 * @example
 * ```ts
 * import type { SharedManualAction } from "bulwark";
 * const forced: SharedManualAction = { at: Date.UTC(2026, 0, 1), state: "forced-open" };
 * if (forced.state !== "forced-open") throw new Error("unreachable");
 * ```
 */
export interface SharedManualAction {
  /** Wall-clock epoch ms it was made, dated after every manual action its instance had seen. */
  readonly at: number;
  /** The state it set: `"forced-open"`, `"disabled"`, or `"closed"` (a reset). */
  readonly state: SharedCircuitState;
}

/** What the store holds under `breaker:<name>`. */
export interface SharedCircuitRecord {
  /** Format version. */
  readonly v: 1;
  /**
   * The record's generation: a random id drawn when a record is created
   * where the store holds none (the first write, or the first after the
   * store lost its data), inherited by every record written over it.
   * Absent in records of earlier versions: one legacy generation, older
   * than any other.
   */
  readonly gen?: string;
  /** Wall-clock epoch ms the generation was created (present with `gen`): a later generation is newer. */
  readonly genAt?: number;
  /** Bumped on every write of a generation: an instance adopts a record newer than the last it saw. */
  readonly seq: number;
  readonly state: SharedCircuitState;
  /** Wall-clock epoch ms the circuit opened (`null` unless open or forced open). */
  readonly openedAt: number | null;
  /** How long this open period lasts, in ms (grows with `resetBackoff`). */
  readonly openPeriodMs: number;
  /** Openings in a row (for `resetBackoff`). */
  readonly openings: number;
  /** The instance that wrote it. */
  readonly by: string;
  /** Trips counted toward `quorum` (pruned to `quorumWindowMs`). */
  readonly votes: readonly SharedCircuitVote[];
  /** The last manual action of its history, inherited by every record written over it (absent if none, and in records of earlier versions). */
  readonly manual?: SharedManualAction;
  /**
   * `2` on every record this release writes, in either format (with `gen`,
   * or without it over a record of the previous release, which reads only
   * that format): a record without `gen` and without the mark is the
   * previous release's. Absent in records of earlier versions.
   */
  readonly writer?: 2;
}

/**
 * What a local transition asks of the shared state:
 * - `trip`: this instance tripped while the shared circuit was closed (a vote with a quorum);
 * - `reopen`: the probe of a shared opening failed;
 * - `recover`: the probe of a shared opening succeeded;
 * - `manual`: `forceOpen()`, `disable()`, `reset()`: written as is.
 */
export interface SharedIntent {
  readonly kind: "trip" | "reopen" | "recover" | "manual";
  readonly state: SharedCircuitState;
  readonly openedAt: number | null;
  readonly openPeriodMs: number;
  readonly openings: number;
  /** The `seq` of the shared record the local state derived from (`reopen`, `recover`: written only if still current, or if the store lost it). */
  readonly basisSeq: number;
  /** That record's generation (its `gen`; `""` for the legacy one). */
  readonly basisGen: string;
  /** `manual`: the action, recorded in the record (absent: the record's own is kept). */
  readonly manual?: SharedManualAction;
}

/** What {@link mergeShared} needs besides the record and the intent. */
export interface MergeContext {
  readonly id: string;
  /** Wall-clock epoch ms. */
  readonly now: number;
  readonly quorum: number;
  readonly quorumWindowMs: number;
}

const isOpen = (state: SharedCircuitState | undefined): boolean => state === "open" || state === "forced-open";

/** The generation of records written before generations existed (no `gen`). */
const LEGACY_GENERATION = "";

/** A record's generation: its `gen`, or `""` for a record of an earlier version. */
function generationOf(record: SharedCircuitRecord): string {
  return record.gen ?? LEGACY_GENERATION;
}

/**
 * Whether `record` is newer than `than`: of a later generation (created
 * later by the wall clock, ties broken by id; the legacy one is the
 * oldest), or of the same generation with a higher `seq`. A stale read (an
 * older record of the same history, or one of a generation the store has
 * since lost) is never newer.
 *
 * @example
 * ```ts
 * import { isNewerRecord, type SharedCircuitRecord } from "./shared.ts";
 * const record = (gen: string, genAt: number, seq: number): SharedCircuitRecord =>
 *   ({ v: 1, gen, genAt, seq, by: "a", state: "closed", openedAt: null, openPeriodMs: 1_000, openings: 0, votes: [] });
 * // The store lost its data: a new generation counting from 1 is still newer.
 * if (!isNewerRecord(record("g2", 2_000, 1), record("g1", 1_000, 10))) throw new Error("new generation ignored");
 * if (isNewerRecord(record("g1", 1_000, 10), record("g2", 2_000, 1))) throw new Error("stale generation adopted");
 * ```
 */
export function isNewerRecord(record: SharedCircuitRecord, than: SharedCircuitRecord): boolean {
  const gen = generationOf(record);
  const thanGen = generationOf(than);
  if (gen === thanGen) return record.seq > than.seq;
  const at = record.genAt ?? 0;
  const thanAt = than.genAt ?? 0;
  return at !== thanAt ? at > thanAt : gen > thanGen;
}

/**
 * Whether manual action `a` wins over `b` (absent: none): the later one,
 * and at the same ms `forced-open` over `disabled` over a reset. A strict
 * order, so two conflicting overrides converge on one, whoever writes first.
 *
 * @example
 * ```ts
 * import { isLaterManual } from "./shared.ts";
 * if (!isLaterManual({ at: 2, state: "disabled" }, { at: 1, state: "forced-open" })) throw new Error("the later action wins");
 * if (!isLaterManual({ at: 1, state: "forced-open" }, { at: 1, state: "disabled" })) throw new Error("same ms: forced-open");
 * if (isLaterManual({ at: 1, state: "closed" }, { at: 1, state: "closed" })) throw new Error("an action does not beat itself");
 * ```
 */
export const isLaterManual = (a: SharedManualAction, b: SharedManualAction | undefined): boolean =>
  b === undefined || (a.at !== b.at ? a.at > b.at : a.state > b.state);

/** `record`'s generation fields, for a record written over it. */
const generationFields = (record: SharedCircuitRecord | undefined): { gen?: string; genAt?: number } =>
  record?.gen === undefined ? {} : { gen: record.gen, genAt: record.genAt ?? 0 };

/**
 * The record to write for `intent` over `current`, or `undefined` to write
 * nothing (the store already says it, or another instance decided since).
 * Pure: the unit of the protocol, checked by property tests.
 *
 * @example
 * ```ts
 * import { mergeShared } from "./shared.ts";
 * const trip = { kind: "trip", state: "open", openedAt: 1_000, openPeriodMs: 60_000, openings: 1, basisSeq: 0, basisGen: "" } as const;
 * const context = { now: 1_000, quorum: 2, quorumWindowMs: 60_000 };
 * const first = mergeShared(undefined, trip, { ...context, id: "a" });
 * if (first?.state !== "closed" || first.votes.length !== 1) throw new Error("one vote is not a quorum");
 * const second = mergeShared(first, trip, { ...context, id: "b" });
 * if (second?.state !== "open" || second.seq !== 2) throw new Error("two distinct instances open it");
 * ```
 */
export function mergeShared(
  current: SharedCircuitRecord | undefined,
  intent: SharedIntent,
  context: MergeContext,
): SharedCircuitRecord | undefined {
  const seq = (current?.seq ?? 0) + 1;
  const manual = intent.manual ?? current?.manual;
  // `writer`: the previous release (48eed75) checks only the fields it knows (its isSharedRecord) and builds every
  // record it writes from scratch, so the mark is harmless to it and gone from whatever it writes over a marked record.
  const base = { v: 1 as const, writer: 2 as const, ...generationFields(current), seq, by: context.id, ...(manual === undefined ? {} : { manual }) };
  switch (intent.kind) {
    case "manual":
      if (current?.state === intent.state && current.openedAt === intent.openedAt) return undefined;
      return { ...base, state: intent.state, openedAt: intent.openedAt, openPeriodMs: intent.openPeriodMs, openings: intent.openings, votes: [] };
    case "trip": {
      // Opened (or switched off) by someone else meanwhile: adopt it, write nothing.
      if (current !== undefined && current.state !== "closed") return undefined;
      // Within the window either way: a vote dated ahead (its instance's clock runs ahead) would
      // otherwise count for as long as that clock is ahead, and pair with a trip long after it.
      const votes = (current?.votes ?? []).filter((vote) =>
        Math.abs(context.now - vote.at) < context.quorumWindowMs && vote.id !== context.id
      );
      votes.push({ id: context.id, at: context.now });
      if (votes.length >= context.quorum) {
        return { ...base, state: "open", openedAt: intent.openedAt, openPeriodMs: intent.openPeriodMs, openings: intent.openings, votes: [] };
      }
      return { ...base, state: "closed", openedAt: null, openPeriodMs: current?.openPeriodMs ?? intent.openPeriodMs, openings: 0, votes };
    }
    // A probe's verdict. Over nothing (the store lost the opening), it is
    // written still: the instances holding the lost opening follow it.
    case "reopen":
      if (current !== undefined && (!isBasis(current, intent) || !isOpen(current.state))) return undefined;
      if (current?.openedAt === intent.openedAt) return undefined;
      return { ...base, state: "open", openedAt: intent.openedAt, openPeriodMs: intent.openPeriodMs, openings: intent.openings, votes: [] };
    case "recover":
      if (current !== undefined && (!isBasis(current, intent) || current.state !== "open")) return undefined;
      return { ...base, state: "closed", openedAt: null, openPeriodMs: intent.openPeriodMs, openings: 0, votes: [] };
  }
}

/** Whether `current` is the record `intent` was made from (same generation, same `seq`). */
const isBasis = (current: SharedCircuitRecord, intent: SharedIntent): boolean =>
  current.seq === intent.basisSeq && generationOf(current) === intent.basisGen;

/**
 * Whether `value` is a record this module wrote (this version, or an earlier one without `gen`). A state of
 * another format (a later release's, or `half-open`, never stored) is not one: adopting it would leave the
 * breaker in a state it has no rules for.
 */
function isSharedRecord(value: Json | undefined): value is Json & SharedCircuitRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, Json>;
  const state = record.state;
  return record.v === 1 && typeof record.seq === "number" &&
    (state === "closed" || state === "open" || state === "forced-open" || state === "disabled") &&
    (record.openedAt === null || typeof record.openedAt === "number") && typeof record.openPeriodMs === "number" &&
    typeof record.openings === "number" &&
    Array.isArray(record.votes) && (record.manual === undefined || isManualAction(record.manual)) &&
    (record.gen === undefined || (typeof record.gen === "string" && typeof record.genAt === "number"));
}

function isManualAction(value: Json): boolean {
  return typeof value === "object" && value !== null && typeof (value as Record<string, Json>).at === "number" &&
    typeof (value as Record<string, Json>).state === "string";
}

/** Payload of the breaker's `storeError` event. */
export interface CircuitStoreErrorEvent {
  /** The breaker's name. */
  readonly name: string;
  /** What the breaker was doing: reading the shared state, writing it, or taking the probe lease. */
  readonly operation: "read" | "write" | "lease";
  /** The store's error (`StoreError`, `ERR_STORE_TIMEOUT` past `storeTimeoutMs`). */
  readonly error: unknown;
}

/** What {@link SharedCircuit} reaches of its breaker: the breaker, and closures over its private state, built once. */
export interface BreakerLink {
  /** Its public side: `name`, `options.clock`, `state` (open → half-open applied), and `[runInContext]` to run a call through it again. */
  readonly breaker: CircuitBreaker<unknown>;
  probesInFlight(): number;
  /** Takes a probe slot while the lease is asked for; returns the epoch to release it with. */
  reserveProbe(): number;
  releaseProbe(epoch: number): void;
  /** Refuses the call as the breaker does (counted, `reject` event, `fallback`). */
  refuse(message: string, remainingMs: number): Promise<never>;
  /** The local state as the store should see it. */
  local(): { state: string; openedAt: number | null; openPeriodMs: number; openings: number };
  /** Moves the local breaker to the shared state (no write back, no vote). */
  adopt(record: SharedCircuitRecord): void;
  storeError(event: CircuitStoreErrorEvent): void;
}

/** The shared options, resolved. */
export interface SharedCircuitOptions {
  readonly store: Store;
  readonly refreshMs: number;
  readonly storeTimeoutMs: number;
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  readonly quorum: number;
  readonly quorumWindowMs: number;
  readonly halfOpenMaxWaitMs: number;
}

/** The longest lease asked of a store: a hung prober is forgotten after a day at most. */
const MAX_LEASE_MS = 86_400_000;
/** Compare-and-set rounds of one write before it waits for the next refresh. */
const WRITE_ATTEMPTS = 3;
/** How old a read of an eventually consistent store may be (Workers KV: a write reaches other locations within 60 s). */
const EVENTUAL_STALE_MS = 60_000;

/**
 * @internal The shared half of one breaker, built by `CircuitBreaker` when
 * given a `store`; see the module's notes.
 */
export class SharedCircuit implements SharedHalf {
  readonly #link: BreakerLink;
  readonly #name: string;
  readonly #clock: Clock;
  readonly #store: Store;
  readonly #key: string;
  readonly #leaseKey: string;
  readonly #refreshMs: number;
  readonly #timeoutMs: number;
  readonly #waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  readonly #quorum: number;
  readonly #quorumWindowMs: number;
  readonly #leaseMs: number;
  readonly #minWriteIntervalMs: number;
  /**
   * Workers: a call never waits on a read another request started, and a
   * timer may not outlive its request, so calls read the clock to find a
   * refresh due (cheap there). Elsewhere a timer does it, and a call only
   * marks itself seen: no clock read on the healthy path.
   */
  readonly #ownReadsOnly: boolean;
  /** A call came since the refresh timer last fired. */
  #touched = false;
  /** The refresh timer is armed (it is not while the breaker sits idle). */
  #armed = false;
  /** Not on Workers: the read calls wait for after the instance was idle; `undefined` if none. */
  #catchUp: Promise<void> | undefined;
  /** Monotonic ms the last read settled (answered, failed or timed out): Workers' measure of a stale state. */
  #settledAt = -Infinity;
  /** The last read answered: a call waits for a catch-up read only while the store answers. */
  #answering = true;
  /** A read has answered: this instance knows the shared state. */
  #answered = false;
  /** `reset()` made before any read answered, with the time it was made: written over the first record read, unless that holds a later action. */
  #pendingReset: SharedManualAction | undefined;

  #id: string | undefined;
  /** The first read has answered (or failed, or timed out). */
  #loaded = false;
  /** The first read, when a call started it (elsewhere than on Workers, the calls made meanwhile wait for it). */
  #loading: Promise<void> | undefined;
  /** Monotonic ms of the next background read. */
  #nextRefreshAt = 0;
  /** Monotonic ms a read in flight started; `-1` if none. */
  #readingSince = -1;
  /** The newest record seen, and its version. */
  #seen: SharedCircuitRecord | undefined;
  #seenVersion: string | undefined;
  /** Bumped whenever `#seen` changes: a read started at the same count began after this instance learned `#seen`. */
  #learned = 0;
  /** Monotonic ms `#seen` was learned (the read or write that showed it answered). */
  #learnedAt = -Infinity;
  /** How old a read may be: 0 on a strongly consistent store, {@link EVENTUAL_STALE_MS} on an eventual one. */
  readonly #staleMs: number;
  /**
   * A generation this instance saw the store lose (it took what the store held after it as current), and
   * the highest `seq` it saw of it: a record of it up to that `seq` is a stale read of the lost history.
   */
  #lostGen: string | undefined;
  #lostSeq = 0;
  /**
   * The highest `seq` seen or written in the current generation: a record
   * created after the store lost its data counts up from it (so readers of
   * an earlier version, which order by `seq` alone, still adopt it).
   */
  #maxSeq = 0;
  /** `genAt` of the newest generation seen: one this instance creates is later still, whatever its clock. */
  #genAt = 0;
  /** The `seq` of the shared opening (of the current generation) the local open state stands for; `-1` when it is local only. */
  #openSeq = -1;
  /** The manual action the local override (forced open, disabled) stands for: written again if the store loses it. */
  #manual: SharedManualAction | undefined;
  /** Set while the breaker applies a shared record: its transitions are not written back. */
  #adopting = false;
  /** What the store should be told, not yet written. */
  #intent: SharedIntent | undefined;
  /** Monotonic ms the write in flight started; `-1` if none. */
  #writingSince = -1;
  /** Monotonic ms of the last write of the state key; a deferred write waits for the interval. */
  #lastWriteAt = -Infinity;
  /** Monotonic ms a deferred (coalesced) write is due; `-1` if none. */
  #writeDueAt = -1;
  /** The lease: for which opening (generation and `seq`), whose, and until when (wall ms) if another's. */
  #leaseGen = LEGACY_GENERATION;
  #leaseSeq = -1;
  #leaseMine = false;
  #leaseUntil = 0;
  /** The store's version of the lease this instance holds (to release it after its verdict); `undefined` if none. */
  #leaseVersion: string | undefined;
  /** A call's budget across its first read and the lease (monotonic ms), while it re-enters. */
  #deadline = Infinity;

  constructor(link: BreakerLink, options: SharedCircuitOptions) {
    this.#link = link;
    this.#name = link.breaker.name;
    this.#clock = link.breaker.options.clock;
    this.#store = options.store;
    this.#key = `breaker:${this.#name}`;
    this.#leaseKey = `${this.#key}:probe`;
    this.#refreshMs = options.refreshMs;
    this.#timeoutMs = options.storeTimeoutMs;
    this.#waitUntil = options.waitUntil;
    this.#quorum = options.quorum;
    this.#quorumWindowMs = options.quorumWindowMs;
    this.#leaseMs = Math.min(Math.max(1, options.halfOpenMaxWaitMs), MAX_LEASE_MS);
    this.#minWriteIntervalMs = options.store.capabilities.minWriteIntervalMs;
    this.#staleMs = options.store.capabilities.consistency === "strong" ? 0 : EVENTUAL_STALE_MS;
    this.#ownReadsOnly = onWorkers();
  }

  /** Drawn on first use, never at import or construction. */
  get id(): string {
    return (this.#id ??= crypto.randomUUID());
  }

  /**
   * Called by every call of a shared breaker before its admission, with the
   * breaker's raw state: `undefined` lets the call proceed on the local
   * state; a promise is the call's outcome after a bounded wait (a read
   * that catches up, the probe lease) or a refusal.
   */
  gate<T>(state: string, fn: Operation<T>, caller: ExecutionContext | undefined): Promise<T> | undefined {
    // A call run again after its read (its deadline set) does not wait for another.
    const read = this.#due(this.#deadline === Infinity);
    if (read !== undefined) {
      const deadline = this.#clock.now() + this.#timeoutMs;
      return read.then(() => this.#rerun(deadline, fn, caller));
    }
    if (state === "closed" || this.#openSeq < 0) return undefined;
    return this.#leaseGate(fn, caller, this.#clock.now());
  }

  /**
   * Starts a read if one is due, and returns the read a call must wait for
   * (bounded by `storeTimeoutMs`) when `waiting`, so an opening the fleet
   * wrote while this instance was not reading is refused, not called:
   * - not loaded yet (a fresh instance);
   * - back from idle (its local state older than an interval), while the
   *   store answers (after a failed read, nothing waits).
   * Elsewhere than on Workers, calls wait for one read (the first, the
   * catch-up). On Workers a request may not wait on a read another started:
   * each call that finds the state stale does its own read ({@link SharedCircuit.#stale}).
   * A busy instance reads in the background and never waits.
   */
  #due(waiting: boolean): Promise<void> | undefined {
    if (this.#ownReadsOnly) {
      const now = this.#clock.now();
      if (waiting && this.#stale(now)) return this.#read(now);
      if (!this.#loaded) this.#loading ??= this.#refresh(now);
      else if (now >= this.#nextRefreshAt) this.#refresh(now);
      return undefined;
    }
    if (!this.#loaded) {
      this.#loading ??= this.#refresh(this.#clock.now());
      return waiting ? this.#loading : undefined;
    }
    this.#touched = true;
    if (!this.#armed) {
      // Back from idle: read now if the last read is an interval old, then every interval while calls come.
      const now = this.#clock.now();
      if (now >= this.#nextRefreshAt) {
        const read = this.#refresh(now);
        if (this.#answering) {
          const catchUp: Promise<void> = read.then(() => {
            if (this.#catchUp === catchUp) this.#catchUp = undefined;
          });
          this.#catchUp = catchUp;
        }
      }
      this.#arm();
    }
    return waiting ? this.#catchUp : undefined;
  }

  /**
   * Workers: whether the local state is too old to act on: not loaded, or
   * no read settled for two intervals (a busy instance's reads settle about
   * one interval apart) while the store answers. A read in flight that
   * started while the state was fresh (a busy instance's refresh, slow to
   * answer) keeps it fresh until it settles.
   */
  #stale(now: number): boolean {
    if (!this.#loaded) return true;
    const staleMs = 2 * this.#refreshMs;
    if (!this.#answering || now - this.#settledAt < staleMs) return false;
    const since = this.#readingSince;
    return since < 0 || now - since >= this.#timeoutMs || since - this.#settledAt >= staleMs;
  }

  /** Whether a call arriving now would wait for a read (no side effect). */
  #waits(): boolean {
    if (this.#ownReadsOnly) return this.#stale(this.#clock.now());
    return this.#catchUp !== undefined || (!this.#armed && this.#answering && this.#clock.now() >= this.#nextRefreshAt);
  }

  #arm(): void {
    this.#armed = true;
    this.#touched = false;
    this.#clock.schedule(() => {
      this.#armed = false;
      // Idle for a whole interval: no timer until the next call (nothing keeps a process alive).
      if (!this.#touched) return;
      this.#refresh(this.#clock.now());
      this.#arm();
    }, this.#refreshMs);
  }

  /** Whether a fused pipeline may take the breaker's synchronous path: loaded, no read to wait for, and the refresh kicked if due. */
  passes(): boolean {
    if (!this.#loaded || this.#waits()) return false;
    this.#due(false);
    return true;
  }

  /** For `executeSync` and an open circuit's refusal: reads in the background when due, never waits. */
  touch(): void {
    this.#due(false);
  }

  #rerun<T>(deadline: number, fn: Operation<T>, caller: ExecutionContext | undefined): Promise<T> {
    this.#deadline = deadline;
    try {
      // The call's context is `caller`, or without a signal the shared one, which `[runInContext]` takes again.
      return this.#link.breaker[runInContext](fn, caller) as Promise<T>;
    } finally {
      this.#deadline = Infinity;
    }
  }

  /** In half-open of a shared opening: one instance of the fleet probes, under a lease. */
  #leaseGate<T>(
    fn: Operation<T>,
    caller: ExecutionContext | undefined,
    now: number,
  ): Promise<T> | undefined {
    if (this.#link.breaker.state !== "half-open") return undefined;
    const seq = this.#openSeq;
    const gen = this.#seen === undefined ? LEGACY_GENERATION : generationOf(this.#seen);
    if (this.#leaseSeq === seq && this.#leaseGen === gen) {
      if (this.#leaseMine) return undefined;
      const leftMs = this.#leaseUntil - this.#clock.wallNow();
      if (leftMs > 0) {
        return this.#link.refuse(
          `Circuit '${this.#name}' is half-open and another instance holds its probe`,
          leftMs,
        );
      }
    }
    // Another call of this instance is asking for the lease or probing: the breaker decides (busy).
    if (this.#link.probesInFlight() > 0) return undefined;
    const budget = Math.min(this.#deadline, now + this.#timeoutMs) - now;
    const epoch = this.#link.reserveProbe();
    const deadline = this.#deadline;
    return this.#takeLease(gen, seq, budget).then(() => {
      this.#link.releaseProbe(epoch);
      return this.#rerun(deadline, fn, caller);
    });
  }

  /** Asks for the lease of opening `seq` of generation `gen`; settles the lease fields, never rejects. */
  async #takeLease(gen: string, seq: number, budgetMs: number): Promise<void> {
    // Keyed by generation too: a store that lost its data counts `seq` from 1 again.
    const mine: Json = gen === LEGACY_GENERATION ? { by: this.id, seq } : { by: this.id, gen, seq };
    const own = (version?: string) => {
      this.#leaseGen = gen;
      this.#leaseSeq = seq;
      this.#leaseMine = true;
      this.#leaseVersion = version;
    };
    if (budgetMs <= 0) return own();
    const started = this.#clock.now();
    try {
      const inserted = await this.#bounded("lease", "insertIfAbsent", this.#leaseKey, (signal) =>
        this.#store.insertIfAbsent(this.#leaseKey, mine, { ttlMs: this.#leaseMs, signal }), budgetMs);
      if (inserted.ok) return own(inserted.entry.version);
      let current = inserted.current;
      // A lease left from an earlier opening (or generation), or released by its prober's verdict, is free to take over.
      // One without `gen` (an earlier version's prober) names its opening by `seq` alone, as that version does.
      const value = current?.value as { seq?: unknown; gen?: unknown; released?: unknown } | undefined;
      if (current !== undefined && (value?.seq !== seq || (value.gen !== undefined && value.gen !== gen) || value.released === true)) {
        const left = budgetMs - (this.#clock.now() - started);
        const swapped = await this.#bounded("lease", "compareAndSet", this.#leaseKey, (signal) =>
          this.#store.compareAndSet(this.#leaseKey, current!.version, mine, { ttlMs: this.#leaseMs, signal }), left);
        if (swapped.ok) return own(swapped.entry.version);
        current = swapped.current;
      }
      this.#leaseGen = gen;
      this.#leaseSeq = seq;
      this.#leaseMine = false;
      this.#leaseVersion = undefined;
      this.#leaseUntil = current?.expiresAt ?? this.#clock.wallNow() + this.#leaseMs;
    } catch {
      // Reported by #bounded. The store must not wedge the breaker: probe on local state.
      own();
    }
  }

  /**
   * After this instance's probe verdict is written: marks its lease released
   * (compare-and-set on the lease's version, so a newer lease is never
   * touched), so that an instance still half-open on that opening, if the
   * store loses the verdict, can take the lease at once instead of waiting
   * for it to expire. In the background; a failure only leaves the lease to
   * expire.
   */
  #releaseLease(): void {
    const version = this.#leaseVersion;
    if (!this.#leaseMine || version === undefined) return;
    this.#leaseVersion = undefined;
    const released: Json = this.#leaseGen === LEGACY_GENERATION
      ? { by: this.id, seq: this.#leaseSeq, released: true }
      : { by: this.id, gen: this.#leaseGen, seq: this.#leaseSeq, released: true };
    const release = this.#bounded("lease", "compareAndSet", this.#leaseKey, (signal) =>
      this.#store.compareAndSet(this.#leaseKey, version, released, { ttlMs: this.#leaseMs, signal }), this.#timeoutMs)
      .then(() => {}, () => {});
    this.#keepAlive(release);
  }

  /** Reads the shared state in the background (at most once per `refreshMs`); never rejects. */
  #refresh(now: number): Promise<void> {
    // One read at a time; one abandoned (a request that ended mid-read on Workers) is replaced.
    if (this.#readingSince >= 0 && now - this.#readingSince < this.#timeoutMs) return Promise.resolve();
    this.#readingSince = now;
    const read = this.#read(now, true);
    this.#keepAlive(read);
    return read;
  }

  /** One read of the shared state, applied: the background one, or on Workers a call's own (the state stale). Never rejects. */
  #read(now: number, background = false): Promise<void> {
    if (now >= this.#nextRefreshAt) this.#nextRefreshAt = now + this.#refreshMs;
    const settle = (answered: boolean) => {
      if (background && this.#readingSince === now) this.#readingSince = -1;
      this.#settledAt = this.#clock.now();
      this.#answering = answered;
    };
    const learned = this.#learned;
    return this.#bounded("read", "get", this.#key, (signal) => this.#store.get(this.#key, { signal }), this.#timeoutMs).then(
      (entry) => {
        settle(true);
        this.#answered = true;
        this.#apply(entry, learned, now);
        if (this.#pendingReset !== undefined) this.#resetRead(this.#pendingReset);
      },
      () => settle(false),
    ).finally(() => {
      this.#loaded = true;
      // A write that failed, or waited for this read, goes out now.
      if (this.#intent !== undefined) this.#flush();
    });
  }

  /**
   * Applies a record read or found by a failed compare-and-set: adopts it
   * if newer than the last seen ({@link isNewerRecord}). A record of another
   * generation is newer when that generation was created later: the store
   * lost what this instance saw, and its `seq` counts from 1 again.
   *
   * A record not newer is a stale read, unless the read began after this
   * instance learned the record it saw (`learned`, the count then) and at
   * least a stale read's age later (`startedAt`; 0 on a strong store): it
   * is then what the store holds since, so the store lost what this
   * instance saw and was written over afterwards (an instance of the
   * previous release starting over from a low `seq`, a generation whose
   * creator's clock is behind), and it is taken as current.
   */
  #apply(entry: StoreEntry | undefined, learned: number, startedAt: number): void {
    const held = this.#held();
    if (entry === undefined || !isSharedRecord(entry.value)) {
      // The store lost the record, and with it any verdict on the opening another instance's lease
      // covers: ask for the lease again at the next half-open call (free if its prober released it).
      if (this.#seen !== undefined && !this.#leaseMine) this.#leaseSeq = -1;
      // An override the store lost is written again, as a new generation (the refresh flushes it).
      if (held !== undefined && this.#intent === undefined) {
        this.#see(undefined, undefined);
        this.#rewrite(held);
      }
      return;
    }
    const raw: SharedCircuitRecord = entry.value;
    let record = raw;
    const seen = this.#seen;
    const legacy = record.gen === undefined;
    // Written by this release in the previous one's format: it carries its history's manual action.
    const marked = legacy && record.writer !== undefined;
    // A record of an earlier version written over a generation drops `gen`; written over what the store
    // held (compare-and-set), its `seq` is higher: it continues that generation. A lower one is stale,
    // or written over a store that lost the generation (told apart by `current` below).
    if (legacy && seen?.gen !== undefined) record = { ...record, gen: seen.gen, genAt: seen.genAt ?? 0 };
    // The read began after this instance learned `seen`, by more than a stale read's age: what the store holds.
    const current = learned === this.#learned && startedAt - this.#learnedAt >= this.#staleMs;
    // A record of a history this instance saw the store lose, no later than what it saw of it: a stale read.
    const lost = seen !== undefined && raw.gen !== undefined && raw.gen === this.#lostGen && raw.seq <= this.#lostSeq &&
      generationOf(seen) !== raw.gen;
    if (lost && !current) return;
    let newGeneration = seen === undefined || generationOf(record) !== generationOf(seen);
    const newer = seen === undefined || (isNewerRecord(record, seen) && !lost);
    // Not newer, and another record than the one seen (an old-release record is read with the generation seen).
    const differs = !newer && (generationOf(record) !== generationOf(seen!) || record.seq !== seen!.seq ||
      record.by !== seen!.by || record.state !== seen!.state || record.openedAt !== seen!.openedAt);
    // Not newer, yet what the store holds, and another record than the one seen: the store went back.
    const back = differs && current;
    // A record that does not know the override held here: the store lost it (a generation created after
    // a loss, newer, or older when its creator's clock is behind), or a write raced it, or it knows only an
    // earlier override. The override is written again over it. An earlier version records no manual
    // action; over an override it writes only a reset or another override (with a higher seq), never an
    // opening or a vote: those, or a seq not above the override's, it wrote without seeing the override.
    // A stale read of this generation (older) is not one.
    // An override not yet written (it raced the old record) is the later action: written over it.
    // A record of this release in the old format (marked) says what it knows in `manual`, as one with
    // `gen` does: a `closed` without the override's action (a probe's recovery of an old opening written
    // over the lost store) loses it; one with a later action (a reset) does not.
    const unaware = held !== undefined && (legacy && !newer
      ? differs && (!marked || isLaterManual(held, record.manual))
      : legacy && !marked
      ? record.state === "open" || (record.state === "closed" && record.votes.length > 0) || this.#intent?.kind === "manual"
      : (newer || newGeneration || back) && isLaterManual(held, record.manual));
    if (!newer && !unaware && !back) {
      if (!newGeneration && record.seq === seen!.seq) this.#seenVersion = entry.version;
      return;
    }
    if (back && !unaware) {
      // Its own history (a record of the previous release keeps no generation): the one seen is lost, and a
      // stale read of it is not taken back. This instance's count stays above it, so that every reader
      // (of the lost generation, or of the previous release) takes what it writes over it as newer.
      if (seen!.gen !== undefined && generationOf(raw) !== seen!.gen) {
        this.#lostGen = seen!.gen;
        this.#lostSeq = seen!.seq;
      }
      record = raw;
      newGeneration = true;
      if (!this.#leaseMine) this.#leaseSeq = -1;
      this.#see(raw, entry.version);
      this.#maxSeq = Math.max(this.#maxSeq, raw.seq);
      if (raw.genAt !== undefined) this.#genAt = Math.max(this.#genAt, raw.genAt);
    } else {
      // Written over a record taken as older, or one of the previous release (whose generation is a
      // guess): as a new generation, later than both (with no record seen; a stale read's
      // compare-and-set fails and finds the override in the store).
      this.#see(newer && !(unaware && legacy) ? record : undefined, entry.version);
    }
    // Another generation's seq is its own: this instance's old count is not carried into it.
    if (newer) this.#maxSeq = newGeneration ? record.seq : Math.max(this.#maxSeq, record.seq);
    if (newer && record.genAt !== undefined) this.#genAt = Math.max(this.#genAt, record.genAt);
    if (unaware) {
      if (this.#intent === undefined) this.#rewrite(held);
      return;
    }
    const local = this.#link.local();
    const state = record.state;
    let adopt = false;
    if (isOpen(state)) {
      // An opening is known by generation and seq: a new generation's is new whatever its seq.
      adopt = newGeneration || record.seq !== this.#openSeq;
      if (state === "open") this.#openSeq = record.seq;
    } else if (state === "disabled") {
      adopt = local.state !== "disabled";
    } else {
      // Closed: a local opening stands unless it was a shared one (its probe succeeded elsewhere).
      adopt = local.state === "forced-open" || local.state === "disabled" ||
        ((local.state === "open" || local.state === "half-open") && this.#openSeq >= 0);
    }
    if (state !== "open") this.#openSeq = -1;
    if (!adopt) return;
    // The store decided since this intent was made: it is moot.
    this.#intent = undefined;
    this.#adopting = true;
    try {
      this.#link.adopt(record);
    } finally {
      this.#adopting = false;
    }
    this.#manual = record.manual;
  }

  /** Records what this instance now takes as the shared state (`undefined`: none), learned now. */
  #see(record: SharedCircuitRecord | undefined, version: string | undefined): void {
    this.#seen = record;
    this.#seenVersion = version;
    this.#learned++;
    this.#learnedAt = this.#clock.now();
  }

  /** The manual action of the override this instance holds (set here or learned), if it holds one. */
  #held(): SharedManualAction | undefined {
    const state = this.#link.local().state;
    if (state !== "forced-open" && state !== "disabled") return undefined;
    // Learned from a record of an earlier version (no `manual`): older than any dated one.
    return this.#manual ?? { at: -1, state };
  }

  /** Writes the held override again (the refresh that found it lost flushes it). */
  #rewrite(manual: SharedManualAction): void {
    const local = this.#link.local();
    this.#intent = {
      kind: "manual",
      state: local.state as SharedCircuitState,
      openedAt: local.openedAt,
      openPeriodMs: local.openPeriodMs,
      openings: local.openings,
      basisSeq: this.#seen?.seq ?? 0,
      basisGen: this.#seen === undefined ? LEGACY_GENERATION : generationOf(this.#seen),
      manual,
    };
  }

  /**
   * `reset()` on a circuit closed here: an instance that knows the shared
   * state has nothing to reset (it adopts an opening at its next read). One
   * that has not read it yet keeps the reset, dated now, for its first read
   * (started now): the shared circuit may be open.
   */
  onReset(): void {
    if (this.#answered) return;
    this.#pendingReset = { at: Math.max(this.#clock.wallNow(), (this.#manual?.at ?? -1) + 1), state: "closed" };
    this.#due(false);
  }

  /**
   * Applies a reset made before the first read to the record it read: the
   * circuit is reset (and written) if the record is open, forced open or
   * disabled by an earlier action; an opening or a manual action dated
   * after the reset stands.
   */
  #resetRead(reset: SharedManualAction): void {
    this.#pendingReset = undefined;
    const record = this.#seen;
    if (record === undefined || record.state === "closed" || !isLaterManual(reset, record.manual)) return;
    if (record.state === "open" && (record.openedAt ?? 0) > reset.at) return;
    // Restored for onTransition, which takes it as the reset's manual action.
    this.#pendingReset = reset;
    this.#link.breaker.reset();
    this.#pendingReset = undefined;
  }

  /** Called by the breaker on every transition it makes; decides what, if anything, the store is told. */
  onTransition(from: string, to: string): void {
    if (this.#adopting || to === "half-open") return;
    // A pending reset is this transition's manual action (#resetRead), or superseded by it.
    const reset = to === "closed" ? this.#pendingReset : undefined;
    this.#pendingReset = undefined;
    const local = this.#link.local();
    const basisSeq = this.#seen?.seq ?? 0;
    const basisGen = this.#seen === undefined ? LEGACY_GENERATION : generationOf(this.#seen);
    let kind: SharedIntent["kind"];
    if (to === "forced-open" || to === "disabled" || from === "forced-open" || from === "disabled") kind = "manual";
    else if (to === "open") kind = from === "half-open" && this.#openSeq >= 0 ? "reopen" : "trip";
    else if (from === "half-open" && this.#openSeq >= 0) kind = "recover";
    else if (from === "open" && this.#openSeq >= 0) kind = "manual";
    else {
      this.#openSeq = -1;
      return;
    }
    if (kind !== "reopen" && kind !== "trip") this.#openSeq = -1;
    // Dated after every manual action seen, so an override set after learning another's wins whatever the clocks say.
    const manual = kind === "manual"
      ? (this.#manual = reset ?? { at: Math.max(this.#clock.wallNow(), (this.#seen?.manual?.at ?? -1) + 1, (this.#manual?.at ?? -1) + 1), state: local.state as SharedCircuitState })
      : undefined;
    this.#intent = {
      kind,
      state: local.state as SharedCircuitState,
      openedAt: local.openedAt,
      openPeriodMs: local.openPeriodMs,
      openings: local.openings,
      basisSeq,
      basisGen,
      ...(manual === undefined ? {} : { manual }),
    };
    this.#flush();
  }

  /** Writes the intent now, or once the key's write interval has passed; one write at a time. */
  #flush(): void {
    if (this.#intent === undefined) return;
    const now = this.#clock.now();
    // One write (or deferred write) at a time. One abandoned (on Workers, by
    // a request that ended without waitUntil: its I/O and timers are gone)
    // is replaced once it is overdue.
    if (this.#writingSince >= 0 && now - this.#writingSince < WRITE_ATTEMPTS * this.#timeoutMs) return;
    if (this.#writeDueAt >= 0 && now < this.#writeDueAt + this.#timeoutMs) return;
    const waitMs = this.#lastWriteAt + this.#minWriteIntervalMs - now;
    if (waitMs > 0) {
      // Coalesced: whatever the intent is when the interval ends is written, once.
      const dueAt = now + waitMs;
      this.#writeDueAt = dueAt;
      this.#clock.schedule(() => {
        if (this.#writeDueAt !== dueAt) return;
        this.#writeDueAt = -1;
        this.#flush();
      }, waitMs);
      return;
    }
    this.#writeDueAt = -1;
    this.#writingSince = now;
    const write = this.#write().catch(() => true).then((failed) => {
      if (this.#writingSince !== now) return;
      this.#writingSince = -1;
      // A newer intent made meanwhile goes out now (or when the interval
      // allows); after a failure, it waits for the next refresh instead.
      if (!failed) this.#flush();
    });
    this.#keepAlive(write);
  }

  /** Resolves to whether it stopped on a store failure (the intent is kept for the next refresh). */
  async #write(): Promise<boolean> {
    // Over the version last read (with no record seen: over nothing, or the older generation to write a new one over).
    let expected = this.#seenVersion;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const intent = this.#intent;
      if (intent === undefined) return false;
      const merged = mergeShared(this.#seen, intent, {
        id: this.id,
        now: this.#clock.wallNow(),
        quorum: this.#quorum,
        quorumWindowMs: this.#quorumWindowMs,
      });
      if (merged === undefined) {
        if (this.#intent === intent) this.#intent = undefined;
        return false;
      }
      let next = merged.seq > this.#maxSeq ? merged : { ...merged, seq: this.#maxSeq + 1 };
      if (this.#seen === undefined) {
        // Merged over nothing (the first record, or the store lost its data):
        // a new generation, later than any this instance saw, so every reader takes it as newer.
        next = { ...next, gen: crypto.randomUUID(), genAt: Math.max(this.#clock.wallNow(), this.#genAt + 1) };
      }
      this.#lastWriteAt = this.#clock.now();
      const learned = this.#learned;
      let result;
      try {
        result = await this.#bounded("write", "compareAndSet", this.#key, (signal) =>
          this.#store.compareAndSet(this.#key, expected, next as unknown as Json, { signal }), this.#timeoutMs);
      } catch {
        // Kept: written at the next refresh, when the store may be back.
        return true;
      }
      if (result.ok) {
        this.#see(next, result.entry.version);
        this.#maxSeq = next.seq;
        if (next.genAt !== undefined) this.#genAt = Math.max(this.#genAt, next.genAt);
        if (next.state === "open" && (intent.kind === "trip" || intent.kind === "reopen")) this.#openSeq = next.seq;
        if (this.#intent === intent) this.#intent = undefined;
        if (intent.kind === "recover" || intent.kind === "reopen") this.#releaseLease();
        return false;
      }
      // Another instance wrote first: learn what it wrote, then decide again.
      this.#apply(result.current, learned, this.#lastWriteAt);
      // Over what the store holds, even a record older than the last seen (a
      // stale one on an eventual store): merged over the newest seen, it is not lost to.
      expected = result.current?.version;
      if (result.current === undefined) this.#see(undefined, undefined);
    }
    // Lost every race: the next refresh tries again.
    return true;
  }

  /**
   * Runs a store operation bounded by `budgetMs` on the breaker's clock (the
   * operation is aborted past it); reports any failure as `storeError` and
   * rethrows it for the caller's bookkeeping.
   */
  #bounded<R>(
    operation: CircuitStoreErrorEvent["operation"],
    storeOperation: StoreOperation,
    key: string,
    run: (signal: AbortSignal) => Promise<R>,
    budgetMs: number,
  ): Promise<R> {
    const controller = new AbortController();
    return new Promise<R>((resolve, reject) => {
      let done = false;
      const finish = (error: unknown, value?: R) => {
        if (done) return;
        done = true;
        cancel();
        if (error === undefined) resolve(value as R);
        else {
          this.#link.storeError({ name: this.#name, operation, error });
          reject(error);
        }
      };
      const cancel = this.#clock.schedule(() => {
        const error = new StoreError("ERR_STORE_TIMEOUT", this.#store.name, storeOperation, key, `no answer within ${budgetMs} ms (the breaker's storeTimeoutMs)`, {
          timeoutMs: budgetMs,
        });
        controller.abort(error);
        finish(error);
      }, Math.max(0, budgetMs));
      let pending: Promise<R>;
      try {
        pending = run(controller.signal);
      } catch (error) {
        finish(error ?? new Error("store failed"));
        return;
      }
      pending.then((value) => finish(undefined, value), (error: unknown) => finish(error ?? new Error("store failed")));
    });
  }

  /** Hands background I/O to the platform's `waitUntil`, so a Worker finishes it after answering. */
  #keepAlive(promise: Promise<unknown>): void {
    if (this.#waitUntil === undefined) return;
    try {
      this.#waitUntil(promise);
    } catch {
      // Outside a request (no context to extend): the I/O still runs.
    }
  }
}

/**
 * @internal What a store's `[shareCircuit]` member does (`StoreAdapter`,
 * `CountingStore`): refuses a store that cannot hold the shared state
 * (`ConfigError` on `store`), then builds the breaker's shared half on it,
 * with the breaker's options and their defaults.
 */
export function shareCircuitState(store: Store, link: BreakerLink): SharedHalf {
  const options = link.breaker.options;
  requireStore("CircuitBreaker", store, {
    atomic: true,
    why: "two instances could both probe in half-open (see docs/distributed.md for what that means on KV)",
  }, options.bestEffort === true);
  return new SharedCircuit(link, {
    store,
    refreshMs: options.refreshMs ?? 1_000,
    storeTimeoutMs: options.storeTimeoutMs ?? 1_000,
    waitUntil: options.waitUntil,
    quorum: options.quorum ?? 1,
    quorumWindowMs: options.quorumWindowMs ?? 60_000,
    halfOpenMaxWaitMs: options.halfOpenMaxWaitMs,
  });
}
