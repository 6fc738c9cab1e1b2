// Shared circuit breakers reading records they cannot act on: a record of
// a format this release does not know (another state, a field of another
// type), as a later release or a foreign writer could leave under
// `breaker:<name>`. The instance goes on on its own state, as over no record.
import { describe, expect, it } from "vitest";
import { CircuitBreaker, type CircuitState, type Json, MemoryStore } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

/** A few macrotask turns: store promises (and their continuations) settle. */
async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

const boom = () => Promise.reject(new Error("down"));
const STATES: readonly CircuitState[] = ["closed", "open", "half-open", "forced-open", "disabled"];

describe("shared circuit breakers: records of an unknown format", () => {
  const foreign: [string, Record<string, Json>][] = [
    ["a state this release does not know", { state: "isolated" }],
    ["a state the store never holds", { state: "half-open" }],
    ["openings that are not a number", { state: "open", openedAt: 0, openings: "many" }],
  ];
  for (const [what, fields] of foreign) {
    it(`a record with ${what} is not adopted: the instance keeps its own state and recovers`, async () => {
      const clock = new ManualClock();
      const store = new MemoryStore({ clock });
      const make = () =>
        new CircuitBreaker({ name: "p", store, clock, maxFailures: 2, resetTimeoutMs: 10_000, refreshMs: 1_000, storeTimeoutMs: 500 });
      const tripper = make();
      const follower = make();
      await follower.execute(() => 1);
      await tripper.execute(boom).catch(() => {});
      await tripper.execute(boom).catch(() => {});
      await drain();
      await clock.advance(1_000);
      await follower.execute(() => 1).catch(() => {});
      await drain();
      expect(follower.state).toBe("open"); // the shared opening, adopted
      const record = (await store.get("breaker:p"))!.value as Record<string, Json>;
      await store.set("breaker:p", { ...record, seq: (record.seq as number) + 1, openedAt: null, ...fields });
      await clock.advance(1_000);
      await follower.execute(() => 1).catch(() => {});
      await drain();
      expect(STATES).toContain(follower.state);
      expect(follower.state).toBe("open");
      await clock.advance(10_000);
      expect(await follower.execute(() => "probe")).toBe("probe");
      expect(follower.state).toBe("closed");
    });
  }
});

describe("shared circuit breakers: a quorum between instances whose clocks disagree", () => {
  /** Two instances of one breaker with quorum 2, whose wall clocks are `skewMs` apart; advanced together. */
  function pair(skewMs: number) {
    const clock = new ManualClock();
    const skewed = new ManualClock({ wallNow: clock.wallNow() + skewMs });
    const store = new MemoryStore({ clock });
    const make = (on: ManualClock) =>
      new CircuitBreaker({ name: "q", store, clock: on, maxFailures: 1, resetTimeoutMs: 10_000, refreshMs: 1_000, quorum: 2, quorumWindowMs: 60_000 });
    const advance = async (ms: number) => {
      for (let left = ms; left > 0; left -= 1_000) {
        await clock.advance(Math.min(1_000, left));
        await skewed.advance(Math.min(1_000, left));
      }
    };
    return { store, onTime: make(clock), ahead: make(skewed), advance };
  }
  const state = async (store: MemoryStore) => ((await store.get("breaker:q"))?.value as { state: string } | undefined)?.state;

  it("a vote dated an hour ahead does not make a trip half an hour later a quorum", async () => {
    const { store, onTime, ahead, advance } = pair(3_600_000);
    await onTime.execute(() => 1);
    await ahead.execute(() => 1);
    await ahead.execute(boom).catch(() => {});
    await drain();
    expect(await state(store)).toBe("closed"); // one vote
    await advance(1_800_000);
    await onTime.execute(boom).catch(() => {});
    await drain();
    // Two trips half an hour apart are not two votes within quorumWindowMs.
    expect(await state(store)).toBe("closed");
  });

  it("two trips within the window still open it when the clocks are a few seconds apart", async () => {
    const { store, onTime, ahead } = pair(5_000);
    await onTime.execute(() => 1);
    await ahead.execute(() => 1);
    await ahead.execute(boom).catch(() => {});
    await drain();
    await onTime.execute(boom).catch(() => {});
    await drain();
    expect(await state(store)).toBe("open");
  });
});
