import process from "node:process";
import { describe, expect, it } from "vitest";
import { Bulkhead, chaos, RetryPolicy, systemClock, TimeoutPolicy } from "../mod.ts";
import { MAX_TIMER_MS, scheduleTimer } from "../src/internal/timer.ts";
import { outcome } from "./_support/promises.ts";

// Real time, unlike the rest of the suite: what is checked is the runtime's
// own timers, which overflow past 2³¹−1 ms and fire after about 1 ms. The
// file waits about 0.3 s in all.

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Timers keeping the process alive, where the runtime reports them (Node and Deno do, Bun does not). */
function activeTimers(): number | undefined {
  const count = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  const before = count();
  const probe = setTimeout(() => {}, 1_000);
  const reports = count() === before + 1;
  clearTimeout(probe);
  return reports ? count() : undefined;
}

describe("systemClock with delays past 2^31-1 ms", () => {
  it("fires nothing early, keeps one timer each while armed, and leaves none once cancelled", async () => {
    const baseline = activeTimers();
    const fired: number[] = [];
    const cancels = [2 ** 31, 2 ** 32, MAX_TIMER_MS + 1].map((ms) => systemClock.schedule(() => fired.push(ms), ms));
    if (baseline !== undefined) expect(activeTimers()).toBe(baseline + 3);
    await sleep(50);
    expect(fired).toEqual([]);
    const armed = activeTimers();
    for (const cancel of cancels) cancel();
    if (armed !== undefined) expect(activeTimers()).toBe(armed - 3);
  });

  it("sets no timer for Infinity", () => {
    const baseline = activeTimers();
    let fired = false;
    const cancel = systemClock.schedule(() => (fired = true), Infinity);
    if (baseline !== undefined) expect(activeTimers()).toBe(baseline);
    cancel();
    expect(fired).toBe(false);
  });

  it("lets every policy wait past 2^31-1 ms without firing early", async () => {
    const controller = new AbortController();
    const { signal } = controller;

    const timeout = outcome(
      new TimeoutPolicy({ timeoutMs: 2 ** 31, strategy: "aggressive" }).execute(() => sleep(40).then(() => "in time")),
    );
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 2 ** 32 });
    let release = (): void => {};
    void bulkhead.execute(() => new Promise<void>((resolve) => (release = resolve)));
    const queued = outcome(bulkhead.execute(async () => "queued ran"));
    let attempts = 0;
    const retried = outcome(
      new RetryPolicy({ maxAttempts: 2, baseDelayMs: 3e9, maxDelayMs: 1e10, jitter: "none" }).execute(() => {
        attempts++;
        return Promise.reject(new Error("flaky"));
      }, signal),
    );
    let chaosRan = false;
    const delayed = outcome(chaos({ latencyMs: 3e9 }).execute(async () => (chaosRan = true), signal));

    await sleep(60);
    expect(timeout.value).toBe("in time");
    expect(queued.settled).toBe(false);
    expect(attempts).toBe(1);
    expect(retried.settled).toBe(false);
    expect(chaosRan).toBe(false);

    // Armed now: the queue timeout, the retry's and the chaos latency's
    // sleeps (the timeout's deadline left when its call settled).
    const armed = activeTimers();
    release();
    controller.abort(new Error("done"));
    for (let i = 0; i < 20; i++) await undefined;
    expect(queued.value).toBe("queued ran");
    expect((retried.error as Error).message).toBe("done");
    expect((delayed.error as Error).message).toBe("done");
    if (armed !== undefined) expect(activeTimers()).toBe(armed - 3);
  });
});

describe("scheduleTimer never fires early by its own clock", () => {
  it("re-arms when the runtime's timer fires before `now` has moved by ms, and is cancellable meanwhile", async () => {
    // A clock that reads 0 when the timer first fires (10 ms early), as a
    // runtime's whole-ms timer may fire a hair before performance.now() has
    // moved by the delay: the callback must wait for the clock.
    let reads = 0;
    const lagging = (): number => {
      reads++;
      return reads === 2 ? 0 : reads === 1 ? 0 : 10;
    };
    let fired = 0;
    await new Promise<void>((resolve) => {
      scheduleTimer(() => {
        fired++;
        resolve();
      }, 10, lagging);
    });
    expect(fired).toBe(1);
    expect(reads).toBe(3); // armed, fired early (re-armed), fired on time

    reads = 0;
    let early = false;
    const cancel = scheduleTimer(() => (early = true), 10, () => (reads++ === 0 ? 0 : 5));
    while (reads < 2) await sleep(5);
    cancel();
    await sleep(30);
    expect(early).toBe(false);
  });
});

describe("scheduleTimer's chunks (a small chunk size injected)", () => {
  /** A monotonic `now` that counts its reads: one when armed, one at each re-arm. */
  function countingNow(): { now: () => number; reads: () => number } {
    let reads = 0;
    return {
      now: () => {
        reads++;
        return performance.now();
      },
      reads: () => reads,
    };
  }

  it("re-arms chunk after chunk and fires once the whole delay has passed", async () => {
    const clock = countingNow();
    const started = performance.now();
    const firedAfter = await new Promise<number>((resolve) => {
      scheduleTimer(() => resolve(performance.now() - started), 60, clock.now, 20);
    });
    expect(firedAfter).toBeGreaterThanOrEqual(59);
    expect(clock.reads()).toBeGreaterThanOrEqual(2);
  });

  it("cancels across a chunk boundary and leaves no timer", async () => {
    const clock = countingNow();
    let fired = false;
    const cancel = scheduleTimer(() => (fired = true), 300, clock.now, 20);
    while (clock.reads() < 2) await sleep(5);
    const armed = activeTimers();
    cancel();
    if (armed !== undefined) expect(activeTimers()).toBe(armed - 1);
    const readsAtCancel = clock.reads();
    await sleep(350);
    expect(fired).toBe(false);
    expect(clock.reads()).toBe(readsAtCancel);
  });
});
