/**
 * Watchdog: detects a stall, a loop or a process that stopped making
 * progress, because nothing pinged it for `timeoutMs`.
 *
 * @module
 */
import { type CancelTimer, type Clock, systemClock } from "../clock.ts";
import { defaultsFor } from "../config.ts";
import { WatchdogError, WatchdogTimeoutError } from "../errors.ts";
import { badOptions, throwIf } from "../internal/arguments.ts";
import type { Store } from "../store/store.ts";
import { boolean, clock as clockSchema, durationMs, func, lazy, name as nameSchema, optional, strictObject, validate } from "../validation.ts";
import { checkHeartbeat } from "./heartbeat_state.ts";
import { callSafely, type OnAlert } from "./options.ts";

/** The shortest watchdog timeout, in ms: shorter ones are raised to it (as in the seeds). */
export const WATCHDOG_MIN_TIMEOUT_MS = 1_000;
/** The longest watchdog timeout, in ms: longer ones are lowered to it (as in the seeds). */
export const WATCHDOG_MAX_TIMEOUT_MS = 3_600_000;

/** Options of {@link Watchdog}. Defaults cascade from `configure({ watchdog })`. */
export interface WatchdogOptions {
  /**
   * Ms without a ping before the watchdog fires. A finite number `> 0`,
   * clamped to [1 s, 1 h]. Default `30_000`.
   */
  timeoutMs?: number;
  /** Called once per stall; sync or async. Its errors go to `onAlert`. */
  onTimeout?: () => unknown;
  /** `(channel, message, context)`: told of every stall (channel `"watchdog"`) and of `onTimeout`'s errors (`"error"`). */
  onAlert?: OnAlert;
  /** Shown in errors and alerts. Default `"watchdog"`. */
  name?: string;
  /** When the watchdog is disposed after a stall, throw {@link WatchdogTimeoutError}. Default `false`. */
  raiseOnTimeout?: boolean;
  /** Time source. Default `systemClock`. */
  clock?: Clock;
}

/** Counters of a {@link Watchdog}, as in the seeds' `WatchdogStats`. */
export interface WatchdogStats {
  /** Calls of `ping()`. */
  readonly pingsTotal: number;
  /** Stalls detected. */
  readonly timeoutsTriggered: number;
  /** `clock.now()` of the last ping (or start), `undefined` before any. */
  readonly lastPingTime: number | undefined;
  /** `clock.now()` of the last `start()`, `undefined` before any. */
  readonly startTime: number | undefined;
  /** Ms since the last `start()` (0 before any). */
  readonly uptimeMs: number;
}

/** Options of {@link Watchdog.fromHeartbeat}. */
export interface HeartbeatWatchdogOptions extends Omit<WatchdogOptions, "timeoutMs"> {
  /** A heartbeat older than this (by its timestamp) is a stall. Default from `configure({ heartbeat: { maxAgeMs } })`, `30_000`. */
  maxAgeMs?: number;
  /** Ms between two reads of the heartbeat. Default `maxAgeMs / 2`. */
  checkIntervalMs?: number;
  /** The heartbeat's key in the store. Default `"heartbeat"`. */
  key?: string;
}

interface Resolved {
  readonly timeoutMs: number;
  readonly onTimeout?: (() => unknown) | undefined;
  readonly onAlert?: OnAlert | undefined;
  readonly name: string;
  readonly raiseOnTimeout: boolean;
  readonly clock: Clock;
}

const optionsSchema = lazy(() =>
  strictObject({
    timeoutMs: durationMs(0, true),
    onTimeout: optional(func<() => unknown>()),
    onAlert: optional(func<OnAlert>()),
    name: nameSchema(),
    raiseOnTimeout: boolean(),
    clock: clockSchema(),
  })
);

const heartbeatSchema = lazy(() =>
  strictObject({
    maxAgeMs: durationMs(0, true),
    checkIntervalMs: optional(durationMs(0, true)),
    key: nameSchema(),
  })
);

