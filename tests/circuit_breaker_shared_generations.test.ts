// Shared circuit breakers when the store loses its data (issue 9): a Redis
// restarted without persistence, a KV key expired or deleted, a fresh
// Durable Object. Records carry a generation, drawn when a record is created
// where the store holds none; a later generation is newer whatever its
// `seq`, so instances that saw a long history adopt what a brand-new
// instance writes after the loss, while stale reads of the lost generation
// never move anyone back. ManualClock, MemoryStore, one `CircuitBreaker` per
// instance of the fleet.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError, type Json, type SharedCircuitRecord } from "../mod.ts";
import { isNewerRecord } from "../src/breaker/shared.ts";
import { FaultyStore, ManualClock } from "../src/testing/mod.ts";
import { boom, drain, eventual, fleet, KEY, ok } from "./_support/manual_fleet.ts";

/** A call after the refresh interval: starts the background read that lands before the next call. */
async function refresh(clock: ManualClock, ...breakers: CircuitBreaker[]): Promise<void> {
  await clock.advance(1_000);
  for (const breaker of breakers) await breaker.execute(ok).catch(() => {});
  await drain();
}

/** Two openings and two recoveries: the instances saw `seq` 4 of the first generation. */
async function history(clock: ManualClock, a: CircuitBreaker, b: CircuitBreaker): Promise<void> {
  await a.execute(ok);
  await b.execute(ok);
  for (let round = 0; round < 2; round++) {
    await a.execute(boom).catch(() => {});
    await drain();
    await clock.advance(10_000);
    expect(await a.execute(ok)).toBe("ok");
    await drain();
    await refresh(clock, b);
  }
  expect(a.state).toBe("closed");
  expect(b.state).toBe("closed");
}

