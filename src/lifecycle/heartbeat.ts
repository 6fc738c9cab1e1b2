/**
 * Heartbeat: a periodic "I am alive" written to a store, for another process
 * (a watchdog, a Kubernetes probe, `bulwark heartbeat check`) to read.
 *
 * @module
 */
import { type CancelTimer, type Clock, systemClock } from "../clock.ts";
import { defaultsFor } from "../config.ts";
import { HeartbeatError, InvalidArgumentError } from "../errors.ts";
import { badOptions, throwIf } from "../internal/arguments.ts";
import type { Json, Store } from "../store/store.ts";
import { clock as clockSchema, durationMs, func, lazy, name as nameSchema, optional, satisfying, strictObject, validate } from "../validation.ts";
import { checkHeartbeat, type HeartbeatCheck, type HeartbeatState, parseHeartbeatState } from "./heartbeat_state.ts";
import { callSafely, type OnAlert } from "./options.ts";

/** Something whose liveness a heartbeat watches: polled each beat. */
export interface HeartbeatTarget {
  /** True once the target (a websocket, a worker) has died. */
  readonly isDead: boolean;
}

/**
 * What an alarm-driven heartbeat needs of a Durable Object: its storage's
 * `setAlarm` (`this.ctx.storage` in the object).
 */
export interface AlarmScheduler {
  /** Schedules the object's `alarm()` at `scheduledTime` (epoch ms), replacing any alarm set before. */
  setAlarm(scheduledTime: number): unknown;
}

/** Options of {@link Heartbeat}. Defaults cascade from `configure({ heartbeat })`. */
export interface HeartbeatOptions {
  /**
   * Where beats go: any {@link Store} (`MemoryStore`, `FileStore`, Workers
   * KV or a Durable Object from `bulwark/cloudflare`, ...). Without one
   * (and without `stateFile`), nothing is written: use `onBeat`.
   */
  store?: Store;
  /**
   * A state file path. Needs a file system: use the `Heartbeat` of
   * `bulwark/fs` (Node, Deno, Bun), which turns it into a store; the core
   * one refuses it.
   */
  stateFile?: string;
  /** The key beats are written under. Default `"heartbeat"`. */
  key?: string;
  /** Ms between beats (a finite number `> 0`). Default `10_000`. */
  intervalMs?: number;
  /** Written with every beat. */
  metadata?: { readonly [key: string]: Json };
  /** Called when a beat of the loop could not be written; the loop goes on. */
  onMissedBeat?: (error: HeartbeatError) => unknown;
  /** `(channel, message, context)`: told of missed beats (`"heartbeat"`), a dead target (`"target"`) and callback errors (`"error"`). */
  onAlert?: OnAlert;
  /** Polled each beat; `onTargetDead` fires once per death. */
  target?: HeartbeatTarget;
  /** Called once each time `target.isDead` turns true. Sync or async. */
  onTargetDead?: () => unknown;
  /** Called after each beat of the loop was written, with what was written. Sync or async. */
  onBeat?: (state: HeartbeatState) => unknown;
  /** The process id written in each beat. Default `null` (the `bulwark/fs` heartbeat fills in the real one). */
  pid?: number | null;
  /** The host name written in each beat. Default `null` (the `bulwark/fs` heartbeat fills in the real one). */
  hostname?: string | null;
  /** Time source (`wallNow()` stamps the beats). Default `systemClock`. */
  clock?: Clock;
}

/** Options of the static readers ({@link Heartbeat.check}, ...). */
export interface HeartbeatReadOptions {
  /** The key the heartbeat is written under. Default `"heartbeat"`. */
  key?: string;
  /** Whose `wallNow()` ages the beat. Default `systemClock`. */
  clock?: Clock;
}

interface Resolved {
  readonly store?: Store | undefined;
  readonly key: string;
  readonly intervalMs: number;
  readonly metadata: { readonly [key: string]: Json };
  readonly onMissedBeat?: ((error: HeartbeatError) => unknown) | undefined;
  readonly onAlert?: OnAlert | undefined;
  readonly target?: HeartbeatTarget | undefined;
  readonly onTargetDead?: (() => unknown) | undefined;
  readonly onBeat?: ((state: HeartbeatState) => unknown) | undefined;
  readonly pid: number | null;
  readonly hostname: string | null;
  readonly clock: Clock;
}

function isStore(value: unknown): value is Store {
  return typeof value === "object" && value !== null && typeof (value as Store).get === "function" &&
    typeof (value as Store).set === "function";
}

