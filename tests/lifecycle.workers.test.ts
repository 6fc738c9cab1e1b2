// Cloudflare Workers have no termination signals.
import { describe, expect, it } from "vitest";
import { GracefulShutdown, Heartbeat, MemoryStore, ShutdownUnsupportedError, type SignalSource } from "../mod.ts";

describe("lifecycle on Workers", () => {
  it("constructing a GracefulShutdown without a signal source throws ShutdownUnsupportedError naming ctx.waitUntil", () => {
    let caught: unknown;
    try {
      new GracefulShutdown();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ShutdownUnsupportedError);
    expect((caught as Error).message).toContain("ctx.waitUntil");
    expect((caught as Error).message).toContain("Durable Object alarms");
  });

  it("with an explicit signal source it works, and trigger() runs the callbacks", async () => {
    const source: SignalSource = { name: "host", on: () => () => {} };
    const shutdown = new GracefulShutdown({ signalSource: source }).install();
    const ran: string[] = [];
    shutdown.register("flush", () => void ran.push("flush"));
    expect((await shutdown.trigger()).ran).toEqual(["flush"]);
    expect(ran).toEqual(["flush"]);
    shutdown.uninstall();
  });

  it("a heartbeat beats into any store; no pid or host name here", async () => {
    const store = new MemoryStore();
    const state = await new Heartbeat({ store }).beat();
    expect(state.pid).toBeNull();
    expect(await Heartbeat.isAlive(store, 30_000)).toBe(true);
  });
});
