/**
 * Named circuit breakers, one per dependency, shared across a process.
 *
 * @module
 */
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  type CircuitState,
  type CircuitStateChange,
  type GuardedFunction,
} from "./circuit_breaker.ts";
import { ConfigError } from "../errors.ts";
import { Emitter, type Listener, type Unsubscribe } from "../events.ts";
import { badFunction, badOptions, badString, throwIf } from "../internal/arguments.ts";

/** One entry of {@link CircuitBreakerRegistry.list}. */
export interface CircuitBreakerInfo {
  /** The breaker's name. */
  readonly name: string;
  /** Its current state. */
  readonly state: CircuitState;
  /** Failures counted toward opening. */
  readonly failureCount: number;
  /** Ms until a probe is allowed (`0` unless open). */
  readonly remainingMs: number;
  /** Its counters. */
  readonly stats: CircuitBreakerStats;
}

/** Events of {@link CircuitBreakerRegistry}, by name. */
export interface CircuitBreakerRegistryEvents {
  /** A transition of any breaker of the registry: where a store adapter persists state. */
  stateChange: CircuitStateChange;
}

/** Options every breaker of a registry starts from (`name` and `initialState` are per breaker). */
export type CircuitBreakerRegistryDefaults = Omit<CircuitBreakerOptions<never>, "name" | "initialState" | "fallback">;

/**
 * Holds circuit breakers by name. Breakers it creates take the registry's
 * defaults under their own options (and `configure()` under both).
 * `F` is what the breakers' `fallback` returns (`never`, the default, for
 * breakers without one): `get()` and `getOrCreate()` return
 * `CircuitBreaker<F>` alike, so `execute` results keep their type.
 *
 * With a `store` in the defaults (`new CircuitBreakerRegistry({ store })`),
 * every breaker it creates shares its state, under its name, with the
 * breakers of that name in other instances (docs/distributed.md).
 *
 * @example
 * ```ts
 * import { CircuitBreakerRegistry } from "bulwark";
 * const registry = new CircuitBreakerRegistry({ maxFailures: 3 });
 * const payments = registry.getOrCreate("payments");
 * if (registry.getOrCreate("payments") !== payments) throw new Error("not shared");
 * registry.forceOpen("payments");
 * if (registry.list()[0]?.state !== "forced-open") throw new Error("unexpected");
 * ```
 */
export class CircuitBreakerRegistry<F = never> {
  readonly #defaults: CircuitBreakerRegistryDefaults;
  readonly #breakers = new Map<string, CircuitBreaker<F>>();
  readonly #unsubscribes = new Map<string, Unsubscribe>();
  readonly #events = new Emitter<CircuitBreakerRegistryEvents>();

  constructor(defaults: CircuitBreakerRegistryDefaults = {}) {
    throwIf(badOptions("CircuitBreakerRegistry", defaults, "defaults"));
    // Fail now, not at the first getOrCreate, if the defaults are invalid.
    // (A store needs a name: any will do for the check, which does no I/O.)
    new CircuitBreaker(defaults.store === undefined ? defaults : { ...defaults, name: "registry-defaults" });
    this.#defaults = { ...defaults };
  }

  /** The breaker named `name`, if any: of the same type as `getOrCreate` returns. */
  get(name: string): CircuitBreaker<F> | undefined {
    return this.#breakers.get(name);
  }

  /** Whether a breaker named `name` exists. */
  has(name: string): boolean {
    return this.#breakers.has(name);
  }