/** How a heartbeat-watching watchdog learns the last activity: resolves to its age in ms, or a reason it has none. */
type Probe = () => Promise<{ readonly ageMs: number } | { readonly reason: string }>;

/**
 * Fires `onTimeout` when nothing called `ping()` for `timeoutMs`: a frozen
 * loop, a deadlocked worker, a stream that stopped.
 *
 * One timer, armed for the moment the current ping would go stale, so
 * `ping()` costs a clock read and never touches a timer. `onTimeout` fires
 * once per stall; the next `ping()` ends the stall and re-arms the watchdog.
 * `using wd = new Watchdog(...).start()` stops it at the end of the block.
 *
 * @example
 * ```ts
 * import { Watchdog } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * const stalls: number[] = [];
 * using watchdog = new Watchdog({ timeoutMs: 10_000, onTimeout: () => { stalls.push(clock.now()); }, clock }).start();
 * await clock.advance(9_000);
 * watchdog.ping();
 * await clock.advance(9_000);
 * if (stalls.length > 0) throw new Error("pinged in time");
 * await clock.advance(1_000);
 * if (stalls.join() !== "19000" || !watchdog.isTriggered) throw new Error("should have fired");
 * ```
 */
export class Watchdog {
  /** Ms without a ping before firing, after clamping to [1 s, 1 h]. */
  readonly timeoutMs: number;
  /** The name given, or `"watchdog"`. */
  readonly name: string;
  readonly #options: Resolved;
  readonly #clock: Clock;
  #probe: Probe | undefined;
  #checkIntervalMs = 0;
  #cancel: CancelTimer | undefined;
  #running = false;
  #triggered = false;
  #shutdown = false;
  #pingsTotal = 0;
  #timeoutsTriggered = 0;
  #lastPing: number | undefined;
  #startTime: number | undefined;
  #stallInactiveMs: number | undefined;
  #pendingCallback: Promise<void> | undefined;

  constructor(options: WatchdogOptions = {}) {
    throwIf(badOptions("Watchdog", options));
    const resolved: Resolved = validate("Watchdog", optionsSchema(), {
      ...defaultsFor("watchdog"),
      name: "watchdog",
      raiseOnTimeout: false,
      clock: systemClock,
      ...options,
    });
    this.#options = resolved;
    this.#clock = resolved.clock;
    this.name = resolved.name;
    this.timeoutMs = Math.min(WATCHDOG_MAX_TIMEOUT_MS, Math.max(WATCHDOG_MIN_TIMEOUT_MS, resolved.timeoutMs));
  }

