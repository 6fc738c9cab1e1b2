// Shared circuit breakers (issue 9): an operator's override (`forceOpen()`,
// `disable()`) survives the store losing it, and a fleet in the middle of a
// rolling deploy (instances of the previous release, which wrote records
// without a generation, beside this one) converges without a write loop.
// ManualClock, MemoryStore (the engine the other shared tests that run on
// every runtime use), one `CircuitBreaker` per instance of the fleet.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker, type CircuitBreakerOptions, CircuitOpenError, type Json, type SharedCircuitRecord, type Store } from "../mod.ts";
import { isLaterManual } from "../src/breaker/shared.ts";
import { FaultyStore, type ManualClock } from "../src/testing/mod.ts";
import { boom, drain, eventual, fleet as baseFleet, KEY, ok } from "./_support/manual_fleet.ts";
import { onWorkersNow, withUserAgent } from "./_support/user_agent.ts";

const onWorkers = onWorkersNow();

/** With `consistency: "eventual"`, the store declares it (as KV does): reads may be stale for up to 60 s. */
function fleet(options: Partial<CircuitBreakerOptions<never>> = {}, consistency: "strong" | "eventual" = "strong") {
  // Reads can be switched to stale (one write behind, as KV answers) on an eventual store: `faulty.inject("get", { kind: "stale" })`.
  let faulty!: FaultyStore;
  const base = baseFleet(options, (inner, clock) => {
    faulty = new FaultyStore(inner, { clock });
    return consistency === "eventual" ? eventual(faulty) : faulty;
  });
  const { clock, inner } = base;
  /**
   * An instance of the previous release (before generations: src/breaker/shared.ts at 48eed75) writes:
   * its record is `{ v, seq, by, state, openedAt, openPeriodMs, openings, votes }` (no `gen`, `genAt`,
   * `manual`), compare-and-set over what it read, `seq` one above it (or above the highest it saw).
   * `trip` writes only over a closed record or none (its mergeShared); `manual` writes over anything.
   * `via`: the store it writes through (the engine; `faulty` to put the write in the history stale reads answer from).
   */
  const old = async (
    kind: "trip" | "manual",
    state: "open" | "closed" | "forced-open" | "disabled",
    seqAtLeast = 0,
    via: Store = inner,
  ): Promise<boolean> => {
    const current = await inner.get(KEY);
    const value = current?.value as unknown as SharedCircuitRecord | undefined;
    if (kind === "trip" && value !== undefined && value.state !== "closed") return false;
    const open = state === "open" || state === "forced-open";
    const written = {
      v: 1,
      seq: Math.max((value?.seq ?? 0) + 1, seqAtLeast),
      by: "old-release",
      state,
      openedAt: open ? clock.wallNow() : null,
      openPeriodMs: options.resetTimeoutMs ?? 10_000,
      openings: state === "open" ? 1 : 0,
      votes: [],
    };
    return (await via.compareAndSet(KEY, current?.version, written as Json)).ok;
  };
  return { ...base, faulty, old };
}

/** A call after the refresh interval: starts the background read that lands (with any write it causes) before the next call. */
async function refresh(clock: ManualClock, ...breakers: CircuitBreaker[]): Promise<void> {
  await clock.advance(1_000);
  for (const breaker of breakers) await breaker.execute(ok).catch(() => {});
  await drain();
}

async function refused(breaker: CircuitBreaker): Promise<boolean> {
  let called = 0;
  const error = await breaker.execute(() => called++).catch((error: unknown) => error);
  return error instanceof CircuitOpenError && called === 0;
}

