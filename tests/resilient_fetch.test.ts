import { describe, expect, it } from "vitest";
import {
  BulkheadRejectedError,
  CircuitOpenError,
  ConfigError,
  createResilientFetch,
  type FetchFunction,
  NotRetryableError,
  RetryExhaustedError,
  TimeoutError,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

interface Seen {
  method: string;
  url: string;
  /** Read in the background: awaiting it must not hold up the call. */
  body: Promise<string>;
  signal: AbortSignal;
}

type Step = (signal: AbortSignal) => Response | Promise<Response>;

/** A scripted upstream: call n takes step n; the last step repeats. */
function scriptedFetch(steps: Step[]): FetchFunction & { seen: Seen[] } {
  const seen: Seen[] = [];
  const fake = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const signal = init!.signal!;
    seen.push({
      method: request.method,
      url: request.url,
      body: request.body === null ? Promise.resolve("") : request.text(),
      signal,
    });
    try {
      return Promise.resolve(steps[Math.min(seen.length, steps.length) - 1]!(signal));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return Object.assign(fake, { seen });
}

const ok: Step = () => new Response("ok", { status: 200 });
const status = (code: number, headers: Record<string, string> = {}): Step => () =>
  new Response(`status ${code}`, { status: code, headers });
const networkError: Step = () => {
  throw new TypeError("fetch failed");
};
/** Never answers; rejects with the abort reason when its signal aborts. */
const stall: Step = (signal) =>
  new Promise<Response>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });

const fixedRetry = { maxAttempts: 3, baseDelayMs: 100, backoff: "constant", jitter: "none" } as const;

