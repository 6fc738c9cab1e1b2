import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConfigError,
  configure,
  createRateLimiter,
  FixedWindowLimiter,
  GcraLimiter,
  getThrottleStats,
  InvalidArgumentError,
  type Limiter,
  RateLimiter,
  RateLimitExceededError,
  rateLimiter,
  rateLimitHeaders,
  SlidingWindowLimiter,
  throttle,
  Throttler,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { thrown } from "./_support/thrown.ts";

afterEach(() => configure({}));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("RateLimiter (token bucket)", () => {
  it("starts full, refuses when empty, refills at rate per perMs (the seeds' examples)", async () => {
    const clock = new ManualClock();
    expect(new RateLimiter({ rate: 10, perMs: 1_000, clock }).tokens).toBe(10);
    expect(new RateLimiter({ rate: 10, burst: 5, clock }).tokens).toBe(5);
    const limiter = new RateLimiter({ rate: 2, perMs: 1_000, clock });
    expect([limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()]).toEqual([true, true, false]);
    expect(limiter.timeUntilToken()).toBe(500);
    await clock.advance(250);
    expect(limiter.tokens).toBeCloseTo(0.5, 12);
    expect(limiter.timeUntilToken()).toBe(250);
    await clock.advance(250);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.stats).toEqual({ totalAcquired: 3, totalRejected: 1, totalWaitedMs: 0 });
    limiter.reset();
    expect(limiter.tokens).toBe(2);
  });

  it("takes its defaults from configure(), with burst defaulting to rate", () => {
    configure({ rateLimiter: { rate: 50, perMs: 60_000 } });
    const limiter = new RateLimiter();
    expect([limiter.rate, limiter.perMs, limiter.burst]).toEqual([50, 60_000, 50]);
    configure({ rateLimiter: { rate: 50, burst: 5 } });
    expect(new RateLimiter().burst).toBe(5);
  });

  it("serves waiters FIFO: a large request at the head is not starved by small ones", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 5, clock });
    expect(limiter.tryAcquire(5)).toBe(true);
    const served: Array<[string, number]> = [];
    const big = limiter.acquire({ cost: 5 }).then(() => served.push(["big", clock.now()]));
    const small = [1, 2, 3].map((i) => limiter.acquire().then(() => served.push([`small${i}`, clock.now()])));
    // Tokens trickle in, but nobody overtakes the head, not even tryAcquire.
    await clock.advance(100);
    expect(limiter.tokens).toBeCloseTo(1, 12);
    expect(limiter.tryAcquire()).toBe(false);
    expect(served).toEqual([]);
    await clock.advance(1_000);
    await Promise.all([big, ...small]);
    expect(served).toEqual([["big", 500], ["small1", 600], ["small2", 700], ["small3", 800]]);
    expect(limiter.stats.totalWaitedMs).toBe(500 + 600 + 700 + 800);
  });

  it("self-wake: gives each waiter one timer, due exactly when its tokens are (no polling)", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 4, perMs: 1_000, burst: 1, clock, wakeMode: "self" });
    limiter.tryAcquire();
    const done: number[] = [];
    for (let i = 0; i < 100; i++) limiter.acquire().then(() => done.push(clock.now()));
    expect(limiter.waiting).toBe(100);
    // Each waiter is woken by its own timer (on Workers, a timer belongs to
    // the request that set it), never by another caller's code.
    expect(clock.pending).toBe(100);
    await clock.advance(249);
    expect(done).toEqual([]);
    await clock.advance(1);
    expect(done).toEqual([250]);
    expect(clock.pending).toBe(99);
    await clock.advance(25_000);
    expect(done).toHaveLength(100);
    expect(done.every((t, i) => t === 250 * (i + 1))).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("rejects at once when the wait, behind everyone queued, would exceed timeoutMs", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 5, clock });
    limiter.tryAcquire(5);
    const head = limiter.acquire({ cost: 5, timeoutMs: 500 });
    const tooLate = await rejection(limiter.acquire({ timeoutMs: 599 }));
    expect(tooLate).toBeInstanceOf(RateLimitExceededError);
    expect((tooLate as RateLimitExceededError).retryAfterMs).toBe(600);
    expect(clock.now()).toBe(0);
    const inTime = limiter.acquire({ timeoutMs: 600 });
    expect(limiter.waiting).toBe(2);
    await clock.advance(600);
    await Promise.all([head, inTime]);
    expect(limiter.stats.totalRejected).toBe(1);
    // Without a queue, too: an empty bucket with no patience fails now.
    const error = await rejection(limiter.acquire({ timeoutMs: 0 }));
    expect((error as RateLimitExceededError).retryAfterMs).toBe(100);
  });

  it("hand-over: one timer for the queue, due exactly when the first waiter's tokens are (no polling)", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 4, perMs: 1_000, burst: 1, clock, wakeMode: "handover" });
    limiter.tryAcquire();
    const done: number[] = [];
    for (let i = 0; i < 100; i++) limiter.acquire().then(() => done.push(clock.now()));
    expect(limiter.waiting).toBe(100);
    expect(clock.pending).toBe(1);
    await clock.advance(249);
    expect(done).toEqual([]);
    await clock.advance(1);
    expect(done).toEqual([250]);
    // The timer that granted the first set the one for the next.
    expect(clock.pending).toBe(1);
    await clock.advance(25_000);
    expect(done).toHaveLength(100);
    expect(done.every((t, i) => t === 250 * (i + 1))).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("hand-over: an aborted waiter leaves at once and its units go to the waiters behind it", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 5, clock, wakeMode: "handover" });
    limiter.tryAcquire(5);
    await clock.advance(200); // 2 tokens in the bucket
    const controller = new AbortController();
    const head = limiter.acquire({ cost: 5, signal: controller.signal }); // due at 500
    const behind = limiter.acquire({ cost: 2 }); // projected at 700
    let servedAt: number | undefined;
    void behind.then(() => (servedAt = clock.now()));
    const reason = new Error("caller gave up");
    controller.abort(reason);
    expect(await rejection(head)).toBe(reason);
    // The 2 tokens in the bucket are the next waiter's now, not at 700.
    await clock.advance(0);
    expect(servedAt).toBe(200);
    expect(limiter.waiting).toBe(0);
    expect(limiter.tokens).toBeCloseTo(0, 12);
    expect(clock.pending).toBe(0);
  });

  it("self-wake: removes an aborted waiter at once and gives back nothing; the rest keep their times", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 5, clock, wakeMode: "self" });
    limiter.tryAcquire(5);
    await clock.advance(200); // 2 tokens in the bucket
    const controller = new AbortController();
    const head = limiter.acquire({ cost: 5, signal: controller.signal }); // due at 500
    const behind = limiter.acquire({ cost: 2 }); // due at 700
    // Behind a 5-token head, a timeout of 400 ms is not enough...
    expect(await rejection(limiter.acquire({ cost: 1, timeoutMs: 400 }))).toBeInstanceOf(RateLimitExceededError);
    const reason = new Error("caller gave up");
    controller.abort(reason);
    expect(await rejection(head)).toBe(reason);
    expect(limiter.waiting).toBe(1);
    // ...the head took nothing. The waiter behind is woken by its own timer,
    // at the time it was given (never later); no other caller's code may
    // wake it (see src/rate_limit/waiters.ts).
    let servedAt: number | undefined;
    void behind.then(() => (servedAt = clock.now()));
    await clock.advance(499);
    expect(servedAt).toBeUndefined();
    await clock.advance(1);
    expect(servedAt).toBe(700);
    expect(limiter.tokens).toBeCloseTo(3, 12);
    expect(limiter.waiting).toBe(0);
    // And the projection forgot the aborted head: 1 token is there now.
    const next = limiter.acquire({ cost: 1, timeoutMs: 100 });
    await next;
  });

  it("aborting a waiter in the middle keeps the order of the others", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 1, perMs: 100, burst: 1, clock });
    limiter.tryAcquire();
    const served: number[] = [];
    const controllers = Array.from({ length: 6 }, () => new AbortController());
    const waits = controllers.map((c, i) =>
      limiter.acquire({ signal: c.signal }).then(() => served.push(i), () => served.push(-i))
    );
    controllers[2]!.abort();
    controllers[4]!.abort();
    await clock.advance(1_000);
    await Promise.all(waits);
    expect(served).toEqual([-2, -4, 0, 1, 3, 5]);
    expect(clock.now()).toBe(1_000);
    expect(limiter.stats.totalAcquired).toBe(5);
  });

  it("an already aborted signal rejects with its reason and queues nothing", async () => {
    const limiter = new RateLimiter({ rate: 1, clock: new ManualClock() });
    const controller = new AbortController();
    controller.abort("stop");
    expect(await rejection(limiter.acquire({ signal: controller.signal }))).toBe("stop");
    expect(limiter.waiting).toBe(0);
    expect(limiter.tokens).toBe(1);
  });

  it("with many simultaneous callers, grants never exceed burst + rate × elapsed / perMs", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 10, max: 1_000 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 60 }),
        async (rate, perMs, burst, costs) => {
          const clock = new ManualClock();
          const limiter = new RateLimiter({ rate, perMs, burst, clock });
          const grants: Array<[number, number]> = [];
          const waits = costs.map((cost) =>
            limiter.acquire({ cost: Math.min(cost, burst) }).then(() => grants.push([clock.now(), Math.min(cost, burst)]))
          );
          const total = costs.reduce((sum, cost) => sum + Math.min(cost, burst), 0);
          await clock.advance(((total + burst) * perMs) / rate);
          await Promise.all(waits);
          expect(grants.map(([, cost]) => cost)).toEqual(costs.map((cost) => Math.min(cost, burst)));
          let units = 0;
          for (const [time, cost] of grants) {
            units += cost;
            expect(units).toBeLessThanOrEqual(burst + (rate * time) / perMs + 1e-9);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("stays exact over 10⁶ tryAcquire calls driven by a ManualClock", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 7, perMs: 3, burst: 4, clock });
    let granted = 0;
    for (let step = 0; step < 100_000; step++) {
      await clock.advance(1);
      for (let i = 0; i < 10; i++) if (limiter.tryAcquire()) granted++;
      if (granted > 4 + (7 * clock.now()) / 3) throw new Error(`over-admitted at ${clock.now()}`);
    }
    // Offered 10 per ms against 7/3 per ms, the limit is met exactly: the full
    // burst, then the refill from 1 ms on (the first ms refilled a full bucket).
    expect(granted).toBe(4 + Math.floor((7 * (100_000 - 1)) / 3));
    expect(limiter.stats.totalAcquired + limiter.stats.totalRejected).toBe(1_000_000);
  });

  it("says so rather than wait forever for a cost above burst", async () => {
    const limiter = new RateLimiter({ rate: 10, burst: 10, clock: new ManualClock() });
    const error = thrown(() => limiter.tryAcquire(11));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain("11");
    expect((error as Error).message).toContain("never");
    expect(await rejection(limiter.acquire({ cost: 11 }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(limiter.acquire({ cost: -1 }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(limiter.acquire({ timeoutMs: -5 }))).toBeInstanceOf(InvalidArgumentError);
    expect(limiter.waiting).toBe(0);
  });

  it("rejects bad options with a ConfigError naming each field", () => {
    const error = thrown(() => new RateLimiter({ rate: 0, perMs: -1, burst: 0.5 })) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.target).toBe("RateLimiter");
    expect(error.issues.map((i) => [i.field, i.value])).toEqual([["rate", 0], ["perMs", -1], ["burst", 0.5]]);
    const typo = thrown(() => new RateLimiter({ brust: 5 } as never)) as ConfigError;
    expect(typo.issues[0]?.allowed).toContain("did you mean 'burst'");
  });

  it("is a Policy: execute acquires, then runs the function with the caller's signal", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 1, perMs: 1_000, clock });
    expect(await limiter.execute(() => "first")).toBe("first");
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const second = limiter.execute(({ signal }) => {
      seen = signal;
      return "second";
    }, controller.signal);
    await clock.advance(1_000);
    expect(await second).toBe("second");
    expect(seen).toBe(controller.signal);
  });

  it("dispose rejects every waiter and leaves no timer", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 1, clock });
    limiter.tryAcquire();
    const waits = [limiter.acquire(), limiter.acquire()].map(rejection);
    limiter[Symbol.dispose]();
    for (const error of await Promise.all(waits)) expect(error).toBeInstanceOf(RateLimitExceededError);
    expect(limiter.waiting).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe("one interface, four algorithms", () => {
  const make = (name: string, clock: ManualClock): Limiter => {
    switch (name) {
      case "token-bucket":
        return createRateLimiter({ algorithm: "token-bucket", rate: 4, perMs: 1_000, clock });
      case "gcra":
        return createRateLimiter({ algorithm: "gcra", rate: 4, perMs: 1_000, clock });
      case "sliding-window":
        return createRateLimiter({ algorithm: "sliding-window", limit: 4, windowMs: 1_000, clock });
      default:
        return createRateLimiter({ algorithm: "fixed-window", limit: 4, windowMs: 1_000, clock });
    }
  };

  for (const name of ["token-bucket", "gcra", "sliding-window", "fixed-window"]) {
    it(`${name}: admits 4, refuses the 5th, waits FIFO, reports decisions`, async () => {
      const clock = new ManualClock();
      const limiter = make(name, clock);
      expect(limiter.algorithm.kind).toBe(name);
      expect(limiter.name).toBe(name);
      for (let i = 0; i < 4; i++) expect(limiter.tryAcquire()).toBe(true);
      const refused = limiter.consume();
      expect(refused.allowed).toBe(false);
      expect(refused.remaining).toBeCloseTo(0, 12);
      expect(refused.retryAfterMs).toBe(limiter.timeUntilAvailable());
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      const order: number[] = [];
      const waits = [1, 2, 3].map((i) => limiter.acquire().then(() => order.push(i)));
      await clock.advance(2_000);
      await Promise.all(waits);
      expect(order).toEqual([1, 2, 3]);
      expect(limiter.stats.totalAcquired).toBe(7);
      limiter.reset();
      expect(limiter.available).toBe(4);
    });
  }

  it("the window limiters report their count", async () => {
    const clock = new ManualClock();
    const sliding = new SlidingWindowLimiter({ limit: 3, windowMs: 1_000, clock });
    const approximate = new SlidingWindowLimiter({ limit: 10, windowMs: 1_000, approximate: true, clock });
    const fixed = new FixedWindowLimiter({ limit: 3, windowMs: 1_000, clock });
    sliding.tryAcquire(2);
    fixed.tryAcquire(2);
    approximate.tryAcquire(10);
    await clock.advance(500);
    sliding.tryAcquire();
    expect([sliding.count, fixed.count]).toEqual([3, 2]);
    await clock.advance(500);
    expect([sliding.count, fixed.count]).toEqual([1, 0]);
    await clock.advance(250);
    // 75 % of the previous window's 10 still counts.
    expect(approximate.count).toBeCloseTo(7.5, 9);
    expect(thrown(() => sliding.tryAcquire(1.5))).toBeInstanceOf(InvalidArgumentError);
  });

  it("GcraLimiter behaves as a token bucket of the same rate", async () => {
    const clock = new ManualClock();
    const gcra = new GcraLimiter({ rate: 5, perMs: 1_000, burst: 2, clock });
    const bucket = new RateLimiter({ rate: 5, perMs: 1_000, burst: 2, clock });
    for (let t = 0; t < 200; t++) {
      await clock.advance(37);
      for (let i = 0; i < 3; i++) expect(gcra.tryAcquire()).toBe(bucket.tryAcquire());
    }
  });

  it("rejects an unknown algorithm name", () => {
    const error = thrown(() => createRateLimiter({ algorithm: "leaky-bucket" } as never)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues[0]?.field).toBe("algorithm");
  });
});