describe("shared circuit breakers: an override survives the store losing it", () => {
  it("forceOpen(): the store loses it; the next read of the instance that set it writes it again, and a brand-new instance refuses from its first call", async () => {
    const { clock, make, record, wipe } = fleet();
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    a.forceOpen();
    await drain();
    const set = (await record())!;
    expect(set).toMatchObject({ state: "forced-open", manual: { state: "forced-open" } });
    await wipe();
    await refresh(clock, a);
    const again = (await record())!;
    expect(again).toMatchObject({ state: "forced-open", manual: set.manual });
    // Written over nothing: a new generation, later than the lost one.
    expect(again.gen).not.toBe(set.gen);
    expect(again.genAt).toBeGreaterThan(set.genAt!);
    expect(await refused(make())).toBe(true);
    await refresh(clock, b);
    expect(b.state).toBe("forced-open");
  });

  it("an instance that only learned the override writes it again (the one that set it is gone)", async () => {
    const { clock, make, record, wipe } = fleet();
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    a.disable();
    await drain();
    await refresh(clock, b);
    expect(b.state).toBe("disabled");
    await wipe();
    await refresh(clock, b);
    expect(await record()).toMatchObject({ state: "disabled" });
    const fresh = make();
    await fresh.execute(boom).catch(() => {});
    expect(fresh.state).toBe("disabled");
  });

  it("disable(): a brand-new instance's opening in a new generation does not erase it: written over within one refresh, and everyone ends disabled", async () => {
    const { clock, make, record, wipe } = fleet();
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    a.disable();
    await drain();
    await refresh(clock, b);
    await wipe();
    const fresh = make();
    await fresh.execute(boom).catch(() => {});
    await drain();
    const opened = (await record())!;
    expect(opened.state).toBe("open");
    expect(opened.manual).toBeUndefined();
    await refresh(clock, a, b);
    const back = (await record())!;
    expect(back).toMatchObject({ gen: opened.gen, state: "disabled" });
    await refresh(clock, fresh);
    expect([a.state, b.state, fresh.state]).toEqual(["disabled", "disabled", "disabled"]);
  });

  it("reset() still clears an override fleet-wide, before a loss and after one, and nobody writes it back", async () => {
    const { clock, store, make, record, wipe } = fleet();
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    a.forceOpen();
    await drain();
    await refresh(clock, b);
    await wipe();
    // B resets over the lost store: a new generation whose manual action (the reset) is later than the override.
    b.reset();
    await drain();
    expect(await record()).toMatchObject({ state: "closed", manual: { state: "closed" } });
    await refresh(clock, a, b);
    expect(a.state).toBe("closed");
    store.reset();
    for (let round = 0; round < 3; round++) await refresh(clock, a, b);
    expect(store.counts.compareAndSet + store.counts.insertIfAbsent).toBe(0);
    expect((await record())!.state).toBe("closed");
    // And without a loss.
    a.disable();
    await drain();
    await refresh(clock, b);
    expect(b.state).toBe("disabled");
    a.reset();
    await drain();
    await refresh(clock, b);
    expect(b.state).toBe("closed");
  });

  it("an override held through ten refreshes of an intact store writes nothing (only reads, one per interval)", async () => {
    const { clock, store, make } = fleet();
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    a.forceOpen();
    await drain();
    await refresh(clock, b);
    store.reset();
    for (let round = 0; round < 10; round++) await refresh(clock, a, b);
    expect(store.counts.compareAndSet + store.counts.insertIfAbsent + store.counts.set).toBe(0);
    expect(store.counts.get).toBeLessThanOrEqual(20);
  });

  it("two operators' conflicting overrides: the later action wins on every instance whichever is written first, and stays the winner after a loss", async () => {
    const { clock, store, make, record, wipe } = fleet();
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    a.forceOpen();
    await clock.advance(1);
    b.disable(); // the later one; both writes race on the same record
    await drain();
    for (let round = 0; round < 2; round++) await refresh(clock, a, b);
    expect([a.state, b.state, (await record())!.state]).toEqual(["disabled", "disabled", "disabled"]);
    // The store loses it; both write it again at once: still the later one.
    await wipe();
    await refresh(clock, a, b);
    await refresh(clock, a, b);
    expect([a.state, b.state, (await record())!.state]).toEqual(["disabled", "disabled", "disabled"]);
    store.reset();
    for (let round = 0; round < 3; round++) await refresh(clock, a, b);
    expect(store.counts.compareAndSet).toBe(0);
  });

  it("two overrides in the same ms from instances that had not seen each other: forced-open wins, whichever is written first", async () => {
    for (const first of ["forceOpen", "disable"] as const) {
      const { clock, make, record } = fleet();
      const [a, b] = [make(), make()];
      await a.execute(ok);
      await b.execute(ok);
      if (first === "forceOpen") {
        a.forceOpen();
        b.disable();
      } else {
        b.disable();
        a.forceOpen();
      }
      await drain();
      for (let round = 0; round < 2; round++) await refresh(clock, a, b);
      expect([a.state, b.state, (await record())!.state]).toEqual(["forced-open", "forced-open", "forced-open"]);
    }
  });

  it("isLaterManual: a strict total order (the later action; at the same ms forced-open, disabled, then a reset)", () => {
    const action = fc.record({ at: fc.integer({ min: 0, max: 3 }), state: fc.constantFrom("forced-open", "disabled", "closed") as fc.Arbitrary<"forced-open" | "disabled" | "closed"> });
    fc.assert(
      fc.property(action, action, action, (x, y, z) => {
        expect(isLaterManual(x, x)).toBe(false);
        const same = x.at === y.at && x.state === y.state;
        if (!same) expect(isLaterManual(x, y)).not.toBe(isLaterManual(y, x));
        if (isLaterManual(x, y) && isLaterManual(y, z)) expect(isLaterManual(x, z)).toBe(true);
        expect(isLaterManual(x, undefined)).toBe(true);
      }),
    );
  });
});

