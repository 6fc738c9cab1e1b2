/**
 * Bulkhead: a cap on concurrent executions, with an optional FIFO queue, so
 * that one slow dependency cannot take every resource of the caller.
 *
 * @module
 */
import { type CancelTimer, type Clock, systemClock } from "./clock.ts";
import { configuredSection } from "./internal/configured.ts";
import { BULKHEAD_DEFAULTS } from "./internal/built_in_defaults.ts";
import { sharedBase } from "./internal/defaults.ts";
import { BulkheadRejectedError } from "./errors.ts";
import { Emitter, type Listener, type Unsubscribe } from "./events.ts";
import {
  callOperation,
  executeIn,
  isThenable,
  type LayeredPolicy,
  type Next,
  runInContext,
  runThrough,
  wrapIn,
} from "./internal/context.ts";
import { badFunction, badOptions, throwIf } from "./internal/arguments.ts";
import { onWorkers } from "./internal/runtime.ts";
import { fuse, type FusablePolicy, SLOW, type Stage } from "./internal/fused.ts";
import { contextFor, type ExecutionContext, type Operation } from "./policy.ts";
import { clock as clockSchema, durationMs, integer, lazy, strictObject, validateOver } from "./validation.ts";

/** Options of {@link Bulkhead}. Defaults cascade from `configure({ bulkhead })`. */
export interface BulkheadOptions {
  /** Executions allowed at once, `>= 1`. Built-in default 10. */
  maxConcurrent?: number;
  /** Calls allowed to wait for a slot, `>= 0`. Default 0: reject at once when full. */
  maxQueue?: number;
  /** A queued call waiting this long is rejected, in ms. Default 0: waits without limit. */
  queueTimeoutMs?: number;
  /**
   * How a queued call learns that a slot is free. 0: the call that frees it
   * hands it over at once, with no timer. Above 0: each queued call checks,
   * every `pollMs` ms, on its own timer, and takes a free slot when it is
   * first in line; it starts up to `pollMs` after its slot frees.
   *
   * Default: 0, except on Cloudflare Workers (`navigator.userAgent` is
   * `"Cloudflare-Workers"`), where it is 5. There a request is never
   * resumed by another request's code, so a hand-over from the request that
   * frees a slot would leave a queued request of another one hanging until
   * workerd cancels it. A value given here or to `configure({ bulkhead })`
   * wins on every runtime: `pollMs: 0` on Workers is safe only for a
   * bulkhead that serves a single request (a test's, say: with a
   * `ManualClock`, polls fire only as the test advances the clock).
   */
  pollMs?: number;
  /** Time source for `queueTimeoutMs`. Default {@link systemClock}. */
  clock?: Clock;
}

/** {@link BulkheadOptions} with every default applied. */
export interface ResolvedBulkheadOptions {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly queueTimeoutMs: number;
  readonly pollMs: number;
  readonly clock: Clock;
}

/** Events of {@link Bulkhead}. */
export interface BulkheadEvents {
  /** A call was refused: no slot and no queue room, or it waited `queueTimeoutMs`. */
  reject: { readonly reason: "full" | "queueTimeout"; readonly active: number; readonly queued: number };
}

/**
 * The default `pollMs` on Cloudflare Workers, in ms: a queued request starts
 * at most this long after its slot frees, and each queued request's timer
 * fires this often while it waits.
 */
const WORKERS_POLL_MS = 5;

/**
 * The default `pollMs` where neither the options nor `configure()` set one:
 * polling on Workers, a hand-over elsewhere. Read at construction, never at
 * import.
 */
function defaultPollMs(): number {
  return onWorkers() ? WORKERS_POLL_MS : 0;
}

/** Built on the first construction, not at import. */
const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    maxConcurrent: integer(1),
    maxQueue: integer(0),
    queueTimeoutMs: durationMs(0),
    pollMs: durationMs(0),
    clock: clockSchema(),
  })
);

/** A queued call: a node of the waiters' doubly linked list. */
class Waiter {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  queued = true;
  cancelTimer: CancelTimer | undefined = undefined;
  /** Its next check for a free slot (when the bulkhead polls). */
  cancelPoll: CancelTimer | undefined = undefined;
  readonly #leave: (waiter: Waiter, reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;

  constructor(
    leave: (waiter: Waiter, reason: unknown) => void,
    signal: AbortSignal | undefined,
    resolve: () => void,
    reject: (reason: unknown) => void,
  ) {
    this.#leave = leave;
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
  }

  /** The caller's signal aborted (this object is its listener). */
  handleEvent(): void {
    this.#leave(this, this.signal!.reason);
  }
}

