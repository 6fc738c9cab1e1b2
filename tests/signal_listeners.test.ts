/**
 * No listener left behind (issue 14): after every kind of outcome, no
 * policy, pipeline or resilient fetch leaves a listener on the caller's
 * signal. 11 calls on one signal leaving one each is Node's
 * `MaxListenersExceededWarning`, and a leak for the signal's lifetime.
 */
import { describe, expect, it } from "vitest";
import {
  Bulkhead,
  chaos,
  CircuitBreaker,
  createResilientFetch,
  fallback,
  type Operation,
  Pipeline,
  type Policy,
  RateLimiter,
  ResiliencePipeline,
  RetryPolicy,
  TimeoutPolicy,
} from "../mod.ts";
import { withoutFusion } from "../src/internal/fused.ts";
import { ManualClock } from "../src/testing/mod.ts";

type Outcome = "resolve" | "reject" | "sync return" | "sync throw" | "timeout" | "abort";
const OUTCOMES: readonly Outcome[] = ["resolve", "reject", "sync return", "sync throw", "timeout", "abort"];

/** A real AbortSignal whose abort listeners are counted. */
function countingSignal(): { controller: AbortController; signal: AbortSignal; live: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  const live = new Set<unknown>();
  const once = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  add("abort", () => once.clear());
  signal.addEventListener = ((type: string, listener: unknown, options?: boolean | AddEventListenerOptions) => {
    if (type === "abort" && listener !== null) {
      (typeof options === "object" && options.once ? once : live).add(listener);
    }
    add(type, listener as EventListener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: unknown, options?: boolean | EventListenerOptions) => {
    if (type === "abort") {
      live.delete(listener);
      once.delete(listener);
    }
    remove(type, listener as EventListener, options);
  }) as typeof signal.removeEventListener;
  return { controller, signal, live: () => live.size + once.size };
}

const TIMEOUT_MS = 1_000;

type Make = (clock: ManualClock) => Policy;

const policies: ReadonlyArray<[string, Make]> = [
  ["CircuitBreaker", (clock) => new CircuitBreaker({ clock })],
  ["RetryPolicy", (clock) => new RetryPolicy({ maxAttempts: 2, baseDelayMs: 100, jitter: "none", clock })],
  ["TimeoutPolicy (cooperative)", (clock) => new TimeoutPolicy({ timeoutMs: TIMEOUT_MS, clock })],
  ["TimeoutPolicy (aggressive)", (clock) => new TimeoutPolicy({ timeoutMs: TIMEOUT_MS, strategy: "aggressive", clock })],
  ["Bulkhead", (clock) => new Bulkhead({ maxConcurrent: 1, clock })],
  ["ChaosPolicy (latency)", (clock) => chaos({ latencyMs: 10, clock })],
  ["RateLimiter", (clock) => new RateLimiter({ rate: 100, perMs: 1_000, clock })],
  ["fallback()", () => ({ execute: <T>(fn: Operation<T>, signal?: AbortSignal) => fallback(fn, () => "fb" as T, { signal }) as Promise<T> })],
  ["Pipeline (fused)", (clock) => layered(clock, true, "cooperative")],
  ["Pipeline (layered)", (clock) => layered(clock, false, "cooperative")],
  ["Pipeline, aggressive timeout (fused)", (clock) => layered(clock, true, "aggressive")],
  ["Pipeline, aggressive timeout (layered)", (clock) => layered(clock, false, "aggressive")],
  ["Pipeline, timeout outermost (fused)", (clock) => timeoutOutside(clock, true)],
  ["Pipeline, timeout outermost (layered)", (clock) => timeoutOutside(clock, false)],
  ["ResiliencePipeline", (clock) =>
    new ResiliencePipeline({
      bulkhead: { maxConcurrent: 2, clock },
      circuitBreaker: { clock },
      retry: { maxAttempts: 2, baseDelayMs: 100, jitter: "none", clock },
      timeout: { timeoutMs: TIMEOUT_MS, clock },
    })],
  ["createResilientFetch", (clock) => {
    const fetch = createResilientFetch({
      clock,
      fetch: async (_input, init) => {
        const value = await current!({ signal: init!.signal! });
        return new Response(String(value));
      },
      retry: { maxAttempts: 2, baseDelayMs: 100, jitter: "none" },
      attemptTimeoutMs: TIMEOUT_MS,
      timeoutMs: 10 * TIMEOUT_MS,
      bulkhead: { maxConcurrent: 2 },
    });
    return {
      execute: <T>(fn: Operation<T>, signal?: AbortSignal): Promise<T> => {
        current = fn as Operation<unknown>;
        return fetch("https://example.com/", signal === undefined ? {} : { signal }) as Promise<T>;
      },
    };
  }],
];
let current: Operation<unknown> | undefined;

function layered(clock: ManualClock, fused: boolean, strategy: "cooperative" | "aggressive"): Policy {
  const build = () =>
    new Pipeline([
      new Bulkhead({ maxConcurrent: 2, clock }),
      new CircuitBreaker({ clock }),
      new RetryPolicy({ maxAttempts: 2, baseDelayMs: 100, jitter: "none", clock }),
      new TimeoutPolicy({ timeoutMs: TIMEOUT_MS, strategy, clock }),
    ]);
  return fused ? build() : withoutFusion(build);
}

function timeoutOutside(clock: ManualClock, fused: boolean): Policy {
  const build = () =>
    new Pipeline([
      new TimeoutPolicy({ timeoutMs: 10 * TIMEOUT_MS, clock }),
      new CircuitBreaker({ clock }),
      new TimeoutPolicy({ timeoutMs: TIMEOUT_MS, clock }),
    ]);
  return fused ? build() : withoutFusion(build);
}

async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

async function runOne(make: Make, outcome: Outcome): Promise<number> {
  const clock = new ManualClock();
  const policy = make(clock);
  const { controller, signal, live } = countingSignal();
  const pending: Array<(error: unknown) => void> = [];
  const operation: Operation<string> = ({ signal: inner }) => {
    void inner.aborted; // reads the signal: a timeout builds and links its own
    switch (outcome) {
      case "resolve":
        return Promise.resolve("value");
      case "reject":
        return Promise.reject(new Error("failed"));
      case "sync return":
        return "value";
      case "sync throw":
        throw new Error("failed");
      default:
        return new Promise<string>((_, reject) => pending.push(reject));
    }
  };
  const call = policy.execute(operation, signal).then(() => "ok", () => "error");
  await turns();
  if (outcome === "abort") {
    const reason = new Error("caller left");
    controller.abort(reason);
    await turns();
    for (const reject of pending.splice(0)) reject(reason);
  }
  if (outcome === "timeout") {
    await clock.advance(TIMEOUT_MS);
    for (const reject of pending.splice(0)) reject(new Error("late"));
  }
  // Let retries wait and run; a hanging attempt after a retry is settled too.
  for (let i = 0; i < 5; i++) {
    await clock.advance(TIMEOUT_MS);
    for (const reject of pending.splice(0)) reject(new Error("late"));
    await turns();
  }
  await call;
  await turns();
  return live();
}

describe("no listener left on the caller's signal", () => {
  for (const [name, make] of policies) {
    it(`${name}: after ${OUTCOMES.join(", ")}`, async () => {
      const left: Record<string, number> = {};
      for (const outcome of OUTCOMES) left[outcome] = await runOne(make, outcome);
      expect(left).toEqual(Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])));
    });
  }

  it("11 synchronous calls through a timeout leave nothing on one signal", async () => {
    const { signal, live } = countingSignal();
    const timeout = new TimeoutPolicy({ timeoutMs: TIMEOUT_MS, clock: new ManualClock() });
    for (let i = 0; i < 11; i++) {
      await timeout.execute(({ signal: inner }) => inner.aborted, signal);
      await timeout.execute(({ signal: inner }) => {
        void inner.aborted;
        throw new Error("sync");
      }, signal).catch(() => {});
    }
    expect(live()).toBe(0);
  });
});