const optionsSchema = lazy(() =>
  strictObject({
    store: optional(satisfying<Store>(isStore, "a Store (an object with get and set)")),
    stateFile: optional(
      satisfying<never>(
        () => false,
        "absent here: a state file needs a file system; use Heartbeat from bulwark/fs (Node, Deno, Bun), or pass 'store'",
      ),
    ),
    key: nameSchema(),
    intervalMs: durationMs(0, true),
    metadata: satisfying<{ readonly [key: string]: Json }>(
      (value) => typeof value === "object" && value !== null && !Array.isArray(value),
      "an object of JSON values",
    ),
    onMissedBeat: optional(func<(error: HeartbeatError) => unknown>()),
    onAlert: optional(func<OnAlert>()),
    target: optional(
      satisfying<HeartbeatTarget>(
        (value) => typeof value === "object" && value !== null && "isDead" in value,
        "an object with an isDead property",
      ),
    ),
    onTargetDead: optional(func<() => unknown>()),
    onBeat: optional(func<(state: HeartbeatState) => unknown>()),
    pid: satisfying<number | null>((value) => value === null || Number.isSafeInteger(value), "an integer or null"),
    hostname: satisfying<string | null>((value) => value === null || typeof value === "string", "a string or null"),
    clock: clockSchema(),
  })
);

function badStore(target: string, store: unknown): InvalidArgumentError | undefined {
  return isStore(store) ? undefined : new InvalidArgumentError(target, "store", store, "a Store");
}

function badMaxAge(target: string, maxAgeMs: unknown): InvalidArgumentError | undefined {
  return maxAgeMs === undefined || (typeof maxAgeMs === "number" && maxAgeMs >= 0)
    ? undefined
    : new InvalidArgumentError(target, "maxAgeMs", maxAgeMs, "a number of milliseconds >= 0 or undefined");
}

function readOptions(target: string, options: HeartbeatReadOptions | undefined): InvalidArgumentError | undefined {
  const bad = badOptions(target, options);
  if (bad !== undefined || options === undefined) return bad;
  if (options.key !== undefined && typeof options.key !== "string") {
    return new InvalidArgumentError(target, "options.key", options.key, "a string or undefined");
  }
  const clock = options.clock;
  if (clock !== undefined && (typeof clock !== "object" || clock === null || typeof clock.wallNow !== "function")) {
    return new InvalidArgumentError(target, "options.clock", clock, "a Clock or undefined");
  }
  return undefined;
}

/**
 * Writes a {@link HeartbeatState} (`timestamp`, `pid`, `hostname`,
 * `metadata`) to a store every `intervalMs`, so that another process can
 * tell this one is alive.
 *
 * - `start()` writes the first beat and waits for it: a store that cannot be
 *   written fails there, with {@link HeartbeatError}, not silently later.
 *   Starting twice rejects with `HeartbeatError`; `stop()` is idempotent and
 *   a stopped heartbeat may start again.
 * - A later beat that fails calls `onMissedBeat(error)`; the loop goes on.
 * - `target.isDead` is polled each beat; `onTargetDead` fires once per death.
 * - `await using heartbeat = ...` shuts it down at the end of the block.
 *
 * On Node, Deno and Bun, `Heartbeat` from `bulwark/fs` takes a `stateFile`.
 * On Cloudflare Workers, pass a `KvStore` or `DurableObjectStore` from
 * `bulwark/cloudflare` (see docs/lifecycle.md).
 *
 * @example
 * ```ts
 * import { Heartbeat, MemoryStore } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const store = new MemoryStore({ clock });
 * await using heartbeat = new Heartbeat({ store, intervalMs: 10_000, metadata: { version: "1.0" }, clock });
 * await heartbeat.start();
 * await clock.advance(25_000);
 * if (!(await Heartbeat.isAlive(store, 30_000, { clock }))) throw new Error("should be alive");
 * const state = await Heartbeat.readState(store);
 * if (state?.metadata.version !== "1.0") throw new Error("metadata missing");
 * ```
 */
export class Heartbeat {
  /** Ms between beats. */
  readonly intervalMs: number;
  /** The key beats are written under. */
  readonly key: string;
  /** The store beats go to, if any. */
  readonly store?: Store | undefined;
  readonly #options: Resolved;
  readonly #clock: Clock;
  #running = false;
  #shutdown = false;
  #targetDead = false;
  #cancel: CancelTimer | undefined;
  // Bumped by stop(): a beat in flight from an earlier run schedules nothing.
  #generation = 0;
  #inFlight: Promise<void> | undefined;