describe("Throttler", () => {
  it("throttles functions with a token bucket and reports stats", async () => {
    const clock = new ManualClock();
    const throttler = new Throttler({ calls: 2, periodMs: 1_000, clock });
    const double = throttler.throttle(async (n: number) => n * 2);
    const results = [1, 2, 3].map((n) => double(n));
    await clock.flush();
    expect(throttler.limiter.waiting).toBe(1);
    await clock.advance(500);
    expect(await Promise.all(results)).toEqual([2, 4, 6]);
    expect(throttler.tryAcquire()).toBe(false);
    expect(throttler.getStats()).toEqual({ totalRequests: 4, allowedRequests: 3, deniedRequests: 1, totalWaitMs: 500 });
    expect(getThrottleStats(double)).toEqual(throttler.getStats());
  });

  it("caps any window with the sliding-window strategy", async () => {
    const clock = new ManualClock();
    const throttler = new Throttler({ calls: 3, periodMs: 1_000, strategy: "sliding-window", clock });
    for (let i = 0; i < 3; i++) expect(throttler.tryAcquire()).toBe(true);
    await clock.advance(999);
    expect(throttler.tryAcquire()).toBe(false);
    await clock.advance(1);
    expect(throttler.tryAcquire()).toBe(true);
  });

  it("refuses a burst with the sliding-window strategy, and bad calls", () => {
    const burst = thrown(() => new Throttler({ calls: 3, periodMs: 1_000, burst: 5, strategy: "sliding-window" }));
    expect((burst as ConfigError).issues[0]?.field).toBe("burst");
    const calls = thrown(() => new Throttler({ calls: 0, periodMs: 1_000 })) as ConfigError;
    expect(calls.issues[0]?.field).toBe("calls");
  });

  it("throttle() wraps one function with its own throttler", async () => {
    const ping = throttle(async () => "pong", { calls: 1, periodMs: 1_000, clock: new ManualClock() });
    expect(await ping()).toBe("pong");
    expect(getThrottleStats(ping)?.allowedRequests).toBe(1);
    expect(getThrottleStats(async () => "pong")).toBeUndefined();
  });
});

