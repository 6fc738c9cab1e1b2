import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

interface Gate {
  readonly promise: Promise<void>;
  open(): void;
  fail(): void;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: () => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = () => reject(new Error("probe failed"));
  });
  return { promise, open, fail };
}

/** Runs `callers` simultaneous calls; each admitted one waits on its own gate. */
function stampede(breaker: CircuitBreaker<unknown>, callers: number, track: { inFlight: number; max: number }) {
  const gates: Gate[] = [];
  const results = Array.from({ length: callers }, () =>
    breaker.execute(async () => {
      const g = gate();
      gates.push(g);
      track.inFlight++;
      track.max = Math.max(track.max, track.inFlight);
      try {
        await g.promise;
      } finally {
        track.inFlight--;
      }
    }).then(() => "ok" as const, (error: unknown) => error));
  return { gates, results };
}

async function openBreaker(options: ConstructorParameters<typeof CircuitBreaker>[0] & { clock: ManualClock }) {
  const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 1_000, ...options });
  await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => {});
  expect(breaker.state).toBe("open");
  await options.clock.advance(1_000);
  return breaker;
}

describe("CircuitBreaker under concurrency", () => {
  for (const halfOpenMaxCalls of [1, 3]) {
    it(`admits at most ${halfOpenMaxCalls} probe(s) among 500 simultaneous callers, wave after wave`, async () => {
      const clock = new ManualClock();
      const successThreshold = 4;
      const breaker = await openBreaker({ clock, halfOpenMaxCalls, successThreshold });
      const track = { inFlight: 0, max: 0 };
      let successes = 0;
      while (breaker.state === "half-open") {
        const { gates, results } = stampede(breaker, 500, track);
        await clock.flush();
        // Only free slots were handed out; everyone else was turned away at once.
        expect(gates.length).toBeLessThanOrEqual(halfOpenMaxCalls);
        expect(gates.length).toBeGreaterThan(0);
        expect(track.inFlight).toBe(gates.length);
        // Settle one probe at a time: each success frees exactly one slot.
        for (const g of gates) {
          g.open();
          await clock.flush();
          successes++;
        }
        const outcomes = await Promise.all(results);
        const rejected = outcomes.filter((o) => o instanceof CircuitOpenError);
        expect(rejected).toHaveLength(500 - gates.length);
        expect((rejected[0] as CircuitOpenError).message).toContain("half-open");
      }
      expect(track.max).toBe(halfOpenMaxCalls);
      expect(breaker.state).toBe("closed");
      expect(successes).toBeGreaterThanOrEqual(successThreshold);
      expect(successes).toBeLessThan(successThreshold + halfOpenMaxCalls);
    });
  }

  it("keeps the limit while probes finish in random order and new callers keep arriving", async () => {
    const clock = new ManualClock();
    const halfOpenMaxCalls = 3;
    const breaker = await openBreaker({ clock, halfOpenMaxCalls, successThreshold: 50 });
    const track = { inFlight: 0, max: 0 };
    const pending: Gate[] = [];
    let seed = 7;
    const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < 200 && breaker.state === "half-open"; round++) {
      const { gates } = stampede(breaker, 1 + random(20), track);
      await clock.flush();
      pending.push(...gates);
      expect(track.inFlight).toBeLessThanOrEqual(halfOpenMaxCalls);
      if (pending.length > 0) {
        pending.splice(random(pending.length), 1)[0]!.open();
        await clock.flush();
      }
    }
    expect(track.max).toBe(halfOpenMaxCalls);
    expect(breaker.state).toBe("closed");
  });

  it("a failing probe reopens the circuit; the other probes' late outcomes change nothing", async () => {
    const clock = new ManualClock();
    const breaker = await openBreaker({ clock, halfOpenMaxCalls: 3 });
    const track = { inFlight: 0, max: 0 };
    const { gates, results } = stampede(breaker, 300, track);
    await clock.flush();
    expect(gates).toHaveLength(3);
    gates[0]!.fail();
    await clock.flush();
    expect(breaker.state).toBe("open");
    gates[1]!.open();
    gates[2]!.open();
    await Promise.all(results);
    expect(breaker.state).toBe("open");
    expect(breaker.stats.stateChanges).toBe(3); // closed->open->half-open->open
    expect(breaker.remainingMs).toBe(1_000);
  });

  it("opens exactly once when hundreds of concurrent calls fail together", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 5, resetTimeoutMs: 1_000, clock });
    let opened = 0;
    breaker.on("open", () => opened++);
    const release = gate();
    const calls = Array.from({ length: 400 }, () =>
      breaker.execute(async () => {
        await release.promise;
      }).catch(() => {}));
    release.fail();
    await Promise.all(calls);
    expect(opened).toBe(1);
    expect(breaker.state).toBe("open");
    expect(breaker.stats).toMatchObject({ failedCalls: 400, rejectedCalls: 0, stateChanges: 1 });
  });
});
