import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

interface Outcome {
  outcome: string;
  elapsedMs: number;
}

async function call(workMs: number): Promise<Outcome> {
  const response = await SELF.fetch(`https://worker.test/timeout?workMs=${workMs}`);
  return await response.json();
}

// Policies built at global scope are shared by every request of an isolate.
// On Workers a timer belongs to the request that set it (it is cancelled
// when that request ends), and a promise settled by one request never
// resumes another that awaits it. These check that no request depends on
// another's timer or code: before the fix, a deadline armed by a request
// that had ended never fired, and rate-limited requests hung.
//
// These tests use real time, unlike the rest of the suite: what they check
// is how workerd ties real timers, promises and signals to requests, which a
// ManualClock cannot show. They wait about 3 s in all.
describe("a timeout shared by concurrent requests in workerd", () => {
  it("times out a request whose deadline timer was armed by a request that ended", async () => {
    const quick = call(10);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const slow = call(1_000);
    expect((await quick).outcome).toBe("slept 10 ms");
    const result = await slow;
    expect(result.outcome).toBe("TimeoutError");
    expect(result.elapsedMs).toBeLessThan(500);
  });

  it("keeps working for later requests", async () => {
    const results = await Promise.all([call(1), call(1_000), call(20), call(1_000)]);
    expect(results.map((r) => r.outcome)).toEqual(["slept 1 ms", "TimeoutError", "slept 20 ms", "TimeoutError"]);
  });
});

async function get(path: string): Promise<Outcome> {
  const response = await SELF.fetch(`https://worker.test${path}`);
  return await response.json();
}

describe("a resilient fetch shared by concurrent requests in workerd", () => {
  it("times out each stalled request on its own deadlines, while other requests come and go", async () => {
    const stalled = get("/upstream?path=/stall");
    const quick = await Promise.all([1, 2, 3].map(() => get("/upstream?path=/ok")));
    expect(quick.map((r) => r.outcome)).toEqual(["200 ok", "200 ok", "200 ok"]);
    const result = await stalled;
    // Two attempts of 200 ms each, both timed out, 10 ms apart; well before
    // workerd gives up. (Before the fix, the requests shared the abort
    // signal of a call made without one, and workerd refused it: "Cannot
    // perform I/O on behalf of a different request".)
    expect(result.outcome).toBe("RetryExhaustedError");
    expect(result.elapsedMs).toBeLessThan(2_000);
  });
});

describe("a bulkhead shared by concurrent requests in workerd", () => {
  it("refuses a request while another holds the slot, and frees it when that request ends", async () => {
    const first = get("/bulkhead?workMs=1000");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await get("/bulkhead?workMs=1")).outcome).toBe("BulkheadRejectedError");
    expect((await first).outcome).toBe("slept 1000 ms");
    expect((await get("/bulkhead?workMs=1")).outcome).toBe("slept 1 ms");
  });
});

describe("a bulkhead with a queue shared by concurrent requests in workerd", () => {
  it("runs queued requests in turn when they poll for their slot (pollMs)", async () => {
    const results = await Promise.all([1, 2, 3].map(() => get("/bulkhead-queue?workMs=30")));
    expect(results.map((r) => r.outcome)).toEqual(["slept 30 ms", "slept 30 ms", "slept 30 ms"]);
    // One at a time: the last one waited for the two before it.
    expect(Math.max(...results.map((r) => r.elapsedMs))).toBeGreaterThanOrEqual(60);
  });
});

describe("a bulkhead with a queue and default options shared by concurrent requests in workerd", () => {
  it("runs every one of 40 concurrent requests, two at a time (none hangs)", async () => {
    // Built without pollMs, as in the README's quick start. Before the
    // default polled on Workers, 38 of these were cancelled by workerd as
    // hung: a queued request was handed its slot by another request's code.
    const results = await Promise.all(Array.from({ length: 40 }, () => get("/bulkhead-default?workMs=5")));
    expect(results.map((r) => r.outcome)).toEqual(Array.from({ length: 40 }, () => "slept 5 ms"));
    // 20 rounds of 5 ms: the last request waited for those before it.
    expect(Math.max(...results.map((r) => r.elapsedMs))).toBeGreaterThanOrEqual(90);
    // Real requests on a real clock: 20 rounds of 5 ms plus polling take well
    // under a second alone, but several seconds on a loaded 2-core machine.
  }, 30_000);
});

describe("a rate limiter shared by concurrent requests in workerd", () => {
  it("wakes each waiting request in turn (one token per 500 ms)", async () => {
    const results = await Promise.all([get("/limiter"), get("/limiter"), get("/limiter")]);
    expect(results.map((r) => r.outcome)).toEqual(["acquired", "acquired", "acquired"]);
    // The first takes the burst token; the others wait their turn (about
    // 500 and 1000 ms; workerd's clock moves only on I/O, so loosely).
    expect(Math.max(...results.map((r) => r.elapsedMs))).toBeGreaterThanOrEqual(400);
  });
});
