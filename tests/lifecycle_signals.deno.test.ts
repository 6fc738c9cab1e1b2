// Deno's signal source, against a fake Deno namespace and the real one.
import { describe, expect, it } from "vitest";
import { type DenoLike, denoSignals, GracefulShutdown } from "../adapters/deno/mod.ts";
import { ShutdownError } from "../mod.ts";

describe("denoSignals", () => {
  it("adds and removes exactly its own listener, and exits through Deno.exit", () => {
    const listeners = new Map<string, Set<() => void>>();
    const exits: number[] = [];
    const fake: DenoLike = {
      addSignalListener: (signal, handler) => void listeners.set(signal, (listeners.get(signal) ?? new Set()).add(handler)),
      removeSignalListener: (signal, handler) => void listeners.get(signal)?.delete(handler),
      exit: (code) => exits.push(code ?? -1),
    };
    const other = () => {};
    fake.addSignalListener("SIGTERM", other);
    const shutdown = new GracefulShutdown({ signalSource: denoSignals(fake) }).install();
    expect(listeners.get("SIGTERM")!.size).toBe(2);
    const ran: string[] = [];
    shutdown.register("x", () => void ran.push("x"));
    shutdown.uninstall();
    expect([...listeners.get("SIGTERM")!]).toEqual([other]);
    expect(listeners.get("SIGINT")!.size).toBe(0);
    denoSignals(fake).exit!(2);
    expect(exits).toEqual([2]);
  });

  it("on the real Deno: installs and uninstalls; an unknown signal is refused and nothing stays installed", () => {
    const shutdown = new GracefulShutdown().install();
    shutdown.uninstall();
    const bad = new GracefulShutdown({ signals: ["SIGTERM", "SIGNOTHING"] });
    expect(() => bad.install()).toThrow(ShutdownError);
    expect(bad.isInstalled).toBe(false);
  });
});
