/**
 * Graceful shutdown: prioritized clean-up callbacks run once, on a
 * termination signal or on demand, each bounded by its own timeout and all
 * by a total one.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { defaultsFor } from "../config.ts";
import { InvalidArgumentError, ShutdownError, ShutdownUnsupportedError, TimeoutError } from "../errors.ts";
import { Emitter, type Unsubscribe } from "../events.ts";
import { badFunction, badOptions, badString, throwIf } from "../internal/arguments.ts";
import { clock as clockSchema, durationMs, integer, lazy, optional, satisfying, strictObject, validate } from "../validation.ts";
import { onWorkers } from "../internal/runtime.ts";
import type { SignalSource } from "./signals.ts";

/** What a clean-up callback receives: a signal aborted when its time is up. */
export interface CleanupContext {
  /** Aborted (with a `TimeoutError`) when the callback's own or the total timeout passes. */
  readonly signal: AbortSignal;
}

/** A clean-up function, sync or async. */
export type CleanupFunction = (context: CleanupContext) => unknown;

/** A registered clean-up callback, as listed by {@link GracefulShutdown.callbacks}. */
export interface CleanupCallback {
  /** Unique name. */
  readonly name: string;
  /** The function. */
  readonly callback: CleanupFunction;
  /** Lower runs first; equal priorities run in registration order. */
  readonly priority: number;
  /** Its own bound in ms, or `undefined` for the total timeout only. */
  readonly timeoutMs: number | undefined;
}

/** Options of {@link GracefulShutdown.register}. */
export interface RegisterOptions {
  /** Lower runs first. Default `100`. */
  priority?: number;
  /** The callback's own bound in ms (`> 0`). Default: only the total timeout bounds it. */
  timeoutMs?: number;
}

/** How one callback ended. */
export type CleanupStatus = "ok" | "failed" | "timed-out" | "skipped";

/** One callback's line in a {@link ShutdownReport}. */
export interface CleanupResult {
  readonly name: string;
  readonly priority: number;
  /** `"skipped"`: never started, the total timeout had passed. */
  readonly status: CleanupStatus;
  /** Ms it ran (0 when skipped). */
  readonly durationMs: number;
  /** What it threw or rejected with, when `"failed"`. */
  readonly error?: unknown;
}

/** What a shutdown did, returned by {@link GracefulShutdown.trigger}. */
export interface ShutdownReport {
  /** The signal that started it, or `"trigger"`. */
  readonly reason: string;
  /** Every callback, in the order they ran (skipped ones last). */
  readonly results: readonly CleanupResult[];
  /** Names that finished normally. */
  readonly ran: readonly string[];
  /** Names that threw or rejected. */
  readonly failed: readonly string[];
  /** Names stopped by their own or the total timeout, and those skipped because the total had passed. */
  readonly timedOut: readonly string[];
  /** True when every callback got its turn within the total timeout. */
  readonly completed: boolean;
  /** Ms from the start of the shutdown to the end of the last callback. */
  readonly durationMs: number;
}

/** Events of {@link GracefulShutdown}. */
export interface ShutdownEvents {
  /** Shutdown began (a signal, or `trigger()`). */
  shutdown: { readonly reason: string };
  /** One callback ended. */
  callback: CleanupResult;
  /** Every callback ended; the report `trigger()` resolves to. */
  done: ShutdownReport;
}

/** Options of {@link GracefulShutdown}. Defaults cascade from `configure({ shutdown })`. */
export interface GracefulShutdownOptions {
  /** Total bound on all callbacks, in ms (`> 0`). Default `30_000`. */
  timeoutMs?: number;
  /** Signals to handle on `install()`. Default: the source's `defaultSignals`, else `["SIGTERM", "SIGINT"]`. */
  signals?: readonly string[];
  /** Exit code when the total timeout passes or a second signal arrives. Default `1`. */
  forceExitCode?: number;
  /** Exit code after a signal-started shutdown whose callbacks all got their turn in time. Default `0`. */
  exitCode?: number;
  /**
   * Where signals come from: `nodeSignals()` (`bulwark/node`, Node and Bun),
   * `denoSignals()` (`bulwark/deno`), `browserSignals()` (`bulwark/browser`),
   * or any {@link SignalSource}. Without one, `install()` throws and only
   * `trigger()` starts a shutdown. On Cloudflare Workers, constructing
   * without one throws {@link ShutdownUnsupportedError}.
   */
  signalSource?: SignalSource;
  /** Time source. Default `systemClock`. */
  clock?: Clock;
}

interface Resolved {
  readonly timeoutMs: number;
  readonly signals?: readonly string[] | undefined;
  readonly forceExitCode: number;
  readonly exitCode: number;
  readonly signalSource?: SignalSource | undefined;
  readonly clock: Clock;
}

