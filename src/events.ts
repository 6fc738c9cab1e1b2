/**
 * Typed, dependency-free event listeners. `on()` returns the function that
 * removes the listener. A listener that throws never breaks the call it
 * observes: the error goes to {@link setListenerErrorHandler}'s handler.
 *
 * @module
 */
import { badFunction, throwIf } from "./internal/arguments.ts";

/** Removes the listener it was returned for. Idempotent. */
export type Unsubscribe = () => void;

/** A listener for one event of an event map. */
export type Listener<T> = (payload: T) => void;

/** Called with an error thrown by a listener. */
export type ListenerErrorHandler = (error: unknown, event: string) => void;

let listenerErrorHandler: ListenerErrorHandler = (error, event) => {
  console.error(`bulwark: a '${event}' listener threw`, error);
};

/**
 * Sets what happens to errors thrown by event listeners (default: logged with
 * `console.error`). Returns the previous handler. A `handler` that is not a
 * function throws {@link InvalidArgumentError} and keeps the current one.
 *
 * @example
 * ```ts
 * import { setListenerErrorHandler } from "bulwark";
 * const errors: unknown[] = [];
 * const previous = setListenerErrorHandler((error) => errors.push(error));
 * setListenerErrorHandler(previous);
 * ```
 */
export function setListenerErrorHandler(handler: ListenerErrorHandler): ListenerErrorHandler {
  throwIf(badFunction("setListenerErrorHandler", handler, "handler"));
  const previous = listenerErrorHandler;
  listenerErrorHandler = handler;
  return previous;
}

/**
 * Holds listeners for the events of map `E` (event name to payload type).
 * Components keep one and expose its `on` method. Emitting an event nobody
 * listens to costs one property read.
 *
 * Events arrive in causal order: an event emitted by a listener (a listener
 * of `open` that resets the breaker, which emits `close`) is delivered once
 * every listener has seen the event being delivered, never in the middle of
 * it.
 *
 * @example
 * ```ts
 * import { Emitter } from "bulwark";
 * const events = new Emitter<{ tick: number }>();
 * let seen = 0;
 * const off = events.on("tick", (n) => { seen = n; });
 * events.emit("tick", 3);
 * off();
 * events.emit("tick", 4);
 * if (seen !== 3) throw new Error("listener not removed");
 * ```
 */
export class Emitter<E extends { [K in keyof E]: unknown }> {
  // Arrays are replaced, never mutated, so emit can iterate without copying.
  #listeners: { [K in keyof E]?: ReadonlyArray<Listener<E[K]>> } = {};

  /** Adds `listener` for `event`; returns the function that removes it. */
  on<K extends keyof E & string>(event: K, listener: Listener<E[K]>): Unsubscribe {
    if (typeof listener !== "function") {
      throw new TypeError(`Listener for '${event}' must be a function, got ${typeof listener}`);
    }
    this.#listeners[event] = [...(this.#listeners[event] ?? []), listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const remaining = (this.#listeners[event] ?? []).filter((l) => l !== listener);
      this.#listeners[event] = remaining.length === 0 ? undefined : remaining;
    };
  }

  /** True if anyone listens to `event`: lets callers skip building a payload. */
  has<K extends keyof E & string>(event: K): boolean {
    return this.#listeners[event] !== undefined;
  }

  /**
   * Calls every listener of `event`; errors they throw are reported, not
   * rethrown. Called from a listener, it queues the event, delivered once
   * the current delivery is over.
   */
  emit<K extends keyof E & string>(event: K, payload: E[K]): void {
    if (this.#listeners[event] === undefined) return;
    if (this.#queue !== undefined) this.#queue.push(event, payload);
    else this.#deliver([event, payload]);
  }

  /**
   * Emits each of `events` with the same `payload`, in order, as one
   * delivery: events that their listeners emit come after all of them
   * (`stateChange`, then `open`, then the `close` a listener caused).
   */
  emitEach<K extends keyof E & string>(events: readonly K[], payload: E[K]): void {
    const queued: unknown[] = [];
    for (const event of events) if (this.#listeners[event] !== undefined) queued.push(event, payload);
    if (queued.length === 0) return;
    if (this.#queue !== undefined) this.#queue.push(...queued);
    else this.#deliver(queued);
  }

  /** Events waiting while a delivery runs, as (event, payload) pairs; `undefined` when none runs. */
  #queue: unknown[] | undefined = undefined;

  /** Delivers `pending` and everything its listeners emit, first in, first out. */
  #deliver(pending: unknown[]): void {
    this.#queue = pending;
    try {
      for (let i = 0; i < pending.length; i += 2) {
        const event = pending[i] as keyof E & string;
        // Read now: a listener removed by an earlier one is not called.
        const listeners = this.#listeners[event];
        if (listeners !== undefined) this.#call(listeners, event, pending[i + 1] as E[typeof event]);
      }
    } finally {
      this.#queue = undefined;
    }
  }

  #call<K extends keyof E & string>(listeners: ReadonlyArray<Listener<E[K]>>, event: K, payload: E[K]): void {
    for (const listener of listeners) {
      try {
        listener(payload);
      } catch (error) {
        try {
          listenerErrorHandler(error, event);
        } catch {
          // The error handler itself failed; nothing sensible is left to do.
        }
      }
    }
  }
}
