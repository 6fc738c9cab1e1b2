// The browser signal source on a real page (Chromium).
import { describe, expect, it } from "vitest";
import { browserSignals, GracefulShutdown } from "../adapters/browser/mod.ts";

describe("browserSignals", () => {
  it("pagehide runs the shutdown; nothing exits; uninstall removes the listener", async () => {
    const ran: string[] = [];
    const shutdown = new GracefulShutdown().install();
    shutdown.register("save", () => void ran.push("save"));
    expect(browserSignals().exit).toBeUndefined();
    const done = new Promise((resolve) => shutdown.on("done", resolve));
    window.dispatchEvent(new Event("pagehide"));
    await done;
    expect(ran).toEqual(["save"]);
    shutdown.uninstall();
    const again = new GracefulShutdown().install();
    again.uninstall();
    window.dispatchEvent(new Event("pagehide"));
    expect(again.isShuttingDown).toBe(false);
  });

  it("visibilitychange counts only when the page turns hidden", () => {
    const listeners = new Map<string, () => void>();
    const page = {
      addEventListener: (type: string, listener: () => void) => void listeners.set(type, listener),
      removeEventListener: (type: string) => void listeners.delete(type),
      document: { visibilityState: "visible" },
    };
    const seen: string[] = [];
    const off = browserSignals(page).on("visibilitychange", (signal) => void seen.push(signal));
    listeners.get("visibilitychange")!();
    page.document.visibilityState = "hidden";
    listeners.get("visibilitychange")!();
    off();
    expect(seen).toEqual(["visibilitychange"]);
    expect(listeners.size).toBe(0);
  });

  it("refuses process signals", () => {
    expect(() => browserSignals().on("SIGTERM", () => {})).toThrow(/pagehide/);
    expect(() => new GracefulShutdown({ signals: ["SIGTERM"] }).install()).toThrow(/pagehide/);
  });
});
