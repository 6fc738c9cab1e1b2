// The error an open circuit rejects with is built for speed (a plain
// `new Error` in `execute`'s own frame, given CircuitOpenError's prototype
// and fields: src/internal/refusal.ts). These pin that it is, in everything
// a caller can read, the error `new CircuitOpenError(...)` builds.
import { describe, expect, it } from "vitest";
import { Bulkhead, CircuitBreaker, CircuitOpenError, pipeline, ResilienceError } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

const down = (): Promise<never> => Promise.reject(new Error("down"));
const ok = (): string => "ok";

async function openBreaker(name = "api", resetTimeoutMs = 1_000): Promise<{ breaker: CircuitBreaker; clock: ManualClock }> {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ name, maxFailures: 1, resetTimeoutMs, clock });
  await breaker.execute(down).catch(() => {});
  return { breaker, clock };
}

async function refusalOf(run: () => Promise<unknown>): Promise<CircuitOpenError> {
  const error = await run().then(() => undefined, (reason: unknown) => reason);
  expect(error).toBeInstanceOf(CircuitOpenError);
  return error as CircuitOpenError;
}

/** What a caller can read of an error, beside its stack. */
function readable(error: CircuitOpenError): Record<string, unknown> {
  return {
    prototype: Object.getPrototypeOf(error),
    constructor: error.constructor,
    name: error.name,
    code: error.code,
    message: error.message,
    breakerName: error.breakerName,
    remainingMs: error.remainingMs,
    retryAfterMs: error.retryAfterMs,
    cause: error.cause,
    keys: Object.keys(error),
    own: Object.getOwnPropertyNames(error).filter((key) => key !== "stack").sort(),
    json: JSON.stringify(error),
    string: String(error),
  };
}

