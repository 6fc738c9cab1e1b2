/**
 * The signals seam: where termination signals come from. The core never
 * touches `process`, `Deno` or `window`; a {@link SignalSource} does, and the
 * runtime adapters supply one each (`nodeSignals()` in `bulwark/node` for
 * Node and Bun, `denoSignals()` in `bulwark/deno`, `browserSignals()` in
 * `bulwark/browser`). Cloudflare Workers have no signals at all.
 *
 * @module
 */

/** Called with the name of the signal (or page event) that arrived. */
export type SignalHandler = (signal: string) => void;

/**
 * A source of termination signals, and a way to end the process.
 *
 * `on()` adds a handler beside whatever is already there and returns the
 * function that removes exactly that handler, so that after every returned
 * function has run the runtime's handlers are what they were before
 * (including the runtime's default action when there were none, such as
 * Node exiting on `SIGTERM`).
 *
 * @example
 * ```ts
 * import type { SignalHandler, SignalSource } from "bulwark";
 * // A source a test (or an embedding host) fires by hand.
 * const handlers = new Map<string, Set<SignalHandler>>();
 * const source: SignalSource = {
 *   name: "manual",
 *   on(signal, handler) {
 *     const set = handlers.get(signal) ?? new Set();
 *     handlers.set(signal, set.add(handler));
 *     return () => { set.delete(handler); };
 *   },
 * };
 * let seen = "";
 * const off = source.on("SIGTERM", (signal) => { seen = signal; });
 * for (const handler of handlers.get("SIGTERM") ?? []) handler("SIGTERM");
 * off();
 * if (seen !== "SIGTERM" || handlers.get("SIGTERM")?.size !== 0) throw new Error("not removed");
 * ```
 */
export interface SignalSource {
  /** Shown in errors, e.g. `"node"`. */
  readonly name: string;
  /**
   * The signals a {@link GracefulShutdown} listens to when its options name
   * none. Default `["SIGTERM", "SIGINT"]`; a browser source says
   * `["pagehide", "visibilitychange"]`.
   */
  readonly defaultSignals?: readonly string[];
  /** Adds `handler` for `signal`; returns the function that removes it (idempotent). */
  on(signal: string, handler: SignalHandler): () => void;
  /**
   * Ends the process with `code`. Absent where a program cannot end itself
   * (a browser page): a shutdown then runs its callbacks and stops there.
   */
  exit?(code: number): void;
}