describe("shared circuit breakers: a rolling deploy (records of the previous release, without a generation)", () => {
  /** Both new instances on a generation, `seq` 2 (an opening and its recovery). */
  async function onGeneration(clock: ManualClock, a: CircuitBreaker, b: CircuitBreaker) {
    await a.execute(ok);
    await b.execute(ok);
    await a.execute(boom).catch(() => {});
    await drain();
    await clock.advance(10_000);
    expect(await a.execute(ok)).toBe("ok");
    await drain();
    await refresh(clock, b);
  }

  it("an opening an old instance writes over a generation is adopted by the new instances within one refresh; its recovery too; nobody writes back", async () => {
    const { clock, store, make, record, old } = fleet();
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    const { gen, seq } = (await record())!;
    expect(gen).toBeDefined();
    store.reset();
    expect(await old("trip", "open")).toBe(true);
    expect((await record())!.gen).toBeUndefined();
    await refresh(clock, a, b);
    expect(await refused(a)).toBe(true);
    expect(await refused(b)).toBe(true);
    // The old instance's probe succeeds (its recover: seq one above).
    expect(await old("manual", "closed")).toBe(true);
    await refresh(clock, a, b);
    expect([a.state, b.state]).toEqual(["closed", "closed"]);
    for (let round = 0; round < 3; round++) await refresh(clock, a, b);
    expect(store.counts.compareAndSet + store.counts.insertIfAbsent).toBe(0);
    // A new instance writes next: the generation comes back, counting on.
    await a.execute(boom).catch(() => {});
    await drain();
    expect(await record()).toMatchObject({ gen, seq: seq + 3, state: "open" });
  });

  it("an old instance's forceOpen() over a generation reaches the new instances, and its reset() clears it; no write loop", async () => {
    const { clock, store, make, old } = fleet();
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    store.reset();
    await old("manual", "forced-open");
    await refresh(clock, a, b);
    expect([a.state, b.state]).toEqual(["forced-open", "forced-open"]);
    await old("manual", "closed");
    await refresh(clock, a, b);
    expect([a.state, b.state]).toEqual(["closed", "closed"]);
    for (let round = 0; round < 3; round++) await refresh(clock, a, b);
    expect(store.counts.compareAndSet + store.counts.insertIfAbsent).toBe(0);
  });

  it("a stale read (eventual store) of a previous-release record below the generation is ignored", async () => {
    const { clock, faulty, make, record, old } = fleet({}, "eventual");
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    // An old instance's opening over the generation (seq 3), written where stale reads answer from.
    expect(await old("trip", "open", 0, faulty)).toBe(true);
    await refresh(clock, a, b);
    expect([a.state, b.state]).toEqual(["open", "open"]);
    await clock.advance(10_000);
    expect(await a.execute(ok)).toBe("ok");
    await drain();
    await refresh(clock, b);
    expect(await record()).toMatchObject({ seq: 4, state: "closed" });
    expect(b.state).toBe("closed");
    // From now on reads answer one write behind: the old opening, seq 3, below the 4 both saw.
    faulty.inject("get", { kind: "stale" });
    for (let round = 0; round < 10; round++) {
      await refresh(clock, a, b);
      expect([a.state, b.state]).toEqual(["closed", "closed"]);
    }
  });

  it("an old instance's forceOpen() over a store that lost its data, at a seq below the generation's, is adopted within one refresh; its reset() too; no write loop", async () => {
    // The convergence property's counterexample (a trip, reset(), the store wiped, an old forceOpen() at seq 1):
    // the store said forced open and the new instances stayed closed, taking it for a stale read.
    const { clock, store, make, record, wipe, old } = fleet();
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    await wipe();
    // An old instance that saw nothing of the history: seq 1.
    expect(await old("manual", "forced-open")).toBe(true);
    expect(await record()).toMatchObject({ seq: 1, state: "forced-open" });
    await refresh(clock, a, b);
    expect([a.state, b.state]).toEqual(["forced-open", "forced-open"]);
    expect(await refused(a)).toBe(true);
    expect(await refused(make())).toBe(true);
    expect(await old("manual", "closed")).toBe(true);
    await refresh(clock, a, b);
    expect([a.state, b.state]).toEqual(["closed", "closed"]);
    store.reset();
    for (let round = 0; round < 3; round++) await refresh(clock, a, b);
    expect(store.counts.compareAndSet + store.counts.insertIfAbsent).toBe(0);
    expect(await record()).toMatchObject({ seq: 2, state: "closed", by: "old-release" });
  });

  it("an old instance's trip over a store that lost its data, at a seq below the generation's: refused within one refresh; the new prober's recovery counts above every seq seen, in the old format", async () => {
    const { clock, store, make, record, wipe, old } = fleet();
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    await wipe();
    expect(await old("trip", "open")).toBe(true);
    await refresh(clock, a, b);
    expect(await refused(a)).toBe(true);
    expect(await refused(b)).toBe(true);
    await clock.advance(10_000);
    expect(await a.execute(ok)).toBe("ok");
    await drain();
    // Over the old record, which has no generation: its format (old readers read it), above the 2 both saw.
    const recovered = (await record())!;
    expect(recovered).toMatchObject({ seq: 3, state: "closed", writer: 2 });
    expect(recovered.gen).toBeUndefined();
    await refresh(clock, b);
    expect(b.state).toBe("closed");
    store.reset();
    for (let round = 0; round < 3; round++) await refresh(clock, a, b);
    expect(store.counts.compareAndSet + store.counts.insertIfAbsent).toBe(0);
  });

  it("on an eventual store (KV) the same write is taken for a stale read for 60 s after the instance learned its record, then adopted", async () => {
    const { clock, make, wipe, old } = fleet({}, "eventual");
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    await wipe();
    expect(await old("manual", "forced-open")).toBe(true);
    const adoptedAt: number[] = [];
    for (let second = 1; second <= 65; second++) {
      await refresh(clock, a, b);
      for (const [i, breaker] of [a, b].entries()) if (adoptedAt[i] === undefined && breaker.state === "forced-open") adoptedAt[i] = second;
    }
    // A learned its record 1 s before B (its own write; B's read): 60 s after that, at the next read.
    expect(adoptedAt).toEqual([59, 60]);
  });

  it("after taking an old instance's write over the lost store as current, a stale read of the lost generation does not take it back", async () => {
    const { clock, faulty, make, old, wipe } = fleet({}, "eventual");
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    // A minute later (no stale read of what they learned is possible any more), the store loses its data.
    await clock.advance(60_000);
    await wipe();
    expect(await old("trip", "open", 0, faulty)).toBe(true);
    await refresh(clock, a, b);
    expect([a.state, b.state]).toEqual(["open", "open"]);
    // Reads answer one write behind: the lost generation's last record (closed, seq 2).
    faulty.inject("get", { kind: "stale" });
    for (let round = 0; round < 8; round++) {
      await refresh(clock, a, b);
      expect([a.state, b.state]).toEqual(["open", "open"]);
    }
  });

  it("an override held by new instances survives an old instance's trip over the lost store (it wrote over nothing)", async () => {
    const { clock, make, record, wipe, old } = fleet();
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    a.forceOpen();
    await drain();
    await refresh(clock, b);
    await wipe();
    await old("trip", "open", 9);
    await refresh(clock, a, b);
    await refresh(clock, a, b);
    expect([a.state, b.state, (await record())!.state]).toEqual(["forced-open", "forced-open", "forced-open"]);
  });

  it("this release's probe of an old opening written over the lost store writes the old format, marked; the override's holder writes it again; an old reset (unmarked) still clears it", async () => {
    const { clock, store, make, record, wipe, old } = fleet();
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    a.forceOpen();
    await drain();
    await wipe();
    // Its seq above the override's: the recovery written over it is newer than what A saw.
    await old("trip", "open", 9);
    const c = make();
    await c.execute(ok).catch(() => {});
    expect(c.state).toBe("open");
    await clock.advance(10_000);
    expect(await c.execute(ok)).toBe("ok");
    await drain();
    // Over the old record, in its format (what an old reader reads), with this release's mark and no manual action.
    const recovered = (await record())!;
    expect(recovered).toMatchObject({ seq: 10, state: "closed", writer: 2 });
    expect(recovered.gen).toBeUndefined();
    expect(recovered.manual).toBeUndefined();
    await refresh(clock, a);
    expect(a.state).toBe("forced-open");
    expect(await record()).toMatchObject({ state: "forced-open", writer: 2 });
    await refresh(clock, b, c);
    expect([b.state, c.state]).toEqual(["forced-open", "forced-open"]);
    // An old instance's reset: no mark, so a reset of the override, as before.
    expect(await old("manual", "closed")).toBe(true);
    await refresh(clock, a, b, c);
    expect([a.state, b.state, c.state]).toEqual(["closed", "closed", "closed"]);
    store.reset();
    for (let round = 0; round < 3; round++) await refresh(clock, a, b, c);
    expect(store.counts.compareAndSet + store.counts.insertIfAbsent).toBe(0);
  });

  it("an old instance's probe lease (no gen) holds new instances half-open on the same opening", async () => {
    const { clock, inner, make, old } = fleet({ halfOpenMaxWaitMs: 60_000 });
    const [a, b] = [make(), make()];
    await onGeneration(clock, a, b);
    await old("trip", "open");
    const { seq } = (await inner.get(KEY))!.value as unknown as SharedCircuitRecord;
    await refresh(clock, a);
    expect(a.state).toBe("open");
    await clock.advance(10_000);
    // The old instance took the lease of that opening as its release did: `{ by, seq }`.
    await inner.set(`${KEY}:probe`, { by: "old-release", seq } as Json, { ttlMs: 60_000 });
    expect(await refused(a)).toBe(true);
  });
});

