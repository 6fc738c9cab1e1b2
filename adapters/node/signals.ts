/**
 * Termination signals on Node and Bun: `process.on` / `process.off` and
 * `process.exit`. Bun implements the same API, so one source serves both.
 *
 * @module
 */
import process from "node:process";
import {
  GracefulShutdown as CoreGracefulShutdown,
  type GracefulShutdownOptions,
  type SignalHandler,
  type SignalSource,
} from "../../mod.ts";

/** The part of Node's `process` a {@link nodeSignals} source uses (tests pass their own). */
export interface NodeProcessLike {
  on(signal: string, listener: (signal: string) => void): unknown;
  off(signal: string, listener: (signal: string) => void): unknown;
  exit(code?: number): unknown;
}

/**
 * A {@link SignalSource} over Node's (or Bun's) `process`. `on()` adds one
 * listener beside any already there, and its remover takes off exactly that
 * one: once removed, `process.listeners(signal)` is what it was before, and
 * with no listener left the runtime's default (exit on `SIGTERM`) is back.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { nodeSignals } from "bulwark/node";
 * const before = process.listeners("SIGTERM");
 * const off = nodeSignals().on("SIGTERM", () => {});
 * off();
 * if (process.listeners("SIGTERM").length !== before.length) throw new Error("listener left behind");
 * ```
 */
export function nodeSignals(target: NodeProcessLike = process): SignalSource {
  return {
    name: "node",
    defaultSignals: ["SIGTERM", "SIGINT"],
    on(signal: string, handler: SignalHandler): () => void {
      const listener = (): void => handler(signal);
      target.on(signal, listener);
      let removed = false;
      return () => {
        if (removed) return;
        removed = true;
        target.off(signal, listener);
      };
    },
    exit(code: number): void {
      target.exit(code);
    },
  };
}

/**
 * {@link CoreGracefulShutdown | GracefulShutdown} with `signalSource`
 * defaulting to {@link nodeSignals} (Node and Bun).
 *
 * @example
 * ```ts
 * import { GracefulShutdown } from "bulwark/node";
 * const shutdown = new GracefulShutdown({ timeoutMs: 10_000 }).install();
 * const closed: string[] = [];
 * shutdown.register("db", async () => { closed.push("db"); }, { priority: 10 });
 * shutdown.uninstall();
 * ```
 */
export class GracefulShutdown extends CoreGracefulShutdown {
  constructor(options: GracefulShutdownOptions = {}) {
    super(isObject(options) ? { signalSource: nodeSignals(), ...options } : options);
  }
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