/**
 * Limits concurrent executions to `maxConcurrent`; up to `maxQueue` more
 * calls wait in FIFO order, the rest are refused with
 * {@link BulkheadRejectedError}. A queued call whose signal aborts leaves the
 * queue at once, without blocking the calls behind it.
 *
 * @example
 * ```ts
 * import { Bulkhead, BulkheadRejectedError } from "bulwark";
 * const bulkhead = new Bulkhead({ maxConcurrent: 1 });
 * let release = (): void => {};
 * const first = bulkhead.execute(() => new Promise<void>((resolve) => (release = resolve)));
 * const second = await bulkhead.execute(async () => "ran").catch((error) => error);
 * if (!(second instanceof BulkheadRejectedError)) throw new Error("expected a rejection");
 * release();
 * await first;
 * if (bulkhead.active !== 0 || bulkhead.rejected !== 1) throw new Error("stats");
 * ```
 */
export class Bulkhead implements LayeredPolicy, FusablePolicy {
  /** The options in force, defaults applied. */
  readonly options: ResolvedBulkheadOptions;
  readonly #events = new Emitter<BulkheadEvents>();
  #active = 0;
  #queued = 0;
  #rejected = 0;
  #head: Waiter | undefined = undefined;
  #tail: Waiter | undefined = undefined;

  constructor(options: BulkheadOptions = {}) {
    throwIf(badOptions("Bulkhead", options));
    // The defaults are one shared object, checked once while configure()
    // leaves them: each construction checks only the options given.
    this.options = Object.freeze(
      validateOver("Bulkhead", optionsSchema(), sharedBase("bulkhead", "bulkhead", BULKHEAD_DEFAULTS, { clock: systemClock as Clock }), {
        ...options,
        // The built-in default depends on the runtime, so only a value the
        // user set (here or in configure()) is taken as given.
        pollMs: options.pollMs ?? configuredSection("bulkhead")?.pollMs ?? defaultPollMs(),
      }),
    );
  }

  /** Executions running now. */
  get active(): number {
    return this.#active;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#queued;
  }

  /** Calls refused since construction. */
  get rejected(): number {
    return this.#rejected;
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof BulkheadEvents>(event: K, listener: Listener<BulkheadEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /**
   * Runs `fn` in a free slot, after waiting in the queue if needed. Rejects
   * with {@link BulkheadRejectedError} when full, or with the abort reason if
   * `signal` aborts while the call waits.
   */
  execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    return executeIn(this, fn, signal, "Bulkhead.execute");
  }

  /** Wraps `fn` so that every call goes through this bulkhead. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<R> {
    return wrapIn(this, fn, "Bulkhead.wrap");
  }

  /** @internal */
  [runInContext]<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T> {
    return this[runThrough](fn, parent, callOperation);
  }

  /** @internal */
  [runThrough]<T>(fn: Operation<T>, parent: ExecutionContext | undefined, next: Next): Promise<T> {
    // A free slot with calls queued (a polling bulkhead) belongs to the first of them.
    if (this.#active < this.options.maxConcurrent && this.#head === undefined) {
      this.#active++;
      return this.#run(fn, parent, next);
    }
    if (this.#queued >= this.options.maxQueue) return Promise.reject(this.#reject("full"));
    return this.#wait(parent?.signal).then(() => this.#run(fn, parent, next));
  }

  /**
   * @internal In a fused pipeline: takes a free slot synchronously and frees
   * it in the operation's reaction. A call that must queue or be refused
   * runs layered.
   */
  [fuse](): Stage {
    return new Bulkhead.#Stage(this);
  }

  // A class, not an object of closures: its methods are one function for
  // every bulkhead, so a fused call site shared by several pipelines still
  // sees one target (V8 before Maglev inlines a closure shared by many
  // pipelines less well).
  static readonly #Stage = class implements Stage {
    readonly #bulkhead: Bulkhead;
    constructor(bulkhead: Bulkhead) {
      this.#bulkhead = bulkhead;
    }
    enter(): unknown {
      const bulkhead = this.#bulkhead;
      if (bulkhead.#active >= bulkhead.options.maxConcurrent || bulkhead.#head !== undefined) return SLOW;
      bulkhead.#active++;
      return true;
    }
    onValue(_slot: unknown, value: unknown): unknown {
      this.#bulkhead.#release();
      return value;
    }
    onError(_slot: unknown, error: unknown): never {
      this.#bulkhead.#release();
      throw error;
    }
  };

  /** Rejects every queued call with {@link BulkheadRejectedError}; running calls finish. */
  [Symbol.dispose](): void {
    const { maxConcurrent, maxQueue } = this.options;
    while (this.#head !== undefined) {
      this.#rejected++;
      this.#leave(
        this.#head,
        new BulkheadRejectedError(maxConcurrent, maxQueue, "Bulkhead disposed while the call was queued"),
      );
    }
  }

  /** Runs `fn` in a slot already taken; frees it when `fn` settles. */
  #run<T>(fn: Operation<T>, parent: ExecutionContext | undefined, next: Next): Promise<T> {
    let result: T | PromiseLike<T>;
    try {
      result = next(fn, parent ?? contextFor(undefined));
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    if (!isThenable(result)) {
      this.#release();
      return Promise.resolve(result);
    }
    return Promise.resolve(result).then(this.#releaseWith, this.#releaseThrowing) as Promise<T>;
  }

  // Bound once: the hot path allocates no closure.
  readonly #releaseWith = (value: unknown): unknown => {
    this.#release();
    return value;
  };

  readonly #releaseThrowing = (error: unknown): never => {
    this.#release();
    throw error;
  };