describe("shared circuit breakers: a manual action on an instance that has not read the shared state yet", () => {
  /** A fleet with A tripped; `fresh` instances made later have made no call. */
  async function tripped() {
    const ctx = fleet();
    const a = ctx.make();
    await a.execute(boom).catch(() => {});
    await drain();
    expect((await ctx.record())?.state).toBe("open");
    return { ...ctx, a };
  }

  for (const workers of [false, true]) {
    it(`reset() before the first read closes the shared circuit fleet-wide, dated when it was called${workers ? " (Workers mode)" : ""}`, async () => {
      const { clock, make, record, a } = await tripped();
      let fresh: CircuitBreaker | undefined;
      if (!workers) fresh = make();
      else if (!withUserAgent("Cloudflare-Workers", () => void (fresh = make())) && !onWorkers) return;
      fresh ??= make();
      await clock.advance(5);
      const at = clock.wallNow();
      fresh.reset();
      // Its first read starts now (no call needed), and the reset is written over what it read.
      await drain();
      expect(await record()).toMatchObject({ state: "closed", manual: { at, state: "closed" } });
      expect(fresh.state).toBe("closed");
      expect(await fresh.execute(ok)).toBe("ok");
      await refresh(clock, a);
      expect(a.state).toBe("closed");
    });
  }

  it("reset() before the first read clears an override set earlier by another instance", async () => {
    const { clock, make, record, a } = await tripped();
    a.forceOpen();
    await drain();
    await clock.advance(1);
    const fresh = make();
    fresh.reset();
    await drain();
    expect((await record())?.state).toBe("closed");
    await refresh(clock, a, fresh);
    expect([a.state, fresh.state]).toEqual(["closed", "closed"]);
  });

  it("an action dated after the reset stands, though written before the reset's read answered or before any read answered", async () => {
    for (const later of ["forceOpen", "reopen", "failedRead"] as const) {
      const ctx = fleet();
      const { clock, faulty, inner, make, record } = ctx;
      // A reads and writes the engine directly; the fresh instance's reads go through the faulty store.
      const a = new CircuitBreaker({ name: "payments", store: inner, clock, maxFailures: 1, resetTimeoutMs: 10_000, refreshMs: 1_000, storeTimeoutMs: 500 });
      await a.execute(boom).catch(() => {});
      await drain();
      if (later === "reopen") await clock.advance(10_000);
      // The reset's read answers 100 ms late (with what the store held when it started), or fails.
      faulty.inject("get", later === "failedRead" ? { kind: "fail" } : { kind: "late", delayMs: 100 });
      const fresh = make();
      fresh.reset();
      await drain();
      await clock.advance(10);
      // A acts after the reset: an override, or its probe fails and the circuit opens again.
      if (later === "reopen") await a.execute(boom).catch(() => {});
      else a.forceOpen();
      await drain();
      const written = (await record())!;
      expect(written.state).toBe(later === "reopen" ? "open" : "forced-open");
      await clock.advance(100);
      await drain();
      faulty.inject("get", undefined);
      await refresh(clock, a, fresh);
      expect(await record()).toEqual(written);
      expect(fresh.state).toBe(written.state);
    }
  });

  it("forceOpen() and disable() before the first read take effect fleet-wide, the later one winning", async () => {
    const { clock, make, record, a } = await tripped();
    const first = make();
    const second = make();
    first.forceOpen();
    await drain();
    expect((await record())?.state).toBe("forced-open");
    await clock.advance(1);
    second.disable();
    await drain();
    expect((await record())?.state).toBe("disabled");
    await refresh(clock, a, first, second);
    expect([a.state, first.state, second.state]).toEqual(["disabled", "disabled", "disabled"]);
  });

  it("reset() on an instance that has read the shared state and holds it closed writes nothing", async () => {
    const { store, make } = fleet();
    const a = make();
    await a.execute(ok);
    await drain();
    const writes = store.total - store.counts.get;
    a.reset();
    await drain();
    expect(store.total - store.counts.get).toBe(writes);
  });
});