describe("createResilientFetch", () => {
  it("has fetch's signature", () => {
    const resilient: typeof fetch extends (...args: infer A) => infer R ? (...args: A) => R : never =
      createResilientFetch({ fetch: scriptedFetch([ok]) });
    expect(typeof resilient).toBe("function");
  });

  it("retries a 503 and returns the first success", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([status(503), status(503), ok]);
    const fetchWithRetry = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry });
    const pending = fetchWithRetry("https://api.example.com/items");
    await clock.advance(200);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("ok");
    expect(upstream.seen).toHaveLength(3);
  });

  it("waits at least the Retry-After of a 429, in seconds or as an HTTP date", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([
      status(429, { "retry-after": "3" }),
      (signal) => status(503, { "retry-after": new Date(clock.wallNow() + 2_000).toUTCString() })(signal),
      ok,
    ]);
    const fetchWithRetry = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry });
    const pending = fetchWithRetry("https://api.example.com/");
    await clock.advance(2_999);
    expect(upstream.seen).toHaveLength(1);
    await clock.advance(1);
    expect(upstream.seen).toHaveLength(2);
    await clock.advance(1_999);
    expect(upstream.seen).toHaveLength(2);
    await clock.advance(1);
    expect((await pending).status).toBe(200);
  });

  it("caps a server's Retry-After by maxDelayMs", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([status(503, { "retry-after": "3600" }), ok]);
    const fetchWithRetry = createResilientFetch({ fetch: upstream, clock, retry: { ...fixedRetry, maxDelayMs: 500 } });
    const pending = fetchWithRetry("https://api.example.com/");
    await clock.advance(500);
    expect((await pending).status).toBe(200);
  });

  it("counts 408 and 429 as failures, but not 404", async () => {
    const clock = new ManualClock();
    for (const code of [408, 429]) {
      const upstream = scriptedFetch([status(code), ok]);
      const pending = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry })("https://a.example/");
      await clock.advance(100);
      expect((await pending).status).toBe(200);
    }
    const upstream = scriptedFetch([status(404), ok]);
    const response = await createResilientFetch({ fetch: upstream, clock, retry: fixedRetry })("https://a.example/");
    expect(response.status).toBe(404);
    expect(upstream.seen).toHaveLength(1);
  });

  it("returns the last failure response when attempts run out, as fetch would", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([status(502)]);
    const pending = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry })("https://a.example/");
    await clock.advance(200);
    const response = await pending;
    expect(response.status).toBe(502);
    expect(await response.text()).toBe("status 502");
    expect(upstream.seen).toHaveLength(3);
  });

  it("retries network errors, then rejects with RetryExhaustedError caused by the last one", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([networkError]);
    const pending = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry })("https://a.example/")
      .catch((e: unknown) => e);
    await clock.advance(200);
    const error = await pending;
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect((error as RetryExhaustedError).attempts).toBe(3);
    expect((error as RetryExhaustedError).cause).toBeInstanceOf(TypeError);
  });

  it("never retries a POST without an Idempotency-Key, and says so", async () => {
    const clock = new ManualClock();
    const failing = scriptedFetch([status(503), ok]);
    const fetchWithRetry = createResilientFetch({ fetch: failing, clock, retry: fixedRetry });
    const response = await fetchWithRetry("https://a.example/orders", { method: "POST", body: "{}" });
    expect(response.status).toBe(503);
    expect(failing.seen).toHaveLength(1);

    const broken = scriptedFetch([networkError, ok]);
    const error = await createResilientFetch({ fetch: broken, clock, retry: fixedRetry })(
      "https://a.example/orders",
      { method: "POST", body: "{}" },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotRetryableError);
    expect((error as Error).message).toContain("POST is not idempotent");
    expect((error as Error).message).toContain("Idempotency-Key");
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(broken.seen).toHaveLength(1);
  });

  it("retries a POST that carries an Idempotency-Key, sending the same body each time", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([networkError, status(503), ok]);
    const pending = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry })("https://a.example/orders", {
      method: "POST",
      headers: { "Idempotency-Key": "order-42" },
      body: JSON.stringify({ sku: "x" }),
    });
    await clock.advance(200);
    expect((await pending).status).toBe(200);
    expect(await Promise.all(upstream.seen.map(async (s) => [s.method, await s.body]))).toEqual([
      ["POST", '{"sku":"x"}'],
      ["POST", '{"sku":"x"}'],
      ["POST", '{"sku":"x"}'],
    ]);
  });

  it("retries PUT and DELETE, and a Request object's body on every attempt", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([status(500), ok]);
    const fetchWithRetry = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry });
    const pending = fetchWithRetry(new Request("https://a.example/doc", { method: "PUT", body: "v2" }));
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(await Promise.all(upstream.seen.map((s) => s.body))).toEqual(["v2", "v2"]);
  });

  it("does not retry a one-shot stream body, and says so", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([networkError, ok]);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("chunk"));
        controller.close();
      },
    });
    const error = await createResilientFetch({ fetch: upstream, clock, retry: fixedRetry })("https://a.example/upload", {
      method: "PUT",
      body,
      duplex: "half",
    } as RequestInit).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotRetryableError);
    expect((error as Error).message).toContain("one-shot stream");
    expect(upstream.seen).toHaveLength(1);
  });

  it("keeps a breaker per origin; an open circuit fails fast and stops retries", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([networkError]);
    const fetchWithRetry = createResilientFetch({
      fetch: upstream,
      clock,
      retry: { ...fixedRetry, maxAttempts: 5 },
      circuitBreaker: { maxFailures: 2, resetTimeoutMs: 10_000 },
    });
    const pending = fetchWithRetry("https://down.example/a").catch((e: unknown) => e);
    await clock.advance(1_000);
    const error = await pending;
    // Two failures open the circuit; the third attempt is refused, ending the retries.
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).breakerName).toBe("https://down.example");
    expect(upstream.seen).toHaveLength(2);
    expect(fetchWithRetry.registry.get("https://down.example")?.state).toBe("open");

    const healthy = scriptedFetch([ok]);
    const other = createResilientFetch({ fetch: healthy, clock, registry: fetchWithRetry.registry });
    expect((await other("https://up.example/")).status).toBe(200);
    await expect(other("https://down.example/b")).rejects.toBeInstanceOf(CircuitOpenError);
    expect(healthy.seen).toHaveLength(1);
  });

  it("counts failure responses in the breaker, yet returns them", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([status(500)]);
    const fetchOnce = createResilientFetch({
      fetch: upstream,
      clock,
      retry: false,
      circuitBreaker: { maxFailures: 2 },
    });
    expect((await fetchOnce("https://a.example/")).status).toBe(500);
    expect((await fetchOnce("https://a.example/")).status).toBe(500);
    await expect(fetchOnce("https://a.example/")).rejects.toBeInstanceOf(CircuitOpenError);
    expect(upstream.seen).toHaveLength(2);
  });

  it("gives each attempt its own deadline", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([stall, ok]);
    const fetchWithRetry = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry, attemptTimeoutMs: 1_000 });
    const pending = fetchWithRetry("https://slow.example/");
    await clock.advance(999);
    expect(upstream.seen).toHaveLength(1);
    expect(upstream.seen[0]!.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(upstream.seen[0]!.signal.aborted).toBe(true);
    expect(upstream.seen[0]!.signal.reason).toBeInstanceOf(TimeoutError);
    await clock.advance(100);
    expect((await pending).status).toBe(200);
    expect(upstream.seen).toHaveLength(2);
  });

  it("bounds the whole call, waits included, with timeoutMs", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([status(503)]);
    const pending = createResilientFetch({
      fetch: upstream,
      clock,
      retry: { ...fixedRetry, maxAttempts: 10, baseDelayMs: 400 },
      timeoutMs: 1_000,
    })("https://a.example/").catch((e: unknown) => e);
    await clock.advance(1_000);
    const error = await pending;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).name).toBe("TimeoutError");
    expect(upstream.seen).toHaveLength(3); // at 0, 400 and 800 ms
  });

  it("cancels a pending retry wait at once when the caller aborts", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([status(503)]);
    const controller = new AbortController();
    const pending = createResilientFetch({ fetch: upstream, clock, retry: { ...fixedRetry, baseDelayMs: 60_000 } })(
      "https://a.example/",
      { signal: controller.signal },
    ).catch((e: unknown) => e);
    await clock.flush();
    const reason = new Error("user left");
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(clock.pending).toBe(0);
    await clock.advance(120_000);
    expect(upstream.seen).toHaveLength(1);
  });

  it("passes the caller's abort to the request in flight", async () => {
    const clock = new ManualClock();
    const upstream = scriptedFetch([stall]);
    const controller = new AbortController();
    const pending = createResilientFetch({ fetch: upstream, clock, retry: fixedRetry, attemptTimeoutMs: 5_000 })(
      new Request("https://a.example/", { signal: controller.signal }),
    ).catch((e: unknown) => e);
    await clock.flush();
    const reason = new Error("cancelled");
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(upstream.seen[0]!.signal.aborted).toBe(true);
    await clock.advance(10_000);
    expect(upstream.seen).toHaveLength(1);
  });

  it("rejects calls beyond the bulkhead", async () => {
    const clock = new ManualClock();
    let release: (response: Response) => void = () => {};
    const upstream = scriptedFetch([() => new Promise<Response>((resolve) => (release = resolve))]);
    const fetchLimited = createResilientFetch({ fetch: upstream, clock, bulkhead: { maxConcurrent: 1 } });
    const first = fetchLimited("https://a.example/1");
    await clock.flush();
    await expect(fetchLimited("https://a.example/2")).rejects.toBeInstanceOf(BulkheadRejectedError);
    release(new Response("ok"));
    expect((await first).status).toBe(200);
    expect(fetchLimited.bulkhead?.active).toBe(0);
    expect(upstream.seen).toHaveLength(1);
  });

  it("rejects bad options with a ConfigError naming each field", () => {
    const fieldsOf = (options: Parameters<typeof createResilientFetch>[0]): string[] => {
      try {
        createResilientFetch(options);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues.map((issue) => issue.field);
      }
      throw new Error("expected a ConfigError");
    };
    expect(fieldsOf({ attemptTimeoutMs: Number.NaN, timeoutMs: -1 })).toEqual(["attemptTimeoutMs", "timeoutMs"]);
    expect(fieldsOf({ retry: { maxAttempts: 0 } })).toEqual(["retry.maxAttempts"]);
    expect(fieldsOf({ circuitBreaker: { maxFailures: 0 } })).toEqual(["circuitBreaker.maxFailures"]);
    expect(fieldsOf({ bulkhead: { maxConcurrent: 1.5 } })).toEqual(["bulkhead.maxConcurrent"]);
    expect(fieldsOf({ retires: 3 } as never)).toEqual(["retires"]);
  });
});