  /**
   * A watchdog over another process's heartbeat in `store` (a `FileStore`,
   * `heartbeatFile(path)` from `bulwark/fs`, a KV or Durable Object store):
   * every `checkIntervalMs` it reads the heartbeat, and fires when its
   * timestamp is older than `maxAgeMs` (or it is missing or unreadable).
   * Not started: call `start()`.
   *
   * @example
   * ```ts
   * import { Heartbeat, MemoryStore, Watchdog } from "bulwark";
   * import { ManualClock } from "bulwark/testing";
   * const clock = new ManualClock();
   * const store = new MemoryStore({ clock });
   * await using heartbeat = new Heartbeat({ store, intervalMs: 5_000, clock });
   * await heartbeat.start();
   * let dead = false;
   * using watchdog = Watchdog.fromHeartbeat(store, { maxAgeMs: 20_000, onTimeout: () => { dead = true; }, clock }).start();
   * await clock.advance(60_000);
   * if (dead) throw new Error("the heartbeat is alive");
   * await heartbeat.stop();
   * await clock.advance(30_000);
   * if (!dead) throw new Error("should have noticed");
   * ```
   */
  static fromHeartbeat(store: Store, options: HeartbeatWatchdogOptions = {}): Watchdog {
    throwIf(badOptions("Watchdog.fromHeartbeat", options));
    if (typeof store !== "object" || store === null || typeof (store as Store).get !== "function") {
      throw new WatchdogError(`Watchdog.fromHeartbeat: 'store' must be a Store: current value is ${String(store)}`);
    }
    const { maxAgeMs, checkIntervalMs, key, ...watchdogOptions } = options;
    const own = validate("Watchdog.fromHeartbeat", heartbeatSchema(), {
      maxAgeMs: maxAgeMs ?? defaultsFor("heartbeat").maxAgeMs,
      checkIntervalMs,
      key: key ?? "heartbeat",
    });
    const watchdog = new Watchdog({ ...watchdogOptions, timeoutMs: own.maxAgeMs });
    const clock = watchdog.#clock;
    watchdog.#checkIntervalMs = own.checkIntervalMs ?? watchdog.timeoutMs / 2;
    watchdog.#probe = async () => {
      const checked = await checkHeartbeat(store, watchdog.timeoutMs, clock.wallNow(), own.key);
      return checked.ageMs !== undefined ? { ageMs: checked.ageMs } : { reason: checked.reason };
    };
    return watchdog;
  }

  /** Counters and times; a snapshot. */
  get stats(): WatchdogStats {
    return {
      pingsTotal: this.#pingsTotal,
      timeoutsTriggered: this.#timeoutsTriggered,
      lastPingTime: this.#lastPing,
      startTime: this.#startTime,
      uptimeMs: this.#startTime === undefined ? 0 : this.#clock.now() - this.#startTime,
    };
  }

  /** True between `start()` and `stop()`. */
  get isRunning(): boolean {
    return this.#running;
  }

  /** True from a detected stall until the next `ping()` or `reset()`. */
  get isTriggered(): boolean {
    return this.#triggered;
  }

  /** Ms since the last ping (or start); 0 before either. */
  get msSincePing(): number {
    return this.#lastPing === undefined ? 0 : this.#clock.now() - this.#lastPing;
  }

  /** True after `shutdown()` (or disposal): the watchdog cannot start again. */
  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /**
   * Records activity: the stall clock starts over, and a triggered watchdog
   * is re-armed. Costs a clock read.
   */
  ping(): void {
    this.#pingsTotal++;
    this.#lastPing = this.#clock.now();
    if (this.#triggered) {
      this.#triggered = false;
      if (this.#running) this.#arm(this.timeoutMs);
    }
  }

  /**
   * Starts watching (the time of the call counts as a ping); returns `this`.
   * Throws {@link WatchdogError} if it is running already or was shut down.
   */
  start(): this {
    if (this.#shutdown) throw new WatchdogError(`Watchdog '${this.name}' was shut down and cannot start again`);
    if (this.#running) throw new WatchdogError(`Watchdog '${this.name}' is already running`);
    this.#running = true;
    this.#triggered = false;
    this.#stallInactiveMs = undefined;
    this.#startTime = this.#lastPing = this.#clock.now();
    this.#arm(this.#probe === undefined ? this.timeoutMs : this.#checkIntervalMs);
    return this;
  }

  /** Stops watching and clears its timer. Idempotent. */
  stop(): void {
    this.#running = false;
    this.#cancel?.();
    this.#cancel = undefined;
  }

  /** Clears the triggered state and starts the stall clock over, without counting a ping. */
  reset(): void {
    this.#triggered = false;
    this.#stallInactiveMs = undefined;
    this.#lastPing = this.#clock.now();
    if (this.#running) this.#arm(this.#probe === undefined ? this.timeoutMs : this.#checkIntervalMs);
  }

  /** Stops for good: `isShutdown` becomes true and `start()` refuses. Idempotent. */
  shutdown(): void {
    this.#shutdown = true;
    this.stop();
  }

  /**
   * Shuts the watchdog down. With `raiseOnTimeout`, throws
   * {@link WatchdogTimeoutError} if a stall was detected since `start()`.
   */
  [Symbol.dispose](): void {
    this.shutdown();
    if (this.#options.raiseOnTimeout && this.#stallInactiveMs !== undefined) {
      throw new WatchdogTimeoutError(this.name, this.#stallInactiveMs);
    }
  }

  /** As `[Symbol.dispose]`, after waiting for an `onTimeout` still running. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.shutdown();
    await this.#pendingCallback;
    this[Symbol.dispose]();
  }

  #arm(ms: number): void {
    this.#cancel?.();
    this.#cancel = this.#clock.schedule(() => {
      this.#cancel = undefined;
      void this.#validate();
    }, ms);
  }

  async #validate(): Promise<void> {
    if (!this.#running) return;
    if (this.#probe !== undefined) {
      let inactiveMs: number;
      let reason: string | undefined;
      try {
        const found = await this.#probe();
        if ("ageMs" in found) inactiveMs = found.ageMs;
        else {
          inactiveMs = this.msSincePing;
          reason = found.reason;
        }
      } catch (error) {
        inactiveMs = this.msSincePing;
        reason = `heartbeat unreadable: ${String(error)}`;
      }
      if (!this.#running) return;
      if (reason === undefined && inactiveMs <= this.timeoutMs) {
        // A fresh beat: activity. Ends a stall, so the next one fires again.
        this.#lastPing = this.#clock.now() - Math.max(0, inactiveMs);
        this.#triggered = false;
      } else if (!this.#triggered) this.#fire(inactiveMs, reason);
      this.#arm(this.#checkIntervalMs);
      return;
    }
    const idle = this.msSincePing;
    if (idle < this.timeoutMs) {
      // Pinged since the timer was armed: wait for the rest of the new ping's time.
      this.#arm(this.timeoutMs - idle);
      return;
    }
    this.#fire(idle, undefined);
  }

  #fire(inactiveMs: number, reason: string | undefined): void {
    this.#triggered = true;
    this.#timeoutsTriggered++;
    this.#stallInactiveMs = inactiveMs;
    const { onTimeout, onAlert } = this.#options;
    const alert = (channel: string, message: string, context: Record<string, unknown>): void => {
      if (onAlert !== undefined) void callSafely(() => onAlert(channel, message, context), () => {});
    };
    alert(
      "watchdog",
      `Watchdog '${this.name}' timed out: no activity for ${Math.round(inactiveMs)} ms${reason ? ` (${reason})` : ""}`,
      { name: this.name, inactiveMs, timeoutMs: this.timeoutMs, ...(reason ? { reason } : {}) },
    );
    const pending = callSafely(onTimeout, (error) => {
      alert("error", `Watchdog '${this.name}': onTimeout threw: ${String(error)}`, { name: this.name, error });
    });
    this.#pendingCallback = pending;
  }
}

/** Options of {@link watchdogContext}. */
export interface WatchdogContextOptions extends WatchdogOptions {}

/**
 * A started {@link Watchdog} for one block of code, the seeds'
 * `watchdog_context`: with `raiseOnTimeout`, leaving the block after a
 * stall throws {@link WatchdogTimeoutError} carrying `inactiveMs`.
 *
 * @example
 * ```ts
 * import { watchdogContext, WatchdogTimeoutError } from "bulwark";
 * import { ManualClock } from "bulwark/testing";
 * const clock = new ManualClock();
 * let caught: unknown;
 * try {
 *   using watchdog = watchdogContext({ timeoutMs: 1_000, raiseOnTimeout: true, clock });
 *   watchdog.ping();
 *   await clock.advance(1_500);
 * } catch (error) {
 *   caught = error;
 * }
 * if (!(caught instanceof WatchdogTimeoutError) || caught.inactiveMs < 1_000) throw new Error("should raise");
 * ```
 */
export function watchdogContext(options: WatchdogContextOptions = {}): Watchdog {
  return new Watchdog(options).start();
}