  /** Frees a slot, or hands it straight to the first waiter (unless waiters poll for it). */
  #release(): void {
    const next = this.#head;
    if (next === undefined || this.options.pollMs > 0) {
      this.#active--;
      return;
    }
    this.#unlink(next);
    next.resolve();
  }

  /** A polling waiter's check, on its own timer: takes a free slot if first in line. */
  #poll(waiter: Waiter): void {
    waiter.cancelPoll = undefined;
    if (!waiter.queued) return;
    if (waiter === this.#head && this.#active < this.options.maxConcurrent) {
      this.#unlink(waiter);
      this.#active++;
      waiter.resolve();
      return;
    }
    try {
      waiter.cancelPoll = this.options.clock.schedule(() => this.#poll(waiter), this.options.pollMs);
    } catch (error) {
      // Without its next poll, the head would block the queue for good.
      this.#leave(waiter, error);
    }
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(this.#leave, signal, resolve, reject);
      // Listen first: a signal that cannot be listened to (handed in by a
      // foreign policy) rejects this call before the waiter joins the queue.
      signal?.addEventListener("abort", waiter);
      waiter.prev = this.#tail;
      if (this.#tail === undefined) this.#head = waiter;
      else this.#tail.next = waiter;
      this.#tail = waiter;
      this.#queued++;
      const { queueTimeoutMs, pollMs, clock } = this.options;
      try {
        if (pollMs > 0) waiter.cancelPoll = clock.schedule(() => this.#poll(waiter), pollMs);
        if (queueTimeoutMs > 0) {
          waiter.cancelTimer = clock.schedule(
            () => this.#leave(waiter, this.#reject("queueTimeout")),
            queueTimeoutMs,
          );
        }
      } catch (error) {
        // A clock that cannot set the timer: this call fails with its error,
        // and leaves the queue (a rejected waiter left in it would be handed
        // the next free slot, or block the poll, for good).
        this.#leave(waiter, error);
      }
    });
  }

  /** Takes `waiter` out of the queue and rejects it with `reason`. */
  readonly #leave = (waiter: Waiter, reason: unknown): void => {
    if (!waiter.queued) return;
    this.#unlink(waiter);
    waiter.reject(reason);
  };

  #unlink(waiter: Waiter): void {
    waiter.queued = false;
    if (waiter.prev === undefined) this.#head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.#tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.#queued--;
    waiter.cancelTimer?.();
    waiter.cancelPoll?.();
    waiter.signal?.removeEventListener("abort", waiter);
  }

  #reject(reason: "full" | "queueTimeout"): BulkheadRejectedError {
    this.#rejected++;
    const { maxConcurrent, maxQueue, queueTimeoutMs } = this.options;
    if (this.#events.has("reject")) {
      this.#events.emit("reject", { reason, active: this.#active, queued: this.#queued });
    }
    return new BulkheadRejectedError(
      maxConcurrent,
      maxQueue,
      reason === "full" ? undefined : `Bulkhead slot not free after waiting ${queueTimeoutMs} ms in the queue`,
    );
  }
}

/**
 * Wraps `fn` in a new {@link Bulkhead}: at most `maxConcurrent` calls of the
 * returned function run at once (the seeds' `@bulkhead` decorator).
 *
 * @example
 * ```ts
 * import { bulkhead } from "bulwark";
 * const limited = bulkhead(async (n: number) => n + 1, { maxConcurrent: 2, maxQueue: 10 });
 * const results = await Promise.all([1, 2, 3].map((n) => limited(n)));
 * if (results.join() !== "2,3,4") throw new Error("unexpected");
 * ```
 */
export function bulkhead<A extends unknown[], R>(
  fn: (...args: A) => R | PromiseLike<R>,
  options?: BulkheadOptions,
): (...args: A) => Promise<R> {
  throwIf(badFunction("bulkhead", fn) ?? badOptions("bulkhead", options));
  return new Bulkhead(options).wrap(fn);
}