  constructor(options: HeartbeatOptions = {}) {
    throwIf(badOptions("Heartbeat", options));
    const { maxAgeMs: _maxAgeMs, ...configured } = defaultsFor("heartbeat");
    const resolved: Resolved = validate("Heartbeat", optionsSchema(), {
      ...configured,
      key: "heartbeat",
      metadata: {},
      pid: null,
      hostname: null,
      clock: systemClock,
      ...options,
    });
    this.#options = resolved;
    this.#clock = resolved.clock;
    this.intervalMs = resolved.intervalMs;
    this.key = resolved.key;
    this.store = resolved.store;
  }

  /** The watched target, if any. */
  get target(): HeartbeatTarget | undefined {
    return this.#options.target;
  }

  /** True between a successful `start()` and `stop()`. */
  get isRunning(): boolean {
    return this.#running;
  }

  /** True after `shutdown()`: a deliberate stop, which readers of this process's state may want to know. */
  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /**
   * Writes the first beat, then one every `intervalMs`. Rejects with
   * {@link HeartbeatError} if already running, shut down, or if the first
   * beat cannot be written (the store's error is the `cause`); the
   * heartbeat is then not running.
   */
  async start(): Promise<void> {
    if (this.#shutdown) throw new HeartbeatError("Heartbeat was shut down and cannot start again");
    if (this.#running) throw new HeartbeatError("Heartbeat is already running");
    this.#running = true;
    const generation = this.#generation;
    try {
      await this.#tracked();
    } catch (error) {
      if (generation === this.#generation) this.#running = false;
      throw error;
    }
    if (this.#running && generation === this.#generation) this.#schedule(generation);
  }

  /**
   * Stops the loop, clears its timer and waits for a beat being written.
   * Idempotent; safe to call (and await) from the heartbeat's own callbacks.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#generation++;
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#inFlight;
  }

  /** Stops for good (`isShutdown` turns true; `start()` then refuses). Idempotent. */
  async shutdown(): Promise<void> {
    this.#shutdown = true;
    await this.stop();
  }

  /** Shuts the heartbeat down. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /**
   * One beat of an alarm-driven heartbeat, for a Durable Object (Workers
   * have no long-lived loop): call it from the object's `alarm()` handler,
   * and once to begin. It re-arms the alarm `intervalMs` ahead first, so a
   * failing beat never ends the chain, then beats as the loop does
   * (`onMissedBeat`, `onBeat`, `target`). After `shutdown()` it neither beats
   * nor re-arms. Rejects only if `setAlarm` fails (the runtime then retries
   * the alarm) or `scheduler` has no `setAlarm` ({@link InvalidArgumentError}).
   *
   * @example
   * ```ts
   * import { type AlarmScheduler, Heartbeat, MemoryStore } from "bulwark";
   * // In a Durable Object: async alarm() { await this.heartbeat.alarm(this.ctx.storage); }
   * const alarms: number[] = [];
   * const storage: AlarmScheduler = { setAlarm: (at) => { alarms.push(at); } };
   * const store = new MemoryStore();
   * const heartbeat = new Heartbeat({ store, intervalMs: 10_000 });
   * await heartbeat.alarm(storage);
   * if (alarms.length !== 1 || !(await Heartbeat.isAlive(store, 30_000))) throw new Error("should beat and re-arm");
   * ```
   */
  async alarm(scheduler: AlarmScheduler): Promise<void> {
    if (typeof scheduler !== "object" || scheduler === null || typeof scheduler.setAlarm !== "function") {
      throw new InvalidArgumentError("Heartbeat.alarm", "scheduler", scheduler, "an object with setAlarm (a Durable Object's storage)");
    }
    if (this.#shutdown) return;
    await scheduler.setAlarm(this.#clock.wallNow() + this.intervalMs);
    await this.#tick();
  }

  /**
   * Writes one beat now and resolves to it. Rejects with
   * {@link HeartbeatError} if the store cannot be written. Does not call
   * `onBeat` (the loop does).
   *
   * @example
   * ```ts
   * import { Heartbeat, MemoryStore } from "bulwark";
   * const store = new MemoryStore();
   * const state = await new Heartbeat({ store, pid: 42 }).beat();
   * if (state.pid !== 42 || (await Heartbeat.readState(store))?.timestamp !== state.timestamp) throw new Error("not written");
   * ```
   */
  async beat(): Promise<HeartbeatState> {
    const { store, key, metadata, pid, hostname } = this.#options;
    const state: HeartbeatState = {
      timestamp: new Date(this.#clock.wallNow()).toISOString(),
      pid,
      hostname,
      metadata,
    };
    if (store !== undefined) {
      try {
        await store.set(key, state as unknown as Json);
      } catch (error) {
        throw new HeartbeatError(
          `Heartbeat could not write key '${key}' to store '${store.name}': ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    }
    return state;
  }

  /**
   * The heartbeat stored under `key` in `store`, or `undefined` if there is
   * none or it cannot be read as one.
   */
  static async readState(store: Store, options?: HeartbeatReadOptions): Promise<HeartbeatState | undefined> {
    const bad = badStore("Heartbeat.readState", store) ?? readOptions("Heartbeat.readState", options);
    if (bad !== undefined) throw bad;
    try {
      const entry = await store.get(options?.key ?? "heartbeat");
      if (entry === undefined) return undefined;
      const state = parseHeartbeatState(entry.value);
      return typeof state === "string" ? undefined : state;
    } catch {
      return undefined;
    }
  }

  /**
   * Reads the heartbeat and judges it: alive when its timestamp is at most
   * `maxAgeMs` old (default from `configure({ heartbeat: { maxAgeMs } })`,
   * `30_000`), with one line saying why. Never rejects for a missing,
   * stale or unreadable heartbeat: `alive` is then false and `reason` says
   * which.
   *
   * @example
   * ```ts
   * import { Heartbeat, MemoryStore } from "bulwark";
   * const store = new MemoryStore();
   * await store.set("heartbeat", "garbage");
   * const checked = await Heartbeat.check(store, 30_000);
   * if (checked.alive || !checked.reason.startsWith("unreadable")) throw new Error(checked.reason);
   * ```
   */
  static async check(store: Store, maxAgeMs?: number, options?: HeartbeatReadOptions): Promise<HeartbeatCheck> {
    const bad = badStore("Heartbeat.check", store) ?? badMaxAge("Heartbeat.check", maxAgeMs) ??
      readOptions("Heartbeat.check", options);
    if (bad !== undefined) throw bad;
    const clock = options?.clock ?? systemClock;
    return checkHeartbeat(store, maxAgeMs ?? defaultsFor("heartbeat").maxAgeMs, clock.wallNow(), options?.key ?? "heartbeat");
  }

  /** `(await Heartbeat.check(store, maxAgeMs, options)).alive`. */
  static async isAlive(store: Store, maxAgeMs?: number, options?: HeartbeatReadOptions): Promise<boolean> {
    return (await Heartbeat.check(store, maxAgeMs, options)).alive;
  }

  #schedule(generation: number): void {
    this.#cancel = this.#clock.schedule(() => {
      this.#cancel = undefined;
      void this.#tick().then(() => {
        if (this.#running && generation === this.#generation) this.#schedule(generation);
      });
    }, this.intervalMs);
  }

  /**
   * A beat that stop() waits for (start()'s first one too: else a beat
   * stopped during start() lands after stop() resolved). Only the write:
   * never the callbacks, one of which may be what called stop().
   */
  async #tracked(): Promise<HeartbeatState> {
    const write = this.beat();
    const settled = write.then(() => {}, () => {});
    this.#inFlight = settled;
    try {
      return await write;
    } finally {
      if (this.#inFlight === settled) this.#inFlight = undefined;
    }
  }

  async #tick(): Promise<void> {
    const { onMissedBeat, onBeat, onAlert, target, onTargetDead } = this.#options;
    const alert = (channel: string, message: string, context: Record<string, unknown>): void => {
      if (onAlert !== undefined) void callSafely(() => onAlert(channel, message, context), () => {});
    };
    const reportError = (what: string) => (error: unknown): void => {
      alert("error", `Heartbeat: ${what} threw: ${String(error)}`, { key: this.key, error });
    };
    let state: HeartbeatState | undefined;
    try {
      state = await this.#tracked();
    } catch (error) {
      const missed = error as HeartbeatError;
      alert("heartbeat", missed.message, { key: this.key, error: missed });
      await callSafely(onMissedBeat && (() => onMissedBeat(missed)), reportError("onMissedBeat"));
    }
    if (state !== undefined) await callSafely(onBeat && (() => onBeat(state)), reportError("onBeat"));
    if (target !== undefined) {
      let dead = false;
      try {
        dead = Boolean(target.isDead);
      } catch (error) {
        reportError("target.isDead")(error);
      }
      if (dead && !this.#targetDead) {
        this.#targetDead = true;
        alert("target", "Heartbeat: the target is dead", { key: this.key });
        await callSafely(onTargetDead, reportError("onTargetDead"));
      } else if (!dead) this.#targetDead = false;
    }
  }
}
