/**
 * Browsers: the page events that stand for "about to go away", as a
 * {@link SignalSource} for {@link GracefulShutdown}. A page cannot exit, so
 * the source has no `exit`: a shutdown runs its callbacks and stops there.
 *
 * @module
 */
import {
  GracefulShutdown as CoreGracefulShutdown,
  type GracefulShutdownOptions,
  type SignalHandler,
  type SignalSource,
} from "../../mod.ts";

/** The page events a {@link browserSignals} source delivers. */
export type PageSignal = "pagehide" | "visibilitychange";

/** What {@link browserSignals} listens on: `window` by default (tests pass their own). */
export interface PageLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  readonly document?: { readonly visibilityState?: string };
}

/**
 * A {@link SignalSource} for browser pages:
 *
 * - `"pagehide"` (the default): the page is being unloaded or put in the
 *   back/forward cache, the last event a page reliably gets on desktop;
 * - `"visibilitychange"`: delivered only when the page turns hidden, the
 *   last reliable moment on mobile, where a hidden page may be killed
 *   without `pagehide`. It also fires on a mere tab switch, and a shutdown
 *   runs once, so ask for it only to save state, not to tear down.
 *
 * Callbacks should be quick and synchronous, or use `navigator.sendBeacon`
 * / `fetch(..., { keepalive: true })`: the page may be gone before an
 * `await` resumes. Any other signal name throws.
 *
 * @example
 * ```ts
 * import { browserSignals } from "bulwark/browser";
 * const listeners = new Map<string, () => void>();
 * const page = {
 *   addEventListener: (type: string, listener: () => void) => { listeners.set(type, listener); },
 *   removeEventListener: (type: string) => { listeners.delete(type); },
 *   document: { visibilityState: "hidden" },
 * };
 * let seen = "";
 * const off = browserSignals(page).on("visibilitychange", (signal) => { seen = signal; });
 * listeners.get("visibilitychange")?.();
 * off();
 * if (seen !== "visibilitychange" || listeners.size !== 0) throw new Error("page events");
 * ```
 */
export function browserSignals(page: PageLike = globalThis as unknown as PageLike): SignalSource {
  return {
    name: "browser",
    defaultSignals: ["pagehide"],
    on(signal: string, handler: SignalHandler): () => void {
      if (signal !== "pagehide" && signal !== "visibilitychange") {
        throw new Error(`browsers have no '${signal}' signal: use "pagehide" or "visibilitychange"`);
      }
      const listener = signal === "pagehide"
        ? (): void => handler(signal)
        : (): void => {
          if (page.document?.visibilityState === "hidden") handler(signal);
        };
      page.addEventListener(signal, listener);
      let removed = false;
      return () => {
        if (removed) return;
        removed = true;
        page.removeEventListener(signal, listener);
      };
    },
  };
}

/**
 * {@link CoreGracefulShutdown | GracefulShutdown} with `signalSource`
 * defaulting to {@link browserSignals}.
 *
 * @example
 * ```ts
 * import { GracefulShutdown } from "bulwark/browser";
 * const shutdown = new GracefulShutdown();
 * shutdown.register("save-draft", () => {});
 * if (shutdown.signals[0] !== "pagehide") throw new Error("pagehide by default");
 * ```
 */
export class GracefulShutdown extends CoreGracefulShutdown {
  constructor(options: GracefulShutdownOptions = {}) {
    super(
      typeof options === "object" && options !== null && !Array.isArray(options)
        ? { signalSource: browserSignals(), ...options }
        : options,
    );
  }
}
