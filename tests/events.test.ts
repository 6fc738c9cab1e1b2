import { describe, expect, it } from "vitest";
import { CircuitBreaker, type CircuitStateChange, Emitter, InvalidArgumentError, setListenerErrorHandler } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { thrown } from "./_support/thrown.ts";

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

  it("delivers an event emitted by a listener after every listener has seen the current one", () => {
    const events = new Emitter<{ tick: number; tock: number }>();
    const seen: string[] = [];
    events.on("tick", (n) => {
      seen.push(`a:tick${n}`);
      if (n === 1) {
        events.emit("tick", 2);
        events.emit("tock", 1);
      }
    });
    events.on("tick", (n) => seen.push(`b:tick${n}`));
    events.on("tock", (n) => seen.push(`c:tock${n}`));
    events.emit("tick", 1);
    expect(seen).toEqual(["a:tick1", "b:tick1", "a:tick2", "b:tick2", "c:tock1"]);
    // The queue is empty again: later emissions are delivered at once.
    events.emit("tock", 2);
    expect(seen.at(-1)).toBe("c:tock2");
  });
});

describe("setListenerErrorHandler", () => {
  it("refuses a handler that is not a function, and keeps the current one", () => {
    const reported: unknown[] = [];
    const previous = setListenerErrorHandler((error) => reported.push(error));
    try {
      for (const junk of ["x", 42, null, undefined, {}]) {
        const error = thrown(() => setListenerErrorHandler(junk as never));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).code).toBe("ERR_INVALID_ARGUMENT");
        expect((error as Error).message).toContain("'handler'");
      }
      const events = new Emitter<{ tick: number }>();
      const boom = new Error("listener bug");
      events.on("tick", () => { throw boom; });
      events.emit("tick", 1);
      expect(reported).toEqual([boom]);
    } finally {
      setListenerErrorHandler(previous);
    }
  });
});

describe("circuit breaker events in causal order", () => {
  it("a reset() from an open listener: every later listener sees open, then close", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1, clock: new ManualClock() });
    const seen: string[][] = [[], []];
    const record = (i: number) => (change: CircuitStateChange) => seen[i]!.push(`${change.from}->${change.to}`);
    breaker.on("open", () => breaker.reset());
    breaker.on("open", record(0));
    breaker.on("close", record(0));
    breaker.on("stateChange", record(1));
    await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => {});
    expect(seen[0]).toEqual(["closed->open", "open->closed"]);
    expect(seen[1]).toEqual(["closed->open", "open->closed"]);
    expect(breaker.state).toBe("closed");
  });

  it("a reset() from a stateChange listener: open and close listeners see open first", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1, clock: new ManualClock() });
    const seen: string[] = [];
    breaker.on("stateChange", (change) => {
      seen.push(`stateChange ${change.to}`);
      if (change.to === "open") breaker.reset();
    });
    breaker.on("open", () => seen.push("open"));
    breaker.on("close", () => seen.push("close"));
    await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => {});
    expect(seen).toEqual(["stateChange open", "open", "stateChange closed", "close"]);
  });
});