describe("an open circuit's CircuitOpenError", () => {
  it("is, in all a caller reads, the error the constructor builds", async () => {
    const { breaker, clock } = await openBreaker("api", 1_000);
    await clock.advance(400);
    const error = await refusalOf(() => breaker.execute(ok));
    expect(error).toBeInstanceOf(ResilienceError);
    expect(error).toBeInstanceOf(Error);
    expect(readable(error)).toEqual(readable(new CircuitOpenError("api", 600, undefined, { cause: breaker.openError })));
    expect(error.cause).toBe(breaker.openError);
    expect(error.message).toBe("Circuit 'api' is open; next probe allowed in 600 ms");
  });

  it("rounds the remaining time up to whole ms, in its message and remainingMs, as the constructor does", async () => {
    const { breaker, clock } = await openBreaker("db", 1_000);
    await clock.advance(0.25);
    const error = await refusalOf(() => breaker.execute(ok));
    expect(error.remainingMs).toBe(1000);
    expect(readable(error)).toEqual(readable(new CircuitOpenError("db", 999.75, undefined, { cause: breaker.openError })));
    expect(error.message).toContain("in 1000 ms");
  });

  it("has a stack like the constructor's: a string, headed the same way where the runtime heads it", async () => {
    const { breaker } = await openBreaker("api");
    const error = await refusalOf(() => breaker.execute(ok));
    const reference = new CircuitOpenError("api", 1_000);
    expect(typeof error.stack).toBe("string");
    const header = "CircuitOpenError: Circuit 'api' is open; next probe allowed in 1000 ms";
    // V8 heads the stack with `name: message`, formatted on first read; JavaScriptCore does not.
    if (reference.stack!.startsWith("CircuitOpenError: ")) expect(error.stack!.startsWith(header)).toBe(true);
    // Its first frame is `execute`: the helper that builds it is not in the trace.
    const frames = error.stack!.split("\n").filter((line) => /\bexecute\b|refusalError/.test(line));
    expect(frames.length).toBeGreaterThan(0);
    expect(frames[0]).toMatch(/\bexecute\b/);
    expect(error.stack).not.toContain("refusalError");
  });

  it("is a new error for every refusal, never one shared between callers", async () => {
    const { breaker } = await openBreaker();
    const [first, second] = await Promise.all([refusalOf(() => breaker.execute(ok)), refusalOf(() => breaker.execute(ok))]);
    expect(first).not.toBe(second);
    (first as { requestId?: string }).requestId = "a";
    expect((second as { requestId?: string }).requestId).toBeUndefined();
  });

  it("is the error the reject event reports, and is counted once", async () => {
    const { breaker } = await openBreaker();
    const reported: CircuitOpenError[] = [];
    breaker.on("reject", ({ error }) => reported.push(error));
    const error = await refusalOf(() => breaker.execute(ok));
    expect(reported).toEqual([error]);
    expect(reported[0]).toBe(error);
    expect(breaker.stats.rejectedCalls).toBe(1);
  });

  it("still rejects the call when a reject listener throws", async () => {
    const { breaker } = await openBreaker();
    breaker.on("reject", () => {
      throw new Error("listener bug");
    });
    const error = await refusalOf(() => breaker.execute(ok));
    expect(error.code).toBe("ERR_CIRCUIT_OPEN");
  });

  it("reads the same when forced open, half-open with its probe slots busy, in a pipeline or from executeSync", async () => {
    const forced = new CircuitBreaker({ name: "f" });
    forced.forceOpen();
    const forcedError = await refusalOf(() => forced.execute(ok));
    expect(readable(forcedError)).toEqual(readable(new CircuitOpenError("f", Infinity, "Circuit 'f' is forced open")));

    const { breaker, clock } = await openBreaker("h", 100);
    await clock.advance(100);
    let release!: () => void;
    const probe = breaker.execute(() => new Promise<void>((resolve) => (release = resolve)));
    const busy = await refusalOf(() => breaker.execute(ok));
    expect(readable(busy)).toEqual(
      readable(new CircuitOpenError("h", 0, "Circuit 'h' is half-open and its 1 probe slot is busy")),
    );
    release();
    await probe;
    expect(breaker.state).toBe("closed");

    const { breaker: inner } = await openBreaker("p", 1_000);
    const layered = await refusalOf(() => pipeline(new Bulkhead({ maxConcurrent: 1 }), inner).execute(ok));
    expect(readable(layered)).toEqual(readable(new CircuitOpenError("p", 1_000, undefined, { cause: inner.openError })));

    const { breaker: sync } = await openBreaker("s", 1_000);
    let thrown: unknown;
    try {
      sync.executeSync(ok);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CircuitOpenError);
    expect(readable(thrown as CircuitOpenError)).toEqual(readable(new CircuitOpenError("s", 1_000, undefined, { cause: sync.openError })));
  });

  it("reads the same for a call with a signal, and an open circuit still reports a misuse or an aborted signal as such", async () => {
    // execute takes the unshared no-signal refusal itself; these take the other path.
    const { breaker } = await openBreaker("g", 1_000);
    const withSignal = await refusalOf(() => breaker.execute(ok, new AbortController().signal));
    expect(readable(withSignal)).toEqual(readable(new CircuitOpenError("g", 1_000, undefined, { cause: breaker.openError })));
    const misuse = await breaker.execute(undefined as unknown as () => string).then(() => undefined, (reason: unknown) => reason);
    expect(misuse).toBeInstanceOf(ResilienceError);
    expect((misuse as ResilienceError).code).toBe("ERR_INVALID_ARGUMENT");
    const controller = new AbortController();
    const reason = new Error("cancelled");
    controller.abort(reason);
    expect(await breaker.execute(ok, controller.signal).then(() => undefined, (error: unknown) => error)).toBe(reason);
    expect(breaker.stats.rejectedCalls).toBe(1);
  });

  it("goes half-open on the call that finds resetTimeoutMs passed, and lets it through as the probe", async () => {
    const { breaker, clock } = await openBreaker("api", 1_000);
    const seen: string[] = [];
    breaker.on("halfOpen", () => seen.push("halfOpen"));
    await clock.advance(999);
    expect((await refusalOf(() => breaker.execute(ok))).remainingMs).toBe(1);
    await clock.advance(1);
    expect(await breaker.execute(ok)).toBe("ok");
    expect(seen).toEqual(["halfOpen"]);
    expect(breaker.state).toBe("closed");
  });

  // The open state's message and `{ cause }` option are kept between refusals
  // (an open circuit refuses many calls per ms): these pin that what is kept
  // never outlives what it was built from.
  it("words each refusal with the time left then, from one refusal to the next", async () => {
    const { breaker, clock } = await openBreaker("api", 1_000);
    await clock.advance(100);
    const remaining = async (): Promise<[number, string]> => {
      const error = await refusalOf(() => breaker.execute(ok));
      return [error.remainingMs, error.message];
    };
    expect(await remaining()).toEqual([900, "Circuit 'api' is open; next probe allowed in 900 ms"]);
    expect(await remaining()).toEqual([900, "Circuit 'api' is open; next probe allowed in 900 ms"]);
    await clock.advance(0.5);
    expect(await remaining()).toEqual([900, "Circuit 'api' is open; next probe allowed in 900 ms"]);
    await clock.advance(1);
    expect(await remaining()).toEqual([899, "Circuit 'api' is open; next probe allowed in 899 ms"]);
    breaker.forceOpen();
    expect((await remaining())[1]).toBe("Circuit 'api' is forced open");
  });

  it("gives as cause the error that opened the circuit this time, never an earlier opening's", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: "api", maxFailures: 1, resetTimeoutMs: 100, clock });
    const first = new Error("first");
    const second = new Error("second");
    await breaker.execute(() => Promise.reject(first)).catch(() => {});
    expect((await refusalOf(() => breaker.execute(ok))).cause).toBe(first);
    await clock.advance(100);
    await breaker.execute(() => Promise.reject(second)).catch(() => {});
    expect(breaker.state).toBe("open");
    expect((await refusalOf(() => breaker.execute(ok))).cause).toBe(second);
    await clock.advance(200);
    expect(await breaker.execute(ok)).toBe("ok");
    expect(breaker.state).toBe("closed");
    // Opened by a failure recorded without an error: no cause at all.
    breaker.recordFailure();
    expect(breaker.state).toBe("open");
    const error = await refusalOf(() => breaker.execute(ok));
    expect(error.cause).toBeUndefined();
    expect(Object.getOwnPropertyNames(error)).not.toContain("cause");
  });
});
