/**
 * Termination signals on Deno: `Deno.addSignalListener` /
 * `Deno.removeSignalListener` and `Deno.exit`.
 *
 * @module
 */
import {
  GracefulShutdown as CoreGracefulShutdown,
  type GracefulShutdownOptions,
  type SignalHandler,
  type SignalSource,
} from "../../mod.ts";

/** The part of the `Deno` namespace a {@link denoSignals} source uses (tests pass their own). */
export interface DenoLike {
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
  exit(code?: number): unknown;
}

function runtimeDeno(): DenoLike {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno === undefined) throw new Error("denoSignals(): this is not Deno (no Deno global); use nodeSignals() from bulwark/node");
  return deno;
}

/**
 * A {@link SignalSource} over Deno's signal listeners. `on()` adds one
 * listener beside any already there; its remover takes off exactly that
 * one. Deno refuses a signal it does not know (or, on Windows, anything but
 * `SIGINT` and `SIGBREAK`): `GracefulShutdown.install()` then throws and
 * leaves nothing installed.
 *
 * @example
 * ```ts
 * import { denoSignals } from "bulwark/deno";
 * const off = denoSignals().on("SIGTERM", () => {});
 * off();
 * ```
 */
export function denoSignals(deno: DenoLike = runtimeDeno()): SignalSource {
  return {
    name: "deno",
    defaultSignals: ["SIGTERM", "SIGINT"],
    on(signal: string, handler: SignalHandler): () => void {
      const listener = (): void => handler(signal);
      deno.addSignalListener(signal, listener);
      let removed = false;
      return () => {
        if (removed) return;
        removed = true;
        deno.removeSignalListener(signal, listener);
      };
    },
    exit(code: number): void {
      deno.exit(code);
    },
  };
}

/**
 * {@link CoreGracefulShutdown | GracefulShutdown} with `signalSource`
 * defaulting to {@link denoSignals}.
 *
 * @example
 * ```ts
 * import { GracefulShutdown } from "bulwark/deno";
 * const shutdown = new GracefulShutdown({ timeoutMs: 10_000 }).install();
 * shutdown.register("kv", () => {});
 * shutdown.uninstall();
 * ```
 */
export class GracefulShutdown extends CoreGracefulShutdown {
  constructor(options: GracefulShutdownOptions = {}) {
    super(
      typeof options === "object" && options !== null && !Array.isArray(options)
        ? { signalSource: denoSignals(), ...options }
        : options,
    );
  }
}