describe("rateLimiter() decorator", () => {
  it("waits by default; both call forms; keeps `this` and arguments", async () => {
    const clock = new ManualClock();
    const counter = {
      base: 10,
      add: rateLimiter(function (this: { base: number }, n: number) {
        return this.base + n;
      }, { rate: 1, perMs: 1_000, clock }),
    };
    expect(await counter.add(1)).toBe(11);
    const second = counter.add(2);
    await clock.advance(1_000);
    expect(await second).toBe(12);
    const limited = rateLimiter({ rate: 5, clock });
    const upper = limited(async (text: string) => text.toUpperCase());
    expect(await upper("ok")).toBe("OK");
    expect(upper.limiter.stats.totalAcquired).toBe(1);
  });

  it("with blocking: false, throws RateLimitExceededError carrying retryAfterMs", async () => {
    const clock = new ManualClock();
    const send = rateLimiter(async () => "sent", { rate: 4, perMs: 1_000, burst: 1, blocking: false, name: "send", clock });
    expect(await send()).toBe("sent");
    const error = await rejection(send()) as RateLimitExceededError;
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect(error.code).toBe("ERR_RATE_LIMIT_EXCEEDED");
    expect(error.retryAfterMs).toBe(250);
    expect(error.limiterName).toBe("send");
  });

  it("with timeoutMs, refuses up front a wait that is too long", async () => {
    const clock = new ManualClock();
    const call = rateLimiter(() => 1, { rate: 1, perMs: 1_000, timeoutMs: 100, clock });
    await call();
    expect(((await rejection(call())) as RateLimitExceededError).retryAfterMs).toBe(1_000);
  });

  it("validates its options", () => {
    const error = thrown(() => rateLimiter(() => 1, { rate: 0, blocking: "no" as never })) as ConfigError;
    expect(error.issues.map((i) => i.field).sort()).toEqual(["blocking", "rate"]);
  });
});

