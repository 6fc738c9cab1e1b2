/**
 * Chaos: inject faults and latency on purpose, to see the other policies
 * (and the callers) cope, in staging or in tests, as Polly's chaos
 * strategies do. Deterministic with an injected random source.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { ChaosFaultError } from "./errors.ts";
import { Emitter, type Listener, type Unsubscribe } from "./events.ts";
import { badOptions, throwIf } from "./internal/arguments.ts";
import { type ContextualPolicy, executeIn, invoke, runInContext, wrapIn } from "./internal/context.ts";
import type { ExecutionContext, Operation } from "./policy.ts";
import { clock as clockSchema, durationMs, fraction, func, lazy, satisfying, strictObject, validate } from "./validation.ts";

/** Options of {@link chaos}. */
export interface ChaosOptions {
  /**
   * Share of calls that fail with `fault` instead of running, in `[0, 1]`.
   * Default 1 if `fault` is given, else 0.
   */
  faultRate?: number;
  /** What injected faults throw: an `Error`, or a function returning one. Default a {@link ChaosFaultError}. */
  fault?: Error | (() => unknown);
  /** Delay injected before a call runs, in ms. Default 0. */
  latencyMs?: number;
  /** Share of calls delayed by `latencyMs`, in `[0, 1]`. Default 1 if `latencyMs` is given, else 0. */
  latencyRate?: number;
  /** Whether to inject anything; a function is asked on every call. Default `true`. */
  enabled?: boolean | (() => boolean);
  /** Uniform random numbers in `[0, 1)`, asked only for rates strictly between 0 and 1. Default `Math.random`. */
  random?: () => number;
  /** Time source of the latency. Default {@link systemClock}. */
  clock?: Clock;
}

/** {@link ChaosOptions} with every default applied. */
export interface ResolvedChaosOptions {
  readonly faultRate: number;
  readonly fault: Error | (() => unknown);
  readonly latencyMs: number;
  readonly latencyRate: number;
  readonly enabled: boolean | (() => boolean);
  readonly random: () => number;
  readonly clock: Clock;
}

/** Events of {@link ChaosPolicy}. */
export interface ChaosEvents {
  /** A call was failed on purpose. */
  fault: { readonly error: unknown };
  /** A call was delayed on purpose. */
  latency: { readonly delayMs: number };
}

/** Built on the first construction, not at import. */
const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    faultRate: fraction(true),
    fault: satisfying<Error | (() => unknown)>(
      (value) => value instanceof Error || typeof value === "function",
      "an Error or a function returning the error to throw",
    ),
    latencyMs: durationMs(0),
    latencyRate: fraction(true),
    enabled: satisfying<boolean | (() => boolean)>(
      (value) => typeof value === "boolean" || typeof value === "function",
      "a boolean or a function returning one",
    ),
    random: func<() => number>(),
    clock: clockSchema(),
  })
);

/**
 * Injects faults and latency into the calls it runs (see {@link chaos}).
 * Latency comes first, then the fault, so a delayed call can also fail.
 *
 * @example
 * ```ts
 * import { ChaosFaultError, ChaosPolicy } from "bulwark";
 * const policy = new ChaosPolicy({ faultRate: 0.5, random: () => 0.2 });
 * const outcome = await policy.execute(async () => "ran").catch((error) => error);
 * if (!(outcome instanceof ChaosFaultError)) throw new Error("0.2 < 0.5 should inject");
 * ```
 */
export class ChaosPolicy implements ContextualPolicy {
  /** The options in force, defaults applied. */
  readonly options: ResolvedChaosOptions;
  readonly #events = new Emitter<ChaosEvents>();

  constructor(options: ChaosOptions = {}) {
    throwIf(badOptions("chaos", options));
    this.options = Object.freeze(
      validate("chaos", optionsSchema(), {
        faultRate: options.fault === undefined ? 0 : 1,
        fault: () => new ChaosFaultError(),
        latencyMs: 0,
        latencyRate: options.latencyMs === undefined ? 0 : 1,
        enabled: true,
        random: Math.random,
        clock: systemClock,
        ...options,
      }),
    );
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof ChaosEvents>(event: K, listener: Listener<ChaosEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /** Runs `fn`, perhaps late, perhaps not at all (rejecting with the fault). */
  execute<T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    return executeIn(this, fn, signal, "ChaosPolicy.execute");
  }

  /** Wraps `fn` so that every call goes through this policy. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<R> {
    return wrapIn(this, fn, "ChaosPolicy.wrap");
  }

  /** @internal */
  [runInContext]<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T> {
    const { enabled, latencyMs, latencyRate, clock } = this.options;
    try {
      if (enabled === false || (enabled !== true && !enabled())) return invoke(fn, parent);
      if (latencyMs > 0 && this.#roll(latencyRate)) {
        if (this.#events.has("latency")) this.#events.emit("latency", { delayMs: latencyMs });
        return clock.sleep(latencyMs, parent?.signal).then(() => this.#faultOrRun(fn, parent));
      }
      return this.#faultOrRun(fn, parent);
    } catch (error) {
      // A throwing `enabled`, `random`, `fault` or clock: execute returns a
      // promise, so the call rejects with the error rather than throw it.
      return Promise.reject(error);
    }
  }

  #faultOrRun<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T> {
    if (!this.#roll(this.options.faultRate)) return invoke(fn, parent);
    const { fault } = this.options;
    const error = typeof fault === "function" ? fault() : fault;
    if (this.#events.has("fault")) this.#events.emit("fault", { error });
    return Promise.reject(error);
  }

  #roll(rate: number): boolean {
    return rate >= 1 || (rate > 0 && this.options.random() < rate);
  }
}

/**
 * A {@link ChaosPolicy}: fault and latency injection for testing resilience.
 * Put it innermost in a pipeline to exercise the policies around it.
 *
 * @example
 * ```ts
 * import { chaos, pipeline, RetryPolicy } from "bulwark";
 * let rolls = 0;
 * // Fails the first call, lets the second through.
 * const flaky = chaos({ faultRate: 0.5, random: () => (rolls++ === 0 ? 0 : 0.9) });
 * const resilient = pipeline(new RetryPolicy({ maxAttempts: 2, baseDelayMs: 0 }), flaky);
 * if ((await resilient.execute(async () => "ok")) !== "ok") throw new Error("retry should recover");
 * ```
 */
export function chaos(options: ChaosOptions = {}): ChaosPolicy {
  return new ChaosPolicy(options);
}
