// Shared circuit breakers back from an idle spell, and a fresh isolate's
// first calls (issue 9: "every instance sees an open circuit within one
// refresh interval ... including a fresh isolate's very first call"), in
// both modes of the shared half: elsewhere, calls wait for one read; on
// Workers a request never waits on a read another request started, so each
// call that finds the state stale does its own. Every scenario runs in the
// runtime's own mode, and in the other one where `navigator.userAgent` can
// be made to say so (the mode is read when the breaker is built).
import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError, type CircuitStoreErrorEvent } from "../mod.ts";
import { FaultyStore } from "../src/testing/mod.ts";
import { boom, drain, fleet, ok } from "./_support/manual_fleet.ts";
import { onWorkersNow, withUserAgent } from "./_support/user_agent.ts";

const onWorkers = onWorkersNow();

/** `build()` run as on Workers or elsewhere; `undefined` where this runtime cannot be made to look like the other. */
function inMode<T>(workers: boolean, build: () => T): T | undefined {
  if (workers === onWorkers) return build();
  let built: T | undefined;
  return withUserAgent(workers ? "Cloudflare-Workers" : "bulwark-tests", () => void (built = build())) ? built : undefined;
}

/** Whether `promise` settles within a few turns, with no clock advanced: the call waited on no store I/O. */
async function settlesAtOnce(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true), () => (settled = true));
  await drain();
  return settled;
}

/** A fleet whose engine is behind a FaultyStore (counted by `store`). */
function faultyFleet() {
  let faulty: FaultyStore | undefined;
  const built = fleet({ storeTimeoutMs: 200 }, (inner, clock) => (faulty = new FaultyStore(inner, { clock, timeoutMs: 60_000 })));
  return { ...built, faulty: faulty! };
}

for (const workers of [false, true]) {
  const mode = workers ? "on Workers (each stale call reads for itself)" : "elsewhere (calls wait for one read)";

  describe(`shared circuit breakers back from idle, ${mode}`, () => {
    it("none of 50 concurrent calls reaches a dependency the fleet tripped while this instance was idle", async () => {
      const { clock, store, make } = fleet();
      const a = make();
      const b = inMode(workers, make);
      if (b === undefined) return;
      await a.execute(ok);
      await b.execute(ok);
      // B sits idle for several intervals (elsewhere its refresh timer stops), then A trips.
      await clock.advance(5_000);
      await drain();
      await a.execute(boom).catch(() => {});
      await drain();
      const reads = store.counts.get;
      let called = 0;
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, () => b.execute(() => called++).catch((error: unknown) => error)),
      );
      expect(called).toBe(0);
      for (const outcome of outcomes) expect(outcome).toBeInstanceOf(CircuitOpenError);
      expect(b.state).toBe("open");
      // Elsewhere one read, which every call waited for; on Workers one per call that arrived before a read answered.
      expect(store.counts.get - reads).toBe(workers ? 50 : 1);
      // Caught up: the next calls wait for nothing and read nothing until the next interval.
      expect(await settlesAtOnce(b.execute(ok))).toBe(true);
      await clock.advance(999);
      expect(await settlesAtOnce(b.execute(ok))).toBe(true);
      expect(store.counts.get - reads).toBe(workers ? 50 : 1);
    });

    it("a fresh instance: none of 50 concurrent first calls reaches a dependency the shared circuit holds open", async () => {
      const { store, make } = fleet();
      const a = make();
      await a.execute(boom).catch(() => {});
      await drain();
      const fresh = inMode(workers, make);
      if (fresh === undefined) return;
      const reads = store.counts.get;
      let called = 0;
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, () => fresh.execute(() => called++).catch((error: unknown) => error)),
      );
      expect(called).toBe(0);
      for (const outcome of outcomes) expect(outcome).toBeInstanceOf(CircuitOpenError);
      expect(store.counts.get - reads).toBe(workers ? 50 : 1);
    });

    it("a busy instance (a call within every interval) reads at most once per refreshMs, and no call waits for a read", async () => {
      const { clock, store, make, faulty } = faultyFleet();
      const b = inMode(workers, make);
      if (b === undefined) return;
      await b.execute(ok);
      const reads = store.counts.get;
      // Every read takes 150 of the 200 ms the breaker allows; calls come 900 ms apart, then 100 ms apart.
      faulty.inject("get", { kind: "late", delayMs: 150 });
      const start = clock.now();
      for (const gapMs of [900, 100]) {
        for (let i = 0; i < 20; i++) {
          await clock.advance(gapMs);
          expect(await settlesAtOnce(b.execute(ok))).toBe(true);
        }
      }
      await clock.advance(150);
      await drain();
      const intervals = (clock.now() - start) / 1_000;
      expect(store.counts.get - reads).toBeLessThanOrEqual(Math.ceil(intervals));
      // Still reading: on Workers, with calls 900 ms apart, a read is due at every other call.
      expect(store.counts.get - reads).toBeGreaterThanOrEqual(Math.floor(intervals / 2));
    });

    it("a store that fails or hangs is not waited on by every call: after a read that failed or timed out, calls run at once", async () => {
      const { clock, store, make, faulty } = faultyFleet();
      const b = inMode(workers, make);
      if (b === undefined) return;
      const errors: CircuitStoreErrorEvent[] = [];
      b.on("storeError", (event) => errors.push(event));
      await b.execute(ok);
      await clock.advance(5_000);
      await drain();
      faulty.inject("get", { kind: "hang" });
      // Back from idle, the first call waits for its read, bounded by storeTimeoutMs (200 ms).
      const first = b.execute(ok);
      expect(await settlesAtOnce(first)).toBe(false);
      await clock.advance(200);
      expect(await first).toBe("ok");
      expect(errors.map((event) => event.operation)).toEqual(["read"]);
      // From then on, while the store still hangs: no call waits, and reads stay one per interval.
      const reads = store.counts.get;
      for (let i = 0; i < 50; i++) {
        await clock.advance(100);
        expect(await settlesAtOnce(b.execute(ok))).toBe(true);
      }
      expect(store.counts.get - reads).toBeLessThanOrEqual(5);
      // Idle again: the last read failed, so the call back does not wait either.
      await clock.advance(5_000);
      await drain();
      expect(await settlesAtOnce(b.execute(ok))).toBe(true);
      await clock.advance(200);
      await drain();
      // Once the store answers again, a read catches the instance up at the next interval.
      faulty.inject("get", undefined);
      const a = make();
      await a.execute(boom).catch(() => {});
      await drain();
      await clock.advance(1_000);
      await b.execute(ok).catch(() => {});
      await drain();
      let called = 0;
      expect(await b.execute(() => called++).catch((error: unknown) => error)).toBeInstanceOf(CircuitOpenError);
      expect(called).toBe(0);
    });
  });
}
