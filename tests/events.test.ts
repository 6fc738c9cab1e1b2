import { describe, expect, it } from "vitest";
import { Emitter, setListenerErrorHandler } from "../mod.ts";

describe("Emitter", () => {
  it("delivers payloads and unsubscribes", () => {
    const events = new Emitter<{ tick: number }>();
    const seen: number[] = [];
    const off = events.on("tick", (n) => seen.push(n));
    expect(events.has("tick")).toBe(true);
    events.emit("tick", 1);
    off();
    off();
    events.emit("tick", 2);
    expect(seen).toEqual([1]);
    expect(events.has("tick")).toBe(false);
  });

  it("reports a throwing listener and still calls the others", () => {
    const events = new Emitter<{ tick: number }>();
    const reported: Array<[unknown, string]> = [];
    const previous = setListenerErrorHandler((error, event) => reported.push([error, event]));
    try {
      const boom = new Error("listener bug");
      const seen: number[] = [];
      events.on("tick", () => { throw boom; });
      events.on("tick", (n) => seen.push(n));
      expect(() => events.emit("tick", 7)).not.toThrow();
      expect(seen).toEqual([7]);
      expect(reported).toEqual([[boom, "tick"]]);
    } finally {
      setListenerErrorHandler(previous);
    }
  });

  it("lets a listener unsubscribe itself while the event is being emitted", () => {
    const events = new Emitter<{ tick: number }>();
    const seen: string[] = [];
    const off = events.on("tick", () => { seen.push("a"); off(); });
    events.on("tick", () => seen.push("b"));
    events.emit("tick", 0);
    events.emit("tick", 0);
    expect(seen).toEqual(["a", "b", "b"]);
  });
});
