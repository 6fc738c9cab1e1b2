import { describe, expect, it } from "vitest";
import { ManualClock } from "../src/testing/mod.ts";

describe("ManualClock", () => {
  it("fires sleeps in time order, each seeing its own due time", async () => {
    const clock = new ManualClock();
    const fired: Array<[string, number]> = [];
    clock.sleep(300).then(() => fired.push(["c", clock.now()]));
    clock.sleep(100).then(() => fired.push(["a", clock.now()]));
    clock.schedule(() => fired.push(["b", clock.now()]), 200);
    await clock.advance(250);
    expect(fired).toEqual([["a", 100], ["b", 200]]);
    expect(clock.now()).toBe(250);
    await clock.advance(50);
    expect(fired).toEqual([["a", 100], ["b", 200], ["c", 300]]);
  });

  it("fires timers scheduled by code resumed within the same advance", async () => {
    const clock = new ManualClock();
    const times: number[] = [];
    (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10);
        times.push(clock.now());
      }
    })();
    await clock.advance(100);
    expect(times).toEqual([10, 20, 30]);
  });

  it("keeps ties in scheduling order", async () => {
    const clock = new ManualClock();
    const order: number[] = [];
    for (let i = 0; i < 5; i++) clock.schedule(() => order.push(i), 10);
    await clock.advance(10);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it("cancels scheduled callbacks", async () => {
    const clock = new ManualClock();
    let fired = false;
    const cancel = clock.schedule(() => { fired = true; }, 10);
    expect(clock.pending).toBe(1);
    cancel();
    expect(clock.pending).toBe(0);
    await clock.advance(20);
    expect(fired).toBe(false);
  });

  it("rejects a sleep at once when its signal aborts, with the signal's reason", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const reason = new Error("stop");
    const sleeping = clock.sleep(1_000, controller.signal);
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(clock.pending).toBe(0);
    await expect(clock.sleep(1, controller.signal)).rejects.toBe(reason);
  });

  it("moves wall time with monotonic time, and apart with setWall", async () => {
    const clock = new ManualClock({ now: 5, wallNow: 1_000_000 });
    await clock.advance(10);
    expect(clock.now()).toBe(15);
    expect(clock.wallNow()).toBe(1_000_010);
    clock.setWall(42);
    expect(clock.now()).toBe(15);
    expect(clock.wallNow()).toBe(42);
    await clock.set(20);
    expect(clock.wallNow()).toBe(47);
  });

  it("refuses to go backwards or by a non-finite step", () => {
    const clock = new ManualClock({ now: 10 });
    expect(() => clock.set(5)).toThrow(RangeError);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
  });
});