const signalsSchema = lazy(() =>
  satisfying<readonly string[]>(
    (value) => Array.isArray(value) && value.every((item) => typeof item === "string" && item.length > 0),
    "an array of signal names (non-empty strings)",
  )
);

const sourceSchema = lazy(() =>
  satisfying<SignalSource>(
    (value) =>
      typeof value === "object" && value !== null && typeof (value as SignalSource).on === "function" &&
      ((value as SignalSource).exit === undefined || typeof (value as SignalSource).exit === "function"),
    "a SignalSource (an object with on(signal, handler) and an optional exit(code))",
  )
);

const optionsSchema = lazy(() =>
  strictObject({
    timeoutMs: durationMs(0, true),
    signals: optional(signalsSchema()),
    forceExitCode: integer(0, 255),
    exitCode: integer(0, 255),
    signalSource: optional(sourceSchema()),
    clock: clockSchema(),
  })
);

const registerSchema = lazy(() =>
  strictObject({
    priority: integer(Number.MIN_SAFE_INTEGER),
    timeoutMs: optional(durationMs(0, true)),
  })
);

/** A settled callback race: which side won. */
const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Runs clean-up callbacks in priority order (lower first) when the process
 * is asked to stop, each bounded by its own timeout and all by `timeoutMs`.
 * A callback that throws or hangs is reported, and the rest still run.
 *
 * - `install()` listens to `signals` through the `signalSource`; the first
 *   signal runs the callbacks, then exits with `exitCode` (or
 *   `forceExitCode` if the total timeout passed first); a signal during a
 *   shutdown `trigger()` began waits for it the same way. A second signal
 *   during the shutdown exits at once with `forceExitCode`.
 *   `uninstall()` removes exactly the handlers it added.
 * - `trigger()` runs the same shutdown on demand (once: later calls get the
 *   same report) and never exits the process.
 * - `await using shutdown = new GracefulShutdown(...)` triggers and uninstalls
 *   at the end of the block.
 *
 * @example
 * ```ts
 * import { GracefulShutdown } from "bulwark";
 * const order: string[] = [];
 * const shutdown = new GracefulShutdown({ timeoutMs: 5_000 });
 * shutdown.register("cache", () => { order.push("cache"); }, { priority: 20 });
 * shutdown.register("db", async () => { order.push("db"); }, { priority: 10 });
 * const report = await shutdown.trigger();
 * if (order.join() !== "db,cache" || !report.completed) throw new Error("wrong order");
 * ```
 */
export class GracefulShutdown {
  /** Total bound on all callbacks, in ms. */
  readonly timeoutMs: number;
  /** Exit code of a forced exit. */
  readonly forceExitCode: number;
  readonly #exitCode: number;
  readonly #signals: readonly string[];
  readonly #source: SignalSource | undefined;
  readonly #clock: Clock;
  readonly #callbacks = new Map<string, CleanupCallback & { readonly seq: number }>();
  readonly #events = new Emitter<ShutdownEvents>();
  #seq = 0;
  #removers: (() => void)[] | undefined;
  #running: Promise<ShutdownReport> | undefined;
  #started: (() => void)[] = [];
  /** A signal has arrived: the next one forces the exit. */
  #signalled = false;

  constructor(options: GracefulShutdownOptions = {}) {
    throwIf(badOptions("GracefulShutdown", options));
    if (options.signalSource === undefined && onWorkers()) throw new ShutdownUnsupportedError("Cloudflare Workers");
    const resolved: Resolved = validate("GracefulShutdown", optionsSchema(), {
      ...defaultsFor("shutdown"),
      exitCode: 0,
      clock: systemClock,
      ...options,
    });
    this.timeoutMs = resolved.timeoutMs;
    this.forceExitCode = resolved.forceExitCode;
    this.#exitCode = resolved.exitCode;
    this.#source = resolved.signalSource;
    this.#signals = [...(resolved.signals ?? resolved.signalSource?.defaultSignals ?? ["SIGTERM", "SIGINT"])];
    this.#clock = resolved.clock;
  }

  /** True once a shutdown has begun (by a signal or `trigger()`); it stays true. */
  get isShuttingDown(): boolean {
    return this.#running !== undefined;
  }

  /** True while signal handlers are installed. */
  get isInstalled(): boolean {
    return this.#removers !== undefined;
  }

  /** The signals `install()` handles. */
  get signals(): readonly string[] {
    return this.#signals;
  }