describe("shared circuit breakers: convergence under losses, stale reads and both releases' writes", () => {
  type Step = readonly [number, string, number];
  const steps = fc.array(
    fc.tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.constantFrom("fail", "ok", "force", "disable", "reset", "wait", "wipe", "lose", "new", "oldTrip", "oldReset", "oldForce", "stale", "fresh"),
      fc.integer({ min: 0, max: 1_500 }),
    ),
    { maxLength: 25 },
  );

  /**
   * A fleet for `list`: on an eventual store if it reads stale (a strong store never answers with a record
   * older than one its reader learned), where the fleet agrees with the store once no read can be stale
   * (60 s, `settle`).
   */
  function fleetFor(list: readonly Step[]) {
    const ctx = fleet({ resetTimeoutMs: 500 }, list.some(([, step]) => step === "stale") ? "eventual" : "strong");
    const settle = async () => {
      ctx.faulty.inject("get", undefined);
      if (ctx.store.capabilities.consistency === "eventual") await ctx.clock.advance(60_000);
    };
    return { ...ctx, settle };
  }

  /** Runs `list`, previous-release writes over a store that lost its data included. */
  async function run(list: readonly Step[], ctx: ReturnType<typeof fleet>, breakers: CircuitBreaker[]) {
    const { clock, inner, faulty, make, wipe, old } = ctx;
    for (const [i, step, ms] of list) {
      const breaker = breakers[i]!;
      if (step === "fail") await breaker.execute(boom).catch(() => {});
      else if (step === "ok") await breaker.execute(ok).catch(() => {});
      else if (step === "force") breaker.forceOpen();
      else if (step === "disable") breaker.disable();
      else if (step === "reset") breaker.reset();
      // A loss takes a millisecond at least: a generation created in the very ms of the one lost, by an
      // instance that never saw it, may be taken as older (the documented clock-skew bound).
      else if (step === "wipe") await wipe().then(() => clock.advance(1));
      else if (step === "lose") await inner.delete(KEY).then(() => clock.advance(1));
      else if (step === "new") breakers[i] = make();
      else if (step === "oldTrip") await old("trip", "open", ms);
      else if (step === "oldReset") await old("manual", "closed", ms);
      else if (step === "oldForce") await old("manual", "forced-open", ms);
      else if (step === "stale") faulty.inject("get", { kind: "stale" });
      else if (step === "fresh") faulty.inject("get", undefined);
      else await clock.advance(ms);
      await drain();
      // Each step takes a millisecond at least: actions and generations made in the same ms by
      // instances that have not seen each other are ordered by a tie-break, not by time (the clock
      // bound docs/distributed.md states); the property checks convergence beyond that bound.
      await clock.advance(1);
    }
  }

  it("property: once calls flow, every new instance agrees with the store, and the writes stop (no loop between instances or releases)", async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (list) => {
        const ctx = fleetFor(list);
        const breakers = [ctx.make(), ctx.make(), ctx.make()];
        for (const breaker of breakers) await breaker.execute(ok);
        await run(list, ctx, breakers);
        await ctx.settle();
        for (let round = 0; round < 4; round++) await refresh(ctx.clock, ...breakers);
        ctx.store.reset();
        for (let round = 0; round < 3; round++) await refresh(ctx.clock, ...breakers);
        expect(ctx.store.counts.compareAndSet).toBe(0);
        const stored = (await ctx.record())?.state ?? "closed";
        for (const breaker of breakers) expect(breaker.state === "half-open" ? "open" : breaker.state).toBe(stored === "open" ? "open" : stored);
      }),
      { numRuns: 60 },
    );
  }, 60_000);

  /** A fourth instance (the holder) sets `override`; `list` runs (manual actions left out); everyone must end on it. */
  async function overrideSurvives(override: "force" | "disable", list: readonly Step[]) {
    const ctx = fleetFor(list);
    const breakers = [ctx.make(), ctx.make(), ctx.make()];
    for (const breaker of breakers) await breaker.execute(ok);
    const holder = ctx.make();
    await holder.execute(ok);
    if (override === "force") holder.forceOpen();
    else holder.disable();
    await drain();
    // Anything but a manual action (of either release): those are later overrides, or resets.
    await run(list.filter(([, step]) => !["force", "disable", "reset", "oldReset", "oldForce"].includes(step)), ctx, breakers);
    await ctx.settle();
    for (let round = 0; round < 4; round++) await refresh(ctx.clock, holder, ...breakers);
    const state = override === "force" ? "forced-open" : "disabled";
    expect((await ctx.record())?.state).toBe(state);
    for (const breaker of [holder, ...breakers]) expect(breaker.state).toBe(state);
  }

  it("an override survives this release's recovery, in the previous release's format, of an old trip written over the lost store (it is not an old reset)", async () => {
    // The property's counterexample (seed -637590144): after the wipe an old instance's opening is written
    // over nothing (no gen); instance 0 adopts it, probes and writes `closed` over it in the old format,
    // without the holder's manual action. Without the writer mark the holder took that for an old reset.
    await overrideSurvives("force", [[0, "ok", 0], [0, "wipe", 0], [0, "oldTrip", 0], [0, "wait", 995], [0, "ok", 0]]);
    await overrideSurvives("disable", [[0, "ok", 0], [0, "wipe", 0], [0, "oldTrip", 0], [0, "wait", 995], [0, "ok", 0]]);
  });

  it("property: an override an instance of this release holds survives any losses and writes of both releases but a reset; everyone ends on it", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom("force", "disable"), steps, overrideSurvives), { numRuns: 60 });
  }, 60_000);
});
