// Shared circuit breakers over Workers KV's semantics (issue 9): KvStore
// over an in-memory namespace made eventually consistent by
// LaggingKvNamespace (reads see each key as it was 60 s ago, as a reader in
// another location may with production KV), on a ManualClock. What KV can
// and cannot promise, in numbers (docs/distributed.md).
import { describe, expect, it } from "vitest";
import { type KvNamespaceLike, KvStore, LaggingKvNamespace } from "../adapters/cloudflare/mod.ts";
import { CircuitBreaker, CircuitOpenError } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

function kvFleet(lagMs: number) {
  const clock = new ManualClock();
  const entries = new Map<string, string>();
  let puts = 0;
  const namespace: KvNamespaceLike = {
    getWithMetadata: async (key) => ({ value: entries.get(key) ?? null, metadata: null }),
    put: async (key, value) => {
      puts++;
      entries.set(key, value);
    },
    delete: async (key) => void entries.delete(key),
  };
  const lagging = new LaggingKvNamespace(namespace, { lagMs, clock });
  const make = () =>
    new CircuitBreaker({
      name: "upstream",
      store: new KvStore(lagging, { clock, onWriteTooSoon: "fail" }),
      bestEffort: true,
      clock,
      maxFailures: 1,
      resetTimeoutMs: 120_000,
      refreshMs: 1_000,
      storeTimeoutMs: 500,
    });
  return { clock, make, puts: () => puts };
}

const ok = () => "ok";
const boom = () => Promise.reject(new Error("down"));

describe("shared circuit breakers on Workers KV (eventual: reads lag writes by 60 s)", () => {
  it("another location sees an opening after KV's propagation plus one refresh interval, not before", async () => {
    const { clock, make } = kvFleet(60_000);
    const [a, b] = [make(), make()];
    await a.execute(ok);
    await b.execute(ok);
    await a.execute(boom).catch(() => {});
    await drain();
    let seenAt = -1;
    for (let t = 1; t <= 70; t++) {
      await clock.advance(1_000);
      await drain();
      const outcome = await b.execute(ok).catch((error: unknown) => error);
      await drain();
      if (outcome instanceof CircuitOpenError || b.state === "open") {
        seenAt = t;
        break;
      }
    }
    // Reads show the write from 60 s on; the timer's read after that lands within one interval.
    expect(seenAt).toBeGreaterThanOrEqual(60);
    expect(seenAt).toBeLessThanOrEqual(61);
  });

  it("KV's one write per second per key: a burst of transitions is one write, then the latest state a second later", async () => {
    const { clock, make, puts } = kvFleet(0);
    const breaker = make();
    await breaker.execute(ok);
    const before = puts();
    for (let i = 0; i < 5; i++) {
      breaker.forceOpen();
      await clock.advance(50);
      breaker.reset();
      await clock.advance(50);
    }
    breaker.forceOpen();
    await drain();
    expect(puts() - before).toBe(1);
    await clock.advance(1_000);
    await drain();
    expect(puts() - before).toBe(2);
  });

  it("half-open with stale reads: the lease is best effort, every instance may probe once", async () => {
    const { clock, make } = kvFleet(60_000);
    const instances = [make(), make(), make()];
    for (const breaker of instances) await breaker.execute(ok);
    await instances[0]!.execute(boom).catch(() => {});
    await drain();
    // Everyone learns of the opening (after KV's lag), then the open period ends.
    await clock.advance(61_000);
    for (const breaker of instances) await breaker.execute(ok).catch(() => {});
    await drain();
    for (const breaker of instances) expect(breaker.state).toBe("open");
    await clock.advance(60_000);
    let probes = 0;
    const calls = instances.flatMap((breaker) =>
      Array.from({ length: 10 }, () => breaker.execute(() => new Promise<void>(() => probes++)).catch(() => {}))
    );
    await drain();
    // A lease written in one place is read elsewhere 60 s later: each instance wins its own.
    expect(probes).toBe(3);
    void calls;
  });
});