describe("shared circuit breakers: the store lost its data", () => {
  it("a brand-new instance trips after the loss: instances that saw a long history refuse within one refresh", async () => {
    const { clock, make, record, wipe } = fleet();
    const [a, b] = [make(), make()];
    await history(clock, a, b);
    const before = (await record())!;
    expect(before.seq).toBe(4);
    await wipe();
    const fresh = make();
    await fresh.execute(boom).catch(() => {});
    await drain();
    const after = (await record())!;
    expect(after).toMatchObject({ seq: 1, state: "open" });
    await refresh(clock, a, b);
    for (const breaker of [a, b]) {
      let called = 0;
      expect(await breaker.execute(() => called++).catch((error: unknown) => error)).toBeInstanceOf(CircuitOpenError);
      expect(called).toBe(0);
      expect(breaker.state).toBe("open");
      expect(breaker.remainingMs).toBe(fresh.remainingMs);
    }
    // A new generation: a random id, created later than the lost one.
    expect(after.gen).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(after.gen).not.toBe(before.gen);
    expect(after.genAt).toBeGreaterThan(before.genAt!);
  });

  it("an old instance writes next over the new generation (its seq ordering is not carried over), and everyone follows", async () => {
    const { clock, make, record, wipe } = fleet();
    const [a, b] = [make(), make()];
    await history(clock, a, b);
    await wipe();
    const fresh = make();
    await fresh.execute(boom).catch(() => {});
    await drain();
    const { gen } = (await record())!;
    await refresh(clock, a, b);
    // A probes when the new opening's period is over, and closes it for the fleet.
    await clock.advance(9_000);
    expect(await a.execute(ok)).toBe("ok");
    await drain();
    expect(await record()).toMatchObject({ gen, seq: 2, state: "closed" });
    await refresh(clock, b, fresh);
    expect(b.state).toBe("closed");
    expect(fresh.state).toBe("closed");
  });

  it("two brand-new instances create at once: compare-and-set lets one generation win, and all four instances end on it", async () => {
    const { clock, store, make, record, wipe } = fleet();
    const [a, b] = [make(), make()];
    await history(clock, a, b);
    await wipe();
    const [c, d] = [make(), make()];
    await c.execute(ok);
    await d.execute(ok);
    store.reset();
    await Promise.all([c.execute(boom).catch(() => {}), d.execute(boom).catch(() => {})]);
    await drain();
    // Two creations raced, one lost; the loser learned the winner's opening and wrote nothing more.
    expect(store.counts.compareAndSet).toBe(2);
    const won = (await record())!;
    expect(won).toMatchObject({ seq: 1, state: "open" });
    await refresh(clock, a, b, c, d);
    for (const breaker of [a, b, c, d]) expect(breaker.state).toBe("open");
    // The probe's verdict reaches all of them.
    await clock.advance(9_000);
    expect(await d.execute(ok)).toBe("ok");
    await drain();
    expect(await record()).toMatchObject({ gen: won.gen, seq: 2, state: "closed" });
    await refresh(clock, a, b, c);
    for (const breaker of [a, b, c, d]) expect(breaker.state).toBe("closed");
  });

  it("the store loses an open circuit: the probe's verdict is written anyway, and the instances holding the lost opening follow it", async () => {
    const { clock, make, record, wipe } = fleet({ resetTimeoutMs: 2_000 });
    const [a, b] = [make(), make()];
    for (const breaker of [a, b]) await breaker.execute(ok);
    await a.execute(boom).catch(() => {});
    await drain();
    await refresh(clock, b);
    expect(b.state).toBe("open");
    await wipe();
    // Both are half-open: A takes the lease and probes; B waits on A's verdict.
    await clock.advance(1_000);
    expect(await a.execute(ok)).toBe("ok");
    await drain();
    expect(await record()).toMatchObject({ state: "closed" });
    await refresh(clock, b);
    expect(b.state).toBe("closed");
    expect(await b.execute(ok)).toBe("ok");
  });

  it("the probe lease is keyed by generation: a lease left by the lost generation's opening of the same seq does not hold the new one", async () => {
    const { clock, inner, make, record } = fleet({ halfOpenMaxWaitMs: 60_000 });
    const a = make();
    await a.execute(ok);
    await a.execute(boom).catch(() => {});
    await drain();
    await clock.advance(10_000);
    // A takes the lease of opening 1 and its probe hangs (the lease lives 60 s).
    void a.execute(() => new Promise(() => {}));
    await drain();
    expect((await inner.get(`${KEY}:probe`))?.value).toMatchObject({ seq: 1 });
    // Only the state key is lost (a KV key deleted by hand): the lease stays.
    await inner.delete(KEY);
    const c = make();
    await c.execute(boom).catch(() => {});
    await drain();
    expect(await record()).toMatchObject({ seq: 1, state: "open" });
    await clock.advance(10_000);
    // A fresh instance in half-open of the new opening 1 takes the lease over and probes.
    const d = make();
    let called = 0;
    expect(await d.execute(() => ++called)).toBe(1);
    await drain();
    expect(await record()).toMatchObject({ seq: 2, state: "closed" });
  });

  it("a stale read of the lost generation moves nobody back: neither an instance that left it nor one that never saw it", async () => {
    let faulty!: FaultyStore;
    // Stale reads: an eventual store (KV); a strong one never answers with a record older than one its reader learned.
    const { clock, make, wipe, record } = fleet({}, (inner, clock) => (faulty = eventual(new FaultyStore(inner, { clock, timeoutMs: 60_000 }))));
    const [a, b] = [make(), make()];
    await history(clock, a, b);
    await wipe();
    const fresh = make();
    await fresh.execute(boom).catch(() => {});
    await drain();
    await refresh(clock, b);
    expect(b.state).toBe("open");
    // A reader that never saw the lost generation: its first read is of the new one.
    const newcomer = make();
    expect(await newcomer.execute(ok).catch((error: unknown) => error)).toBeInstanceOf(CircuitOpenError);
    // From now on reads answer one write behind: the lost generation's last record (closed, seq 4).
    faulty.inject("get", { kind: "stale" });
    for (let i = 0; i < 5; i++) {
      await refresh(clock, b, newcomer);
      expect(b.state).toBe("open");
      expect(newcomer.state).toBe("open");
    }
    expect((await record())!.seq).toBe(1);
  });

  it("a generation created after the loss by an instance whose clock is far behind (dated before the lost one) is what the store holds: adopted at the next read", async () => {
    const { clock, inner, store, make, record } = fleet();
    const [a, b] = [make(), make()];
    await history(clock, a, b);
    const lost = (await record())!;
    await inner.delete(KEY);
    // A brand-new instance whose clock is an hour behind disables the breaker over the empty store.
    const behind = clock.wallNow() - 3_600_000;
    const created = {
      v: 1, writer: 2, gen: "behind", genAt: behind, seq: 1, by: "c", state: "disabled", openedAt: null,
      openPeriodMs: 10_000, openings: 0, votes: [], manual: { at: behind, state: "disabled" },
    };
    expect(created.genAt).toBeLessThan(lost.genAt!);
    await inner.set(KEY, created as Json);
    await refresh(clock, a, b);
    expect([a.state, b.state]).toEqual(["disabled", "disabled"]);
    store.reset();
    for (let round = 0; round < 3; round++) await refresh(clock, a, b);
    expect(store.counts.compareAndSet + store.counts.insertIfAbsent).toBe(0);
    expect(await record()).toEqual(created);
  });

  it("quorum: the votes lost with the store start again, and an old instance's vote counts in the new generation", async () => {
    const { clock, make, record, wipe } = fleet({ quorum: 2, quorumWindowMs: 30_000 });
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    // A history of votes that never made a quorum (seq 3).
    for (let i = 0; i < 3; i++) {
      await clock.advance(31_000);
      await a.execute(boom).catch(() => {});
      await drain();
    }
    await clock.advance(31_000);
    await a.execute(ok).catch(() => {});
    await drain();
    await refresh(clock, b);
    expect((await record())!.seq).toBe(3);
    await wipe();
    const fresh = make();
    await fresh.execute(boom).catch(() => {});
    await drain();
    expect(await record()).toMatchObject({ seq: 1, state: "closed" });
    expect((await record())!.votes).toHaveLength(1);
    // The old instance trips: its vote joins the new generation's, two distinct voters open it.
    await b.execute(boom).catch(() => {});
    await drain();
    expect(await record()).toMatchObject({ seq: 2, state: "open" });
    await refresh(clock, a);
    expect(a.state).toBe("open");
  });

  it("records of the previous version (no generation) are read as one legacy generation; a loss after them is still adopted", async () => {
    const { clock, inner, make, record, wipe } = fleet();
    const legacy = { v: 1, seq: 7, by: "old", state: "closed", openedAt: null, openPeriodMs: 10_000, openings: 0, votes: [] };
    await inner.set(KEY, legacy as Json);
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    // A write over a legacy record stays in its generation (no `gen`), and counts up.
    await a.execute(boom).catch(() => {});
    await drain();
    const written = (await record())!;
    expect(written).toMatchObject({ seq: 8, state: "open" });
    expect(written.gen).toBeUndefined();
    await refresh(clock, b);
    expect(b.state).toBe("open");
    await clock.advance(9_000);
    expect(await a.execute(ok)).toBe("ok");
    await drain();
    await refresh(clock, b);
    expect(b.state).toBe("closed");
    // The store loses it; a brand-new instance's opening (seq 1) reaches them.
    await wipe();
    const fresh = make();
    await fresh.execute(boom).catch(() => {});
    await drain();
    await refresh(clock, a, b);
    expect(a.state).toBe("open");
    expect(b.state).toBe("open");
    expect((await record())!.gen).toBeDefined();
  });

  it("property: whatever the instances did, with losses and new instances among it, once calls flow every instance agrees with the store", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom("fail", "ok", "reset", "wait", "wipe", "lose", "new"), fc.integer({ min: 0, max: 1_500 })),
          { maxLength: 25 },
        ),
        async (steps) => {
          const { clock, inner, make, record, wipe } = fleet({ resetTimeoutMs: 500 });
          const breakers = [make(), make(), make()];
          for (const breaker of breakers) await breaker.execute(ok);
          for (const [i, step, ms] of steps) {
            const breaker = breakers[i]!;
            if (step === "fail") await breaker.execute(boom).catch(() => {});
            else if (step === "ok") await breaker.execute(ok).catch(() => {});
            else if (step === "reset") breaker.reset();
            else if (step === "wipe") await wipe();
            else if (step === "lose") await inner.delete(KEY); // the state key only: the lease stays
            else if (step === "new") breakers[i] = make();
            else await clock.advance(ms);
            await drain();
          }
          for (let round = 0; round < 4; round++) {
            await clock.advance(1_000);
            for (const breaker of breakers) await breaker.execute(ok).catch(() => {});
            await drain();
          }
          const expected = (await record())?.state ?? "closed";
          expect(expected).toBe("closed");
          for (const breaker of breakers) expect(breaker.state).toBe(expected);
        },
      ),
      {
        numRuns: 60,
        // Found by this property: the store lost the record after a probe's verdict while the prober's
        // lease stayed, and an instance still half-open on that opening waited out the lease (60 s).
        examples: [
          [[[1, "fail", 0], [0, "fail", 0], [0, "wait", 500], [1, "fail", 0], [0, "lose", 0], [1, "new", 0]]],
          [[[1, "fail", 0], [0, "fail", 0], [0, "wait", 315], [0, "wait", 185], [0, "ok", 0], [0, "lose", 0]]],
        ],
      },
    );
  }, 60_000);

  it("isNewerRecord: a strict total order of (generation, seq): the later generation first, the legacy one the oldest", () => {
    // g2 and g3 were created in the same ms: their ids decide.
    const createdAt: Record<string, number> = { g1: 1, g2: 2, g3: 2 };
    const record = fc.tuple(fc.constantFrom(undefined, "g1", "g2", "g3"), fc.integer({ min: 1, max: 5 })).map(
      ([gen, seq]): SharedCircuitRecord => ({
        v: 1,
        ...(gen === undefined ? {} : { gen, genAt: createdAt[gen]! }),
        seq,
        by: "x",
        state: "closed",
        openedAt: null,
        openPeriodMs: 1,
        openings: 0,
        votes: [],
      }),
    );
    fc.assert(
      fc.property(record, record, record, (x, y, z) => {
        expect(isNewerRecord(x, x)).toBe(false);
        const samePlace = x.gen === y.gen && x.seq === y.seq;
        if (!samePlace) expect(isNewerRecord(x, y)).not.toBe(isNewerRecord(y, x));
        if (isNewerRecord(x, y) && isNewerRecord(y, z)) expect(isNewerRecord(x, z)).toBe(true);
        if (x.gen !== y.gen && y.gen !== undefined) {
          expect(isNewerRecord(y, x)).toBe(x.gen === undefined || y.genAt! > x.genAt! || (y.genAt === x.genAt && y.gen > x.gen!));
        }
      }),
    );
  });
});
