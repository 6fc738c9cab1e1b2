/**
 * The resilient fetch against a real, misbehaving HTTP upstream: the same
 * scenarios run from Node, Deno and Bun (tests/resilient_fetch_upstream.node.test.ts)
 * and from inside workerd (tests/resilient_fetch_upstream.workers.test.ts).
 *
 * Waits between attempts run on a ManualClock; only the sockets are real. So
 * each step lets the real I/O finish (`eventually`) before moving the clock.
 */
import { expect, it } from "vitest";
import { CircuitOpenError, createResilientFetch, NotRetryableError, RetryExhaustedError, TimeoutError } from "../../mod.ts";
import { ManualClock } from "../../src/testing/mod.ts";

/** Polls `condition` on real macrotasks until it holds (I/O, not time, is awaited). */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting until ${what}`);
}

let unique = 0;
const keyFor = (name: string): string => `${name}-${++unique}-${Math.random().toString(36).slice(2)}`;

/** Registers the scenarios; `upstreamUrl` is read when a test runs. */
export function upstreamScenarios(upstreamUrl: () => string): void {
  const count = async (key: string): Promise<number> => {
    const response = await fetch(`${upstreamUrl()}/count?key=${key}`);
    return ((await response.json()) as { count: number }).count;
  };
  const retry = { maxAttempts: 4, baseDelayMs: 100, backoff: "constant", jitter: "none", maxDelayMs: 10_000 } as const;

  it("retries 503s, waiting the Retry-After seconds the upstream asks for", async () => {
    const clock = new ManualClock({ wallNow: Date.now() });
    const key = keyFor("retry-after");
    const resilient = createResilientFetch({ clock, retry });
    const pending = resilient(`${upstreamUrl()}/flaky?key=${key}&fail=2&status=503&retryAfter=1`);
    await eventually(async () => (await count(key)) === 1 && clock.pending > 0, "the first attempt failed");
    await clock.advance(999);
    expect(await count(key)).toBe(1);
    await clock.advance(1);
    await eventually(async () => (await count(key)) === 2 && clock.pending > 0, "the second attempt failed");
    await clock.advance(1_000);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("ok after 2");
    expect(await count(key)).toBe(3);
  });

  it("honours a Retry-After given as an HTTP date on a 429", async () => {
    const started = Date.now();
    const clock = new ManualClock({ wallNow: started });
    const key = keyFor("retry-after-date");
    const resilient = createResilientFetch({ clock, retry });
    const pending = resilient(`${upstreamUrl()}/flaky?key=${key}&fail=1&status=429&retryAfterDate=2`);
    await eventually(async () => (await count(key)) === 1 && clock.pending > 0, "the first attempt failed");
    // The server dates Retry-After 2 s after its own now, in whole seconds;
    // the client's wall clock stayed at `started`, so the wait is at least
    // 1 s, and at most 2 s plus the real time the request took (a loaded
    // machine can make that long).
    await clock.advance(999);
    expect(await count(key)).toBe(1);
    const bound = 2_000 + (Date.now() - started);
    let waited = 999;
    // Until the retry's timer fires (it is the only one pending).
    while (waited < bound && clock.pending > 0) {
      await clock.advance(50);
      waited += 50;
    }
    expect((await pending).status).toBe(200);
    expect(await count(key)).toBe(2);
    expect(waited).toBeLessThanOrEqual(bound + 50);
  });

  it("retries dropped connections", async () => {
    const clock = new ManualClock();
    const key = keyFor("drop");
    const resilient = createResilientFetch({ clock, retry });
    const pending = resilient(`${upstreamUrl()}/drop?key=${key}&fail=2`);
    for (const attempt of [1, 2]) {
      await eventually(async () => (await count(key)) === attempt && clock.pending > 0, `attempt ${attempt} failed`);
      await clock.advance(100);
    }
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("ok after drops");
  });

  it("times out stalled attempts and gives up with the TimeoutError as cause", async () => {
    const clock = new ManualClock();
    const key = keyFor("stall");
    const resilient = createResilientFetch({ clock, retry: { ...retry, maxAttempts: 2 }, attemptTimeoutMs: 1_000 });
    const pending = resilient(`${upstreamUrl()}/stall?key=${key}`).catch((e: unknown) => e);
    await eventually(async () => (await count(key)) === 1, "the first attempt reached the upstream");
    await clock.advance(1_000);
    await eventually(() => clock.pending > 0, "the first attempt timed out");
    await clock.advance(100);
    await eventually(async () => (await count(key)) === 2, "the second attempt reached the upstream");
    await clock.advance(1_000);
    const error = await pending;
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect((error as RetryExhaustedError).cause).toBeInstanceOf(TimeoutError);
  });

  it("answers at timeoutMs even when the wrapped fetch ignores its signal and the upstream stalls", async () => {
    const clock = new ManualClock();
    const key = keyFor("deaf");
    // Drops the signal: only the upstream closing would ever end this fetch.
    const deafFetch = (input: RequestInfo | URL): Promise<Response> => fetch(input);
    const resilient = createResilientFetch({ clock, fetch: deafFetch, timeoutMs: 500, retry });
    const pending = resilient(`${upstreamUrl()}/stall?key=${key}`).catch((e: unknown) => e);
    await eventually(async () => (await count(key)) === 1, "the request reached the upstream");
    await clock.advance(500);
    expect(await pending).toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);
  });

  it("does not retry a POST without an Idempotency-Key, but does with one", async () => {
    const clock = new ManualClock();
    const resilient = createResilientFetch({ clock, retry });
    const plainKey = keyFor("post");
    const plain = await resilient(`${upstreamUrl()}/flaky?key=${plainKey}&fail=1&status=503`, { method: "POST", body: "order" });
    expect(plain.status).toBe(503);
    expect(await count(plainKey)).toBe(1);

    const keyedKey = keyFor("post-keyed");
    const pending = resilient(`${upstreamUrl()}/flaky?key=${keyedKey}&fail=1&status=503`, {
      method: "POST",
      body: "order",
      headers: { "Idempotency-Key": keyedKey },
    });
    await eventually(async () => (await count(keyedKey)) === 1 && clock.pending > 0, "the first attempt failed");
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(await count(keyedKey)).toBe(2);

    const dropKey = keyFor("post-drop");
    const error = await resilient(`${upstreamUrl()}/drop?key=${dropKey}&fail=1`, { method: "POST", body: "x" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotRetryableError);
    expect((error as Error).message).toContain("Idempotency-Key");
  });

  it("cancels a stalled request at once when the caller aborts", async () => {
    const clock = new ManualClock();
    const key = keyFor("abort");
    const controller = new AbortController();
    const resilient = createResilientFetch({ clock, retry, attemptTimeoutMs: 60_000 });
    const pending = resilient(`${upstreamUrl()}/stall?key=${key}`, { signal: controller.signal }).catch((e: unknown) => e);
    await eventually(async () => (await count(key)) === 1, "the request reached the upstream");
    const reason = new Error("caller gave up");
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(clock.pending).toBe(0);
  });

  it("opens the origin's circuit after repeated failures and fails fast", async () => {
    const clock = new ManualClock();
    const key = keyFor("circuit");
    const resilient = createResilientFetch({ clock, retry: false, circuitBreaker: { maxFailures: 2 } });
    for (let i = 0; i < 2; i++) {
      expect((await resilient(`${upstreamUrl()}/flaky?key=${key}&fail=10&status=500`)).status).toBe(500);
    }
    await expect(resilient(`${upstreamUrl()}/flaky?key=${key}&fail=10&status=500`)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(await count(key)).toBe(2);
  });
}