  /**
   * The breaker named `name`, created from the registry's defaults and
   * `options` if it does not exist yet. `options` are ignored when it does.
   *
   * @example
   * ```ts
   * import { CircuitBreakerRegistry } from "bulwark";
   * const registry = new CircuitBreakerRegistry();
   * const search = registry.getOrCreate("search", { resetTimeoutMs: 5_000 });
   * if (search.options.resetTimeoutMs !== 5_000) throw new Error("unexpected");
   * ```
   */
  getOrCreate(name: string, options: CircuitBreakerOptions<F> = {}): CircuitBreaker<F> {
    const target = "CircuitBreakerRegistry.getOrCreate";
    throwIf(badString(target, name, "name") ?? badOptions(target, options));
    const existing = this.#breakers.get(name);
    if (existing !== undefined) return existing;
    if (options.name !== undefined && options.name !== name) {
      throw new ConfigError("CircuitBreakerRegistry", [
        { field: "name", value: options.name, allowed: `left out or equal to the registry key '${name}'` },
      ]);
    }
    const merged: Record<string, unknown> = { ...this.#defaults };
    // A key given as `undefined` keeps the registry's default.
    for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
    const breaker = new CircuitBreaker<F>({ ...merged, name } as CircuitBreakerOptions<F>);
    this.#unsubscribes.set(name, breaker.on("stateChange", (change) => this.#events.emit("stateChange", change)));
    this.#breakers.set(name, breaker);
    return breaker;
  }

  /**
   * Guards `fn` with the breaker named `name` (created as by `getOrCreate`).
   * Functions wrapped under one name share its breaker.
   *
   * @example
   * ```ts
   * import { CircuitBreakerRegistry } from "bulwark";
   * const registry = new CircuitBreakerRegistry();
   * const getUser = registry.wrap("users", async (id: number) => ({ id }));
   * if ((await getUser(1)).id !== 1) throw new Error("unexpected");
   * if (getUser.breaker !== registry.get("users")) throw new Error("not shared");
   * ```
   */
  wrap<A extends unknown[], R>(
    name: string,
    fn: (...args: A) => R,
    options?: CircuitBreakerOptions<F>,
  ): GuardedFunction<A, R, F> {
    throwIf(
      badString("CircuitBreakerRegistry.wrap", name, "name") ?? badFunction("CircuitBreakerRegistry.wrap", fn) ??
        badOptions("CircuitBreakerRegistry.wrap", options),
    );
    const breaker = this.getOrCreate(name, options);
    const guarded = breaker.wrap(fn);
    Object.defineProperty(guarded, "breaker", { value: breaker, enumerable: true });
    return guarded as GuardedFunction<A, R, F>;
  }

  /** Every breaker with its state and counters, in creation order. */
  list(): CircuitBreakerInfo[] {
    return [...this.#breakers.values()].map((breaker) => ({
      name: breaker.name,
      state: breaker.state,
      failureCount: breaker.failureCount,
      remainingMs: breaker.remainingMs,
      stats: breaker.stats,
    }));
  }

  /** Closes the breaker named `name`; `false` if there is none. */
  reset(name: string): boolean {
    const breaker = this.#breakers.get(name);
    breaker?.reset();
    return breaker !== undefined;
  }

  /** Closes every breaker. */
  resetAll(): void {
    for (const breaker of this.#breakers.values()) breaker.reset();
  }

  /** Forces the breaker named `name` open; `false` if there is none. */
  forceOpen(name: string): boolean {
    const breaker = this.#breakers.get(name);
    breaker?.forceOpen();
    return breaker !== undefined;
  }

  /** The counters of the breaker named `name`, if any. */
  stats(name: string): CircuitBreakerStats | undefined {
    return this.#breakers.get(name)?.stats;
  }

  /** Forgets the breaker named `name` (it keeps working for whoever holds it); `false` if there was none. */
  delete(name: string): boolean {
    this.#unsubscribes.get(name)?.();
    this.#unsubscribes.delete(name);
    return this.#breakers.delete(name);
  }

  /**
   * Listens to the transitions of every breaker of the registry.
   *
   * @example
   * ```ts
   * import { CircuitBreakerRegistry } from "bulwark";
   * const registry = new CircuitBreakerRegistry({ maxFailures: 1 });
   * const saved = new Map<string, unknown>();
   * registry.on("stateChange", ({ name, snapshot }) => saved.set(name, snapshot));
   * registry.getOrCreate("db").recordFailure();
   * if (!saved.has("db")) throw new Error("not persisted");
   * ```
   */
  on<K extends keyof CircuitBreakerRegistryEvents>(
    event: K,
    listener: Listener<CircuitBreakerRegistryEvents[K]>,
  ): Unsubscribe {
    return this.#events.on(event, listener);
  }
}