describe("rateLimitHeaders (draft-ietf-httpapi-ratelimit-headers-10)", () => {
  it("renders the policy and the current limit as Structured Fields", () => {
    const clock = new ManualClock();
    const limiter = new FixedWindowLimiter({ limit: 100, windowMs: 60_000, clock });
    limiter.tryAcquire(40);
    expect(rateLimitHeaders(limiter.consume())).toEqual({
      "RateLimit-Policy": '"default";q=100;w=60',
      RateLimit: '"default";r=59;t=60',
    });
  });

  it("adds Retry-After on refusal, rounding every second up", async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rate: 2, perMs: 1_000, burst: 2, clock });
    limiter.tryAcquire(2);
    await clock.advance(100);
    const headers = rateLimitHeaders(limiter.consume(), { policy: "per-user" });
    expect(headers["Retry-After"]).toBe("1");
    expect(headers.RateLimit).toBe('"per-user";r=0;t=1');
    expect(headers["RateLimit-Policy"]).toBe('"per-user";q=2;w=1');
  });

  it("encodes a partition key, a quota unit, and escapes the policy name", () => {
    const limiter = new RateLimiter({ rate: 10, clock: new ManualClock() });
    const headers = rateLimitHeaders(limiter.consume(), {
      policy: 'a"b\\c',
      partitionKey: "user-1",
      quotaUnit: "content-bytes",
    });
    expect(headers["RateLimit-Policy"]).toBe('"a\\"b\\\\c";q=10;qu="content-bytes";w=1;pk=:dXNlci0x:');
    expect(headers.RateLimit).toBe('"a\\"b\\\\c";r=9;t=1;pk=:dXNlci0x:');
    expect(thrown(() => rateLimitHeaders(limiter.consume(), { policy: "naïve" }))).toBeInstanceOf(TypeError);
  });
});
