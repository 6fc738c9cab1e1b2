// The Node/Bun signal source against the real `process` (also on Deno,
// whose node:process maps signals to Deno's listeners), and its
// GracefulShutdown defaulting to it.
import process from "node:process";
import { describe, expect, it } from "vitest";
import { GracefulShutdown, type NodeProcessLike, nodeSignals } from "../adapters/node/mod.ts";
import { GracefulShutdown as CoreGracefulShutdown, InvalidArgumentError } from "../mod.ts";

describe("nodeSignals", () => {
  it("install/uninstall leaves process.listeners exactly as before, previous listeners kept in order", () => {
    const previous = () => {};
    process.on("SIGTERM", previous);
    try {
      const before = { term: process.listeners("SIGTERM"), int: process.listeners("SIGINT") };
      const shutdown = new GracefulShutdown().install();
      expect(process.listeners("SIGTERM").length).toBe(before.term.length + 1);
      expect(process.listeners("SIGINT").length).toBe(before.int.length + 1);
      shutdown.uninstall();
      expect(process.listeners("SIGTERM")).toEqual(before.term);
      expect(process.listeners("SIGINT")).toEqual(before.int);
    } finally {
      process.off("SIGTERM", previous);
    }
  });

  it("delivers the signal's name and exits through the process it was given", () => {
    const listeners = new Map<string, (signal: string) => void>();
    const exits: number[] = [];
    const fake: NodeProcessLike = {
      on: (signal, listener) => listeners.set(signal, listener),
      off: (signal) => listeners.delete(signal),
      exit: (code) => exits.push(code ?? -1),
    };
    const source = nodeSignals(fake);
    let seen = "";
    const off = source.on("SIGHUP", (signal) => (seen = signal));
    listeners.get("SIGHUP")!("SIGHUP");
    off();
    off();
    source.exit!(4);
    expect(seen).toBe("SIGHUP");
    expect(listeners.size).toBe(0);
    expect(exits).toEqual([4]);
  });

  it("GracefulShutdown from bulwark/node is the core class with the process's signals", () => {
    const shutdown = new GracefulShutdown({ signals: ["SIGUSR2"] });
    expect(shutdown).toBeInstanceOf(CoreGracefulShutdown);
    expect(shutdown.signals).toEqual(["SIGUSR2"]);
    expect(() => new GracefulShutdown(7 as never)).toThrow(InvalidArgumentError);
  });
});