  /** The registered callbacks, in the order they would run. */
  get callbacks(): readonly CleanupCallback[] {
    return [...this.#callbacks.values()]
      .sort((a, b) => a.priority - b.priority || a.seq - b.seq)
      .map(({ name, callback, priority, timeoutMs }) => ({ name, callback, priority, timeoutMs }));
  }

  /** Listens to `shutdown`, `callback` and `done`; returns the function that stops listening. */
  on<K extends keyof ShutdownEvents & string>(event: K, listener: (payload: ShutdownEvents[K]) => void): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /**
   * Adds a clean-up callback. Throws {@link ShutdownError} if `name` is taken
   * or a shutdown has begun; {@link InvalidArgumentError} for a name that is
   * not a string or a callback that is not a function; `ConfigError` for a
   * bad `priority` or `timeoutMs`.
   *
   * @example
   * ```ts
   * import { GracefulShutdown } from "bulwark";
   * const shutdown = new GracefulShutdown();
   * shutdown.register("flush", async ({ signal }) => { if (signal.aborted) return; }, { priority: 10, timeoutMs: 2_000 });
   * if (shutdown.callbacks[0]?.timeoutMs !== 2_000) throw new Error("not registered");
   * ```
   */
  register(name: string, callback: CleanupFunction, options: RegisterOptions = {}): void {
    throwIf(badString("GracefulShutdown.register", name, "name"));
    throwIf(badFunction("GracefulShutdown.register", callback, "callback"));
    throwIf(badOptions("GracefulShutdown.register", options));
    const resolved = validate("GracefulShutdown.register", registerSchema(), { priority: 100, ...options });
    if (this.#running !== undefined) {
      throw new ShutdownError(`GracefulShutdown: cannot register '${name}': shutdown is in progress`);
    }
    if (this.#callbacks.has(name)) {
      throw new ShutdownError(`GracefulShutdown: a callback named '${name}' is already registered`);
    }
    this.#callbacks.set(name, {
      name,
      callback,
      priority: resolved.priority,
      timeoutMs: resolved.timeoutMs,
      seq: this.#seq++,
    });
  }

  /**
   * Removes the callback named `name`; returns whether there was one.
   *
   * @example
   * ```ts
   * import { GracefulShutdown } from "bulwark";
   * const shutdown = new GracefulShutdown();
   * shutdown.register("test", () => {});
   * if (!shutdown.unregister("test") || shutdown.unregister("missing")) throw new Error("unregister");
   * ```
   */
  unregister(name: string): boolean {
    throwIf(badString("GracefulShutdown.unregister", name, "name"));
    return this.#callbacks.delete(name);
  }

  /**
   * Installs the signal handlers; returns `this`. Throws {@link ShutdownError}
   * if they are installed already, if there is no signal source, or if the
   * source refuses a signal (nothing then stays installed).
   *
   * @example
   * ```ts
   * import { GracefulShutdown, type SignalSource } from "bulwark";
   * const installed = new Set<string>();
   * const source: SignalSource = {
   *   name: "test",
   *   on(signal) { installed.add(signal); return () => { installed.delete(signal); }; },
   * };
   * const shutdown = new GracefulShutdown({ signalSource: source }).install();
   * const whileInstalled = [...installed];
   * shutdown.uninstall();
   * if (whileInstalled.join() !== "SIGTERM,SIGINT" || installed.size > 0) throw new Error("handlers left behind");
   * ```
   */
  install(): this {
    if (this.#removers !== undefined) throw new ShutdownError("GracefulShutdown: signal handlers are already installed");
    const source = this.#source;
    if (source === undefined) {
      throw new ShutdownError(
        "GracefulShutdown: no signalSource to install handlers on: pass nodeSignals() (bulwark/node, for Node and Bun), " +
          "denoSignals() (bulwark/deno) or browserSignals() (bulwark/browser); trigger() works without one",
      );
    }
    const removers: (() => void)[] = [];
    const handler = (signal: string): void => this.#onSignal(signal);
    try {
      for (const signal of this.#signals) removers.push(source.on(signal, handler));
    } catch (error) {
      for (const remove of removers.reverse()) remove();
      throw new ShutdownError(`GracefulShutdown: signal source '${source.name}' refused a signal: ${String(error)}`, {
        cause: error,
      });
    }
    this.#removers = removers;
    return this;
  }

  /** Removes the handlers `install()` added, leaving the runtime's handlers as they were. Idempotent. */
  uninstall(): void {
    const removers = this.#removers;
    this.#removers = undefined;
    if (removers === undefined) return;
    for (const remove of removers.reverse()) remove();
  }

  /**
   * Runs the shutdown: every callback in priority order, each bounded by
   * its own timeout and the total. Resolves to the report (never rejects);
   * a second call resolves to the same report. Never exits the process.
   */
  trigger(): Promise<ShutdownReport> {
    return this.#start("trigger");
  }

  /**
   * Resolves to `true` once a shutdown has begun, or `false` if `timeoutMs`
   * passes first (default: wait for ever). Rejects with
   * {@link InvalidArgumentError} for a `timeoutMs` that is not a number `>= 0`.
   *
   * @example
   * ```ts
   * import { GracefulShutdown } from "bulwark";
   * const shutdown = new GracefulShutdown();
   * const begun = shutdown.wait();
   * void shutdown.trigger();
   * if (!(await begun)) throw new Error("should have begun");
   * ```
   */
  wait(timeoutMs?: number): Promise<boolean> {
    if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs >= 0))) {
      return Promise.reject(
        new InvalidArgumentError("GracefulShutdown.wait", "timeoutMs", timeoutMs, "a number of milliseconds >= 0 or undefined"),
      );
    }
    if (this.#running !== undefined) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let cancel: (() => void) | undefined;
      const started = (): void => {
        cancel?.();
        resolve(true);
      };
      this.#started.push(started);
      if (timeoutMs !== undefined && timeoutMs !== Infinity) {
        cancel = this.#clock.schedule(() => {
          this.#started = this.#started.filter((waiter) => waiter !== started);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  /** Triggers the shutdown (if none ran yet), waits for it, and uninstalls the handlers. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.trigger();
    } finally {
      this.uninstall();
    }
  }

  #onSignal(signal: string): void {
    const source = this.#source;
    if (this.#signalled) {
      // A second signal: the operator insists.
      source?.exit?.(this.forceExitCode);
      return;
    }
    this.#signalled = true;
    // A shutdown begun by trigger() is joined, not cut short: this is the first signal.
    void this.#start(signal).then((report) => {
      source?.exit?.(report.completed ? this.#exitCode : this.forceExitCode);
    });
  }

  #start(reason: string): Promise<ShutdownReport> {
    if (this.#running !== undefined) return this.#running;
    const callbacks = this.callbacks;
    this.#running = this.#run(reason, callbacks);
    const waiters = this.#started;
    this.#started = [];
    for (const waiter of waiters) waiter();
    return this.#running;
  }

  async #run(reason: string, callbacks: readonly CleanupCallback[]): Promise<ShutdownReport> {
    this.#events.emit("shutdown", { reason });
    const clock = this.#clock;
    const start = clock.now();
    const deadline = start + this.timeoutMs;
    const results: CleanupResult[] = [];
    for (const entry of callbacks) {
      const remaining = deadline - clock.now();
      // Under a millisecond left counts as passed: timers may fire a hair
      // early, and a callback started then would race the forced exit.
      const result = remaining < 1
        ? { name: entry.name, priority: entry.priority, status: "skipped" as const, durationMs: 0 }
        : await this.#runOne(entry, Math.min(entry.timeoutMs ?? remaining, remaining));
      results.push(result);
      this.#events.emit("callback", result);
    }
    const names = (status: CleanupStatus) => results.filter((r) => r.status === status).map((r) => r.name);
    const skipped = names("skipped");
    const report: ShutdownReport = {
      reason,
      results,
      ran: names("ok"),
      failed: names("failed"),
      timedOut: [...names("timed-out"), ...skipped],
      // Every callback got its turn, and the last did not run into the total bound.
      completed: skipped.length === 0 && clock.now() < deadline,
      durationMs: clock.now() - start,
    };
    this.#events.emit("done", report);
    return report;
  }

  async #runOne(entry: CleanupCallback, limitMs: number): Promise<CleanupResult> {
    const clock = this.#clock;
    const start = clock.now();
    const controller = new AbortController();
    let cancel: (() => void) | undefined;
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
      cancel = clock.schedule(() => resolve(TIMED_OUT), limitMs);
    });
    let work: Promise<unknown>;
    try {
      work = Promise.resolve(entry.callback({ signal: controller.signal }));
    } catch (error) {
      work = Promise.reject(error);
    }
    // A callback that rejects after its timeout must not surface as an unhandled rejection.
    work.catch(() => {});
    let outcome: { status: CleanupStatus; error?: unknown };
    try {
      const winner = await Promise.race([work, timedOut]);
      outcome = winner === TIMED_OUT ? { status: "timed-out" } : { status: "ok" };
    } catch (error) {
      outcome = { status: "failed", error };
    } finally {
      cancel?.();
    }
    if (outcome.status === "timed-out") {
      controller.abort(new TimeoutError(limitMs, `Clean-up callback '${entry.name}' timed out after ${limitMs} ms`));
    }
    return {
      name: entry.name,
      priority: entry.priority,
      status: outcome.status,
      durationMs: clock.now() - start,
      ...(outcome.status === "failed" ? { error: outcome.error } : {}),
    };
  }
}
