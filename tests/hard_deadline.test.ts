import { describe, expect, it } from "vitest";
import {
  Bulkhead,
  CircuitBreaker,
  CircuitOpenError,
  createResilientFetch,
  pipeline,
  TimeoutError,
  TimeoutPolicy,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { outcome } from "./_support/promises.ts";

/** A `fetch` that never settles and ignores its signal; it records each signal it was given. */
function deafFetch(): { fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>; signals: AbortSignal[] } {
  const signals: AbortSignal[] = [];
  return {
    signals,
    fetch: (_input, init) => {
      if (init?.signal) signals.push(init.signal);
      return new Promise<Response>(() => {});
    },
  };
}

/** A signal whose listeners are counted: `added - removed` are still attached. */
function countedSignal(): { signal: AbortSignal; attached: () => number } {
  const signal = new AbortController().signal;
  let attached = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const listeners = new Set<unknown>();
  signal.addEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: AddEventListenerOptions) => {
    if (type === "abort" && !listeners.has(listener)) {
      listeners.add(listener);
      attached++;
    }
    add(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: EventListenerOptions) => {
    if (type === "abort" && listeners.delete(listener)) attached--;
    remove(type, listener, options);
  }) as typeof signal.removeEventListener;
  return { signal, attached: () => attached };
}

describe("createResilientFetch: timeoutMs is a hard deadline", () => {
  it("rejects with the TimeoutError at timeoutMs even if fetch ignores its signal, and aborts it", async () => {
    const clock = new ManualClock();
    const upstream = deafFetch();
    const resilient = createResilientFetch({ fetch: upstream.fetch, timeoutMs: 30, retry: false, clock });
    const call = outcome(resilient("https://api.example.com/items"));
    await clock.advance(29);
    expect(call.settled).toBe(false);
    await clock.advance(1);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(upstream.signals).toHaveLength(1);
    expect(upstream.signals[0]!.aborted).toBe(true);
    expect(upstream.signals[0]!.reason).toBe(call.error);
    expect(clock.pending).toBe(0);
  });

  it("answers at the deadline through retries, attempt timeouts, a breaker and a bulkhead, and leaves nothing behind", async () => {
    const clock = new ManualClock();
    const upstream = deafFetch();
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 0, clock });
    const resilient = createResilientFetch({
      fetch: upstream.fetch,
      timeoutMs: 100,
      attemptTimeoutMs: 30,
      retry: { maxAttempts: 10, baseDelayMs: 10, backoff: "constant", jitter: "none" },
      circuitBreaker: { maxFailures: 100 },
      bulkhead,
      clock,
    });
    const caller = countedSignal();
    const call = outcome(resilient("https://api.example.com/items", { signal: caller.signal }));
    // Attempts start at 0, 40 and 80 (30 ms each, then 10 ms of backoff): the
    // attempt deadline ends each one although fetch never settles.
    await clock.advance(99);
    expect(call.settled).toBe(false);
    expect(upstream.signals).toHaveLength(3);
    expect(upstream.signals.slice(0, 2).every((signal) => signal.aborted)).toBe(true);
    await clock.advance(1);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect((call.error as TimeoutError).message).toContain("100");
    expect(upstream.signals.every((signal) => signal.aborted)).toBe(true);
    expect(bulkhead.active).toBe(0);
    expect(clock.pending).toBe(0);
    // Nothing is left on the caller's signal: not ours, nor a `Request`'s
    // (the request is built unlinked from it; see tests/signal_listeners.test.ts).
    expect(caller.attached()).toBe(0);
    // The slot is free for the next call.
    const next = outcome(resilient("https://api.example.com/items"));
    await clock.advance(100);
    expect(next.error).toBeInstanceOf(TimeoutError);
  });

  it("an attempt that ignores its signal fails at attemptTimeoutMs and is retried", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const resilient = createResilientFetch({
      fetch: () => (++calls === 1 ? new Promise<Response>(() => {}) : Promise.resolve(new Response("ok"))),
      attemptTimeoutMs: 50,
      retry: { maxAttempts: 2, baseDelayMs: 10, backoff: "constant", jitter: "none" },
      clock,
    });
    const call = outcome(resilient("https://api.example.com/items"));
    await clock.advance(60);
    expect(calls).toBe(2);
    expect(await (call.value as Response).text()).toBe("ok");
    expect(clock.pending).toBe(0);
  });
});

describe("what a cooperative timeout means for the slots and probes around it", () => {
  /** An operation that never settles and ignores its signal. */
  const deaf = (): Promise<never> => new Promise<never>(() => {});

  it("cooperative: the caller waits for the operation, and a bulkhead around it keeps its slot", async () => {
    const clock = new ManualClock();
    const bulkhead = new Bulkhead({ maxConcurrent: 1, clock });
    const guarded = pipeline(bulkhead, new TimeoutPolicy({ timeoutMs: 100, clock }));
    let aborted = false;
    const call = outcome(guarded.execute(({ signal }) => {
      signal.addEventListener("abort", () => (aborted = true));
      return deaf();
    }));
    await clock.advance(1_000);
    expect(aborted).toBe(true);
    expect(call.settled).toBe(false);
    expect(bulkhead.active).toBe(1);
  });

  it("aggressive: the caller is answered at the deadline; a bulkhead outside the timeout frees its slot, one inside keeps it", async () => {
    const clock = new ManualClock();
    const outside = new Bulkhead({ maxConcurrent: 1, clock });
    const inside = new Bulkhead({ maxConcurrent: 1, clock });
    const timeout = new TimeoutPolicy({ timeoutMs: 100, strategy: "aggressive", clock });
    const call = outcome(pipeline(outside, timeout, inside).execute(deaf));
    await clock.advance(100);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(outside.active).toBe(0);
    expect(inside.active).toBe(1);
  });

  it("a half-open probe: held by a cooperative timeout's operation, freed at an aggressive timeout's deadline", async () => {
    for (const strategy of ["cooperative", "aggressive"] as const) {
      const clock = new ManualClock();
      const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 1_000, clock });
      const guarded = pipeline(breaker, new TimeoutPolicy({ timeoutMs: 100, strategy, clock }));
      await guarded.execute(() => Promise.reject(new Error("down"))).catch(() => {});
      await clock.advance(1_000);
      expect(breaker.state).toBe("half-open");
      const probe = outcome(guarded.execute(deaf));
      await clock.advance(100);
      if (strategy === "cooperative") {
        expect(probe.settled).toBe(false);
        // The one probe slot is still taken: the next call is refused.
        expect(await guarded.execute(async () => "ok").catch((error) => error)).toBeInstanceOf(CircuitOpenError);
      } else {
        expect(probe.error).toBeInstanceOf(TimeoutError);
        // The probe failed at its deadline: the circuit opened again.
        expect(breaker.state).toBe("open");
      }
    }
  });
});
