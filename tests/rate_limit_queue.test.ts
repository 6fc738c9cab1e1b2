// The queue of callers waiting on a rate limiter (src/rate_limit/waiters.ts):
// the rate it delivers, its timers, the cost of enqueue and abort, and the
// arguments that must never wedge it. Time is a ManualClock; work is counted
// (timers, algorithm steps), never measured by the wall clock.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AlgorithmLimiter,
  type Clock,
  ConfigError,
  configure,
  createAlgorithm,
  createRateLimiter,
  FixedWindowLimiter,
  GcraLimiter,
  InvalidArgumentError,
  KeyedRateLimiter,
  type Limiter,
  RateLimiter,
  RateLimitExceededError,
  rateLimiter,
  SlidingWindowLimiter,
  throttle,
  Throttler,
  TokenBucket,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { counted, CountingClock } from "./_support/counting.ts";
import { thrown } from "./_support/thrown.ts";
import { withUserAgent } from "./_support/user_agent.ts";

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

type WakeMode = "handover" | "self";
const MODES: readonly WakeMode[] = ["handover", "self"];

interface Kind {
  readonly name: string;
  /** 10,000 units per second: burst 1, or windows of 100 per 10 ms. */
  make(clock: Clock, wakeMode?: WakeMode): Limiter;
}

const KINDS: readonly Kind[] = [
  {
    name: "token bucket",
    make: (clock, wakeMode) => new RateLimiter({ rate: 10_000, perMs: 1_000, burst: 1, clock, wakeMode }),
  },
  {
    name: "GCRA",
    make: (clock, wakeMode) => new GcraLimiter({ rate: 10_000, perMs: 1_000, burst: 1, clock, wakeMode }),
  },
  {
    name: "sliding window (log)",
    make: (clock, wakeMode) => new SlidingWindowLimiter({ limit: 100, windowMs: 10, clock, wakeMode }),
  },
  {
    // Saturated, the two-window estimate admits limit − 1 per window: 9,900/s.
    name: "sliding window (counter)",
    make: (clock, wakeMode) =>
      new SlidingWindowLimiter({ limit: 100, windowMs: 10, approximate: true, clock, wakeMode }),
  },
  {
    name: "fixed window",
    make: (clock, wakeMode) => new FixedWindowLimiter({ limit: 100, windowMs: 10, clock, wakeMode }),
  },
];

/** Queues 5,000 acquire() on `limiter`, lets them all be granted; returns the grant order and times. */
async function drainFiveThousand(clock: CountingClock, limiter: Limiter): Promise<{ times: number[]; queued: number }> {
  const order: number[] = [];
  const times: number[] = [];
  const waits = Array.from({ length: 5_000 }, (_, i) =>
    limiter.acquire().then(() => {
      order.push(i);
      times.push(clock.now());
    }));
  const queued = limiter.waiting;
  expect(queued).toBeGreaterThanOrEqual(4_900);
  await clock.advance(480);
  expect(order.length).toBeLessThan(5_000);
  await clock.advance(30);
  await Promise.all(waits);
  expect(order).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
  const last = times[times.length - 1]!;
  expect(last).toBeGreaterThanOrEqual(489);
  expect(last).toBeLessThanOrEqual(505);
  // The configured rate, delivered: 5,000 grants in about 0.5 s.
  expect(5_000 / (last / 1_000)).toBeGreaterThan(9_800);
  expect(clock.pending).toBe(0);
  expect(limiter.waiting).toBe(0);
  expect(limiter.stats.totalAcquired).toBe(5_000);
  return { times, queued };
}

describe("a limiter with many queued callers", () => {
  for (const kind of KINDS) {
    it(`${kind.name}, hand-over: 5,000 queued acquire() at 10,000/s settle at 0.5 s, FIFO, one timer per wake-up`, async () => {
      // Timers fire on whole milliseconds, and up to 0.9 ms early, as setTimeout's do against performance.now().
      const clock = new CountingClock(0.9, 1);
      const limiter = kind.make(clock, "handover");
      const { queued } = await drainFiveThousand(clock, limiter);
      // One timer per millisecond at most (per window for the windows), not one per waiter.
      expect(clock.scheduled).toBeLessThanOrEqual(510);
      expect(clock.scheduled).toBeLessThan(queued / 9);
      expect(clock.fired).toBe(clock.scheduled);
    }, 30_000);

    it(`${kind.name}, self-wake: 5,000 queued acquire() at 10,000/s settle at 0.5 s, FIFO, one timer each`, async () => {
      const clock = new CountingClock(0.9);
      const limiter = kind.make(clock, "self");
      const waits = drainFiveThousand(clock, limiter);
      // One timer per waiter, set when it queued: none per millisecond, none per other waiter.
      const queued = limiter.waiting;
      expect(clock.scheduled).toBe(queued);
      await waits;
      expect(clock.fired).toBe(queued);
      expect(clock.scheduled).toBe(queued);
    }, 30_000);
  }

  for (const wakeMode of MODES) {
    it(`${wakeMode}: a timer firing early by under a millisecond grants; one firing earlier sets one more timer, never a loop`, async () => {
      for (const [earlyMs, extra] of [[0.9, false], [5, true]] as const) {
        const clock = new CountingClock(earlyMs);
        const limiter = new RateLimiter({ rate: 100, perMs: 1_000, burst: 1, clock, wakeMode });
        limiter.tryAcquire();
        const times: number[] = [];
        const waits = Array.from({ length: 100 }, () => limiter.acquire().then(() => times.push(clock.now())));
        await clock.advance(1_010);
        await Promise.all(waits);
        // Self-wake: every waiter's timer was set outside a timer callback, so
        // each may fire early; hand-over: only the first timer was.
        const early = extra ? (wakeMode === "self" ? 100 : 1) : 0;
        expect(clock.scheduled).toBe(100 + early);
        // Never more than one millisecond ahead of the reserved time (10 ms apart).
        times.forEach((time, i) => expect(time).toBeGreaterThanOrEqual(10 * (i + 1) - 1));
        expect(limiter.tryAcquire()).toBe(true);
      }
    });

    it(`${wakeMode}: a grant a little early still holds the limit until its time`, async () => {
      const clock = new CountingClock(0.9);
      const limiter = new FixedWindowLimiter({ limit: 1, windowMs: 10, clock, wakeMode });
      limiter.tryAcquire();
      let granted = false;
      void limiter.acquire().then(() => (granted = true)); // due in the window from 10 ms
      await clock.advance(9.5);
      expect(granted).toBe(true);
      // Still window 0 on the clock, but window 1 is taken: no one slips into window 0 behind it.
      expect(limiter.tryAcquire()).toBe(false);
      await clock.advance(0.5);
      expect(limiter.tryAcquire()).toBe(false);
      await clock.advance(10);
      expect(limiter.tryAcquire()).toBe(true);
    });

    it(`${wakeMode}: a wait longer than the longest timer (2³¹ − 1 ms) takes one more timer, not an early grant`, async () => {
      const clock = new CountingClock();
      const limiter = new RateLimiter({ rate: 1, perMs: 3_000_000_000, burst: 1, clock, wakeMode });
      limiter.tryAcquire();
      let granted = false;
      void limiter.acquire().then(() => (granted = true));
      await clock.advance(2 ** 31);
      expect(granted).toBe(false);
      await clock.advance(3_000_000_000 - 2 ** 31);
      expect(granted).toBe(true);
      expect(clock.scheduled).toBe(2);
    });

    it(`${wakeMode}: what is available counts grants, not reservations: never negative while callers wait`, async () => {
      const clock = new CountingClock();
      const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 2, clock, wakeMode });
      const keyed = new KeyedRateLimiter({
        algorithm: "token-bucket",
        rate: 10,
        perMs: 1_000,
        burst: 2,
        clock,
        wakeMode,
      });
      limiter.tryAcquire(2);
      keyed.tryAcquire("k", 2);
      const waits = Array.from({ length: 10 }, () => [limiter.acquire(), keyed.acquire("k")]).flat();
      await clock.advance(50);
      expect(limiter.available).toBeCloseTo(0.5, 9);
      expect(keyed.available("k")).toBeCloseTo(0.5, 9);
      expect(limiter.consume().remaining).toBe(0);
      await clock.advance(1_000);
      await Promise.all(waits);
      // The last grant was at 1,000 ms; 50 ms of refill since.
      expect(limiter.available).toBeCloseTo(0.5, 9);
      expect(keyed.available("k")).toBeCloseTo(0.5, 9);
    });

    it(`${wakeMode}: timeouts are decided up front, behind everyone queued, and reserve nothing when refused`, async () => {
      const clock = new CountingClock();
      const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 1, clock, wakeMode });
      limiter.tryAcquire();
      const first = limiter.acquire({ timeoutMs: 100 }); // due at 100
      const refused = await rejection(limiter.acquire({ timeoutMs: 199 })); // would be due at 200
      expect(refused).toBeInstanceOf(RateLimitExceededError);
      expect((refused as RateLimitExceededError).retryAfterMs).toBe(200);
      expect(clock.scheduled).toBe(1);
      // The refused caller took no place: the next one is due at 200.
      let servedAt: number | undefined;
      const second = limiter.acquire({ timeoutMs: 200 }).then(() => (servedAt = clock.now()));
      expect(limiter.timeUntilAvailable()).toBe(300);
      await clock.advance(200);
      await Promise.all([first, second]);
      expect(servedAt).toBe(200);
    });
  }

  it("hand-over, reset(): the callers waiting are served from the fresh state at once, in order", async () => {
    const clock = new CountingClock();
    const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 2, clock, wakeMode: "handover" });
    limiter.tryAcquire(2);
    const served: number[] = [];
    const first = [limiter.acquire(), limiter.acquire()].map((p) => p.then(() => served.push(clock.now())));
    limiter.reset();
    // Still strictly FIFO: the fresh burst is not for jumping the queue.
    expect(limiter.tryAcquire()).toBe(false);
    const later = limiter.acquire().then(() => served.push(clock.now()));
    await clock.advance(1_000);
    await Promise.all([...first, later]);
    // The fresh bucket (2) serves the two waiters now; the newcomer waits for the next token.
    expect(served).toEqual([0, 0, 100]);
    expect(clock.pending).toBe(0);
  });

  it("self-wake, reset(): callers already waiting keep their times, newcomers are served behind them from the fresh state", async () => {
    const clock = new CountingClock();
    const limiter = new RateLimiter({ rate: 10, perMs: 1_000, burst: 2, clock, wakeMode: "self" });
    limiter.tryAcquire(2);
    const served: number[] = [];
    const first = [limiter.acquire(), limiter.acquire()].map((p) => p.then(() => served.push(clock.now())));
    limiter.reset();
    // Still strictly FIFO: the fresh burst is not for jumping the queue.
    expect(limiter.tryAcquire()).toBe(false);
    const later = limiter.acquire().then(() => served.push(clock.now()));
    await clock.advance(1_000);
    await Promise.all([...first, later]);
    // The fresh bucket (2) covers the two waiters at their times; the newcomer comes right after.
    expect(served).toEqual([100, 200, 200]);
    expect(clock.pending).toBe(0);
  });

  /**
   * 100,000 callers at 50,000/s (one unit every 0.02 ms), every other one
   * aborted as soon as all are queued; returns each survivor's grant time.
   */
  async function halfAborted(clock: CountingClock, wakeMode: WakeMode): Promise<{ limiter: Limiter; times: number[] }> {
    const limiter = new RateLimiter({ rate: 50_000, perMs: 1_000, burst: 1, clock, wakeMode });
    limiter.tryAcquire();
    const n = 100_000;
    // Every other waiter will give up (only they need a signal).
    const controllers = Array.from({ length: n }, (_, i) => (i % 2 === 1 ? new AbortController() : undefined));
    const times: number[] = [];
    let aborted = 0;
    let outOfOrder = 0;
    const waits = controllers.map((controller, i) =>
      limiter.acquire(controller && { signal: controller.signal }).then(
        () => {
          if (times.length !== i / 2) outOfOrder++;
          times.push(clock.now());
        },
        () => aborted++,
      )
    );
    expect(limiter.waiting).toBe(n);
    const reason = new Error("gave up");
    for (let i = 1; i < n; i += 2) controllers[i]!.abort(reason);
    await clock.manual.flush();
    expect(aborted).toBe(n / 2);
    expect(limiter.waiting).toBe(n / 2);
    await clock.advance(2_000);
    await Promise.all(waits);
    expect(times).toHaveLength(n / 2);
    expect(outOfOrder).toBe(0);
    // Nothing left: no waiter, no timer.
    expect(limiter.waiting).toBe(0);
    expect(clock.pending).toBe(0);
    return { limiter, times };
  }

  it("hand-over: 100,000 waiters, half aborted: the rest are granted at the configured rate, one timer per wake-up, and nothing is left", async () => {
    // setTimeout's whole milliseconds: about 50 grants per wake-up at 50,000/s.
    const clock = new CountingClock(0, 1);
    const { limiter, times } = await halfAborted(clock, "handover");
    // The survivors move up into the aborted callers' slots: 50,000 at 50,000/s take 1 s.
    const last = times[times.length - 1]!;
    expect(last).toBeGreaterThanOrEqual(999);
    expect(last).toBeLessThanOrEqual(1_001);
    // No grant ahead of its time, none more than a tick behind it.
    times.forEach((time, k) => {
      if (time < (k + 1) * 0.02 - 1e-6 || time > (k + 1) * 0.02 + 1) throw new Error(`grant ${k} at ${time}`);
    });
    // One timer per wake-up (a millisecond tick), none per waiter, none per abort.
    expect(clock.scheduled).toBeLessThanOrEqual(1_002);
    expect(clock.fired).toBe(clock.scheduled);
    // Nothing held over: the limit is back to its configured rate at once.
    await clock.advance(0.02);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
  }, 60_000);

  it("self-wake: 100,000 waiters, half aborted: the rest keep their reserved times (half the rate), and nothing is left", async () => {
    const clock = new CountingClock();
    const { limiter, times } = await halfAborted(clock, "self");
    // Each survivor at its own slot: (i + 1) × 0.02 ms, i counting the aborted too.
    times.forEach((time, k) => {
      if (Math.abs(time - (2 * k + 1) * 0.02) > 1e-6) throw new Error(`grant ${k} at ${time}`);
    });
    expect(times[times.length - 1]).toBeLessThanOrEqual(2_000);
    expect(clock.fired).toBe(50_000);
    expect(clock.scheduled).toBe(100_000);
    await clock.advance(0.02);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
  }, 60_000);

  it("hand-over: aborts at the front let those behind move up at once, with no timer per abort", async () => {
    const clock = new CountingClock();
    const limiter = new RateLimiter({ rate: 1_000, perMs: 1_000, burst: 1, clock, wakeMode: "handover" });
    limiter.tryAcquire();
    const controllers = Array.from({ length: 1_000 }, () => new AbortController());
    const times: number[] = [];
    const waits = controllers.map((c) => limiter.acquire({ signal: c.signal }).then(() => times.push(clock.now()), () => undefined));
    expect(clock.scheduled).toBe(1);
    // The first 500 give up, first first: each time the next is first, due when the one before was.
    for (let i = 0; i < 500; i++) controllers[i]!.abort();
    expect(clock.scheduled).toBe(1);
    // A newcomer is told the projected wait (an upper bound: aborted callers
    // still count until a replay), and served at the first free slot.
    const told = limiter.timeUntilAvailable();
    expect(told).toBeGreaterThanOrEqual(501);
    expect(told).toBeLessThanOrEqual(1_001);
    let newcomerAt: number | undefined;
    const newcomer = limiter.acquire().then(() => (newcomerAt = clock.now()));
    await clock.advance(600);
    await Promise.all([...waits, newcomer]);
    expect(times).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(newcomerAt).toBe(501);
    expect(clock.pending).toBe(0);
  });

  it("self-wake: aborts at the front leave their slots empty; newcomers queue behind the live ones", async () => {
    const clock = new CountingClock();
    const limiter = new RateLimiter({ rate: 1_000, perMs: 1_000, burst: 1, clock, wakeMode: "self" });
    limiter.tryAcquire();
    const controllers = Array.from({ length: 1_000 }, () => new AbortController());
    const times: number[] = [];
    const waits = controllers.map((c) => limiter.acquire({ signal: c.signal }).then(() => times.push(clock.now()), () => undefined));
    for (let i = 0; i < 500; i++) controllers[i]!.abort();
    let newcomerAt: number | undefined;
    const newcomer = limiter.acquire().then(() => (newcomerAt = clock.now()));
    await clock.advance(1_100);
    await Promise.all([...waits, newcomer]);
    // The survivors keep their times: nothing for the first 500 ms.
    expect(times).toEqual(Array.from({ length: 500 }, (_, i) => 501 + i));
    expect(newcomerAt).toBe(1_001);
  });

  for (const wakeMode of MODES) {
    it(`${wakeMode}: gives the units of aborted waiters back (to those behind, or to whoever queues next)`, async () => {
      const clock = new CountingClock();
      const limiter = new RateLimiter({ rate: 1_000, perMs: 1_000, burst: 1, clock, wakeMode });
      limiter.tryAcquire();
      const controllers = Array.from({ length: 1_000 }, () => new AbortController());
      const waits = controllers.map((c) => limiter.acquire({ signal: c.signal }).then(() => "granted", () => "aborted"));
      expect(limiter.timeUntilAvailable()).toBe(1_001);
      // The last 900 give up, latest first. Their units go to the next caller,
      // all but at most a quarter of the live reservations' worth (replays are
      // amortised over aborts and enqueues).
      for (let i = 999; i >= 100; i--) controllers[i]!.abort();
      const wait = limiter.timeUntilAvailable();
      expect(wait).toBeGreaterThanOrEqual(101);
      expect(wait).toBeLessThanOrEqual(101 + 25);
      let servedAt: number | undefined;
      const next = limiter.acquire().then(() => (servedAt = clock.now()));
      await clock.advance(wait);
      await next;
      // Self-wake: at the time it was told; hand-over: at the first free slot, never later.
      expect(servedAt).toBe(wakeMode === "self" ? wait : 101);
      expect((await Promise.all(waits)).filter((w) => w === "granted")).toHaveLength(100);
      while (limiter.tryAcquire());
      // Once nobody waits, everything aborted is given back, whatever the order.
      const more = Array.from({ length: 100 }, () => new AbortController());
      const moreWaits = more.map((c) => limiter.acquire({ signal: c.signal }).catch(() => "aborted"));
      for (const c of more) c.abort();
      expect(await Promise.all(moreWaits)).toEqual(more.map(() => "aborted"));
      expect(limiter.waiting).toBe(0);
      await clock.advance(1);
      expect(limiter.tryAcquire()).toBe(true);
      // And so are the units of callers rejected by dispose.
      const rejected = [limiter.acquire(), limiter.acquire(), limiter.acquire()].map(rejection);
      limiter[Symbol.dispose]();
      for (const error of await Promise.all(rejected)) expect(error).toBeInstanceOf(RateLimitExceededError);
      await clock.advance(1);
      expect(limiter.tryAcquire()).toBe(true);
      expect(clock.pending).toBe(0);
    });

    it(`${wakeMode}: enqueue and abort cost the same work with 1,000 or 20,000 waiters; aborting all of n costs O(n)`, async () => {
      const work: number[] = [];
      for (const n of [1_000, 20_000]) {
        const algorithm = counted(new TokenBucket({ rate: 1_000, perMs: 1_000, burst: 1 }));
        const clock = new CountingClock();
        const limiter = new AlgorithmLimiter(algorithm, { clock, wakeMode });
        limiter.tryAcquire();
        const controllers = Array.from({ length: n }, () => new AbortController());
        const waits = controllers.map((c) => limiter.acquire({ signal: c.signal }).catch(() => undefined));
        const before = algorithm.work;
        const timers = clock.scheduled;
        // 100 rounds of churn in the middle of the queue: one abort, one enqueue.
        for (let round = 0; round < 100; round++) {
          controllers[Math.floor(n / 2) + round]!.abort();
          const extra = new AbortController();
          controllers.push(extra);
          waits.push(limiter.acquire({ signal: extra.signal }).catch(() => undefined));
        }
        work.push(algorithm.work - before);
        // Self-wake: a timer per newcomer; hand-over: none.
        expect(clock.scheduled - timers).toBe(wakeMode === "self" ? 100 : 0);
        const beforeAll = algorithm.work;
        // Abort everyone, in a scrambled order.
        let seed = 42;
        const order = [...controllers.keys()];
        for (let i = order.length - 1; i > 0; i--) {
          seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
          const j = seed % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        for (const i of order) controllers[i]!.abort();
        await Promise.all(waits);
        expect(limiter.waiting).toBe(0);
        expect(clock.pending).toBe(0);
        // Replays after mass aborts are paid for by the aborts: O(1) amortised
        // (a hand-over replay searches each caller's time afresh: a few steps each).
        expect(algorithm.work - beforeAll).toBeLessThan((wakeMode === "self" ? 6 : 12) * controllers.length);
      }
      expect(work[0]).toBe(work[1]);
      expect(work[0]).toBeLessThanOrEqual(100 * 4);
    }, 60_000);
  }
});

describe("the wake mode: hand-over off Workers, self-wake on Workers, or as given", () => {
  /** One limiter of every kind, built with `options`; their wake modes. */
  function modes(options: { wakeMode?: WakeMode } = {}): WakeMode[] {
    const clock = new ManualClock();
    return [
      new RateLimiter({ clock, ...options }).wakeMode,
      new GcraLimiter({ clock, ...options }).wakeMode,
      new SlidingWindowLimiter({ limit: 5, windowMs: 1_000, clock, ...options }).wakeMode,
      new FixedWindowLimiter({ limit: 5, windowMs: 1_000, clock, ...options }).wakeMode,
      new AlgorithmLimiter(new TokenBucket(), { clock, ...options }).wakeMode,
      createRateLimiter({ algorithm: "gcra", clock, ...options }).wakeMode,
      new Throttler({ calls: 5, periodMs: 1_000, clock, ...options }).limiter.wakeMode,
      new Throttler({ calls: 5, periodMs: 1_000, strategy: "sliding-window", clock, ...options }).limiter.wakeMode,
      rateLimiter(() => 1, { clock, ...options }).limiter.wakeMode,
      new KeyedRateLimiter({ algorithm: "fixed-window", limit: 5, windowMs: 1_000, clock, ...options }).wakeMode,
    ];
  }

  it("defaults to self-wake on this runtime if it is Workers, to hand-over elsewhere", () => {
    const userAgent = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent;
    const expected = userAgent === "Cloudflare-Workers" ? "self" : "handover";
    expect(modes()).toEqual(modes().map(() => expected));
  });

  it("reads the runtime when a limiter is built", () => {
    let onWorkers: WakeMode[] = [];
    let elsewhere: WakeMode[] = [];
    const changed = withUserAgent("Cloudflare-Workers", () => (onWorkers = modes())) &&
      withUserAgent("Mozilla/5.0", () => (elsewhere = modes()));
    if (!changed) return; // This runtime's navigator cannot be replaced; the test above covers it.
    expect(onWorkers).toEqual(onWorkers.map(() => "self"));
    expect(elsewhere).toEqual(elsewhere.map(() => "handover"));
  });

  it("takes an explicit wakeMode, or configure()'s, as given on every runtime", () => {
    for (const userAgent of ["Cloudflare-Workers", "Mozilla/5.0"]) {
      withUserAgent(userAgent, () => {
        for (const wakeMode of MODES) {
          expect(modes({ wakeMode })).toEqual(modes().map(() => wakeMode));
          configure({ rateLimiter: { wakeMode } });
          try {
            expect(modes()).toEqual(modes().map(() => wakeMode));
            const other = wakeMode === "self" ? "handover" : "self";
            expect(modes({ wakeMode: other })).toEqual(modes().map(() => other));
          } finally {
            configure({});
          }
        }
      });
    }
  });

  it("refuses a wake mode it does not know, naming the field", () => {
    for (const make of [
      () => new RateLimiter({ wakeMode: "fast" as never }),
      () => new KeyedRateLimiter({ algorithm: "gcra", wakeMode: "poll" as never }),
      () => new Throttler({ calls: 1, periodMs: 1, wakeMode: 1 as never }),
      () => configure({ rateLimiter: { wakeMode: "both" as never } }),
    ]) {
      const error = thrown(make) as ConfigError;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.issues).toHaveLength(1);
      expect(error.issues[0]!.field.endsWith("wakeMode")).toBe(true);
      expect(error.issues[0]!.allowed).toContain('"handover"');
    }
    expect(new RateLimiter().wakeMode).toBe(modes()[0]);
  });

  for (const wakeMode of MODES) {
    it(`${wakeMode}: a keyed limiter keeps one queue per key; an abort on one key moves nobody on another`, async () => {
      const clock = new CountingClock();
      const limiter = new KeyedRateLimiter({
        algorithm: "token-bucket",
        rate: 10,
        perMs: 1_000,
        burst: 1,
        clock,
        wakeMode,
      });
      const served: string[] = [];
      const waits: Promise<unknown>[] = [];
      const controllers: AbortController[] = [];
      for (const key of ["a", "b"]) {
        limiter.tryAcquire(key);
        for (let i = 0; i < 3; i++) {
          const controller = new AbortController();
          controllers.push(controller);
          waits.push(
            limiter.acquire(key, { signal: controller.signal })
              .then(() => served.push(`${key}${i}@${clock.now()}`), () => undefined),
          );
        }
      }
      // Hand-over: one timer per key's queue; self-wake: one per waiter.
      expect(clock.pending).toBe(wakeMode === "handover" ? 2 : 6);
      controllers[0]!.abort(); // a0, first on key a
      await clock.advance(1_000);
      await Promise.all(waits);
      // Hand-over: a1 takes a0's slot; self-wake: it keeps its own. Key b is untouched.
      expect(served).toEqual(
        wakeMode === "handover"
          ? ["a1@100", "b0@100", "a2@200", "b1@200", "b2@300"]
          : ["b0@100", "a1@200", "b1@200", "a2@300", "b2@300"],
      );
      expect(clock.pending).toBe(0);
    });
  }
});

describe("grant times never exceed the configured rate (fast-check)", () => {
  /** A run: callers arriving over time with costs, some aborting later. */
  const runs = fc.array(
    fc.record({
      gapMs: fc.integer({ min: 0, max: 30 }),
      cost: fc.integer({ min: 1, max: 4 }),
      abortAfterMs: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
      tryFirst: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  );

  /**
   * Replays `run` on `limiter`; returns the grants as [time, cost], in grant
   * order. Checks on the way that no caller is granted later than
   * `timeUntilAvailable` told it just before it queued: what makes a
   * timeout decided up front hold.
   */
  async function replay(clock: ManualClock, limiter: Limiter, run: Array<{
    gapMs: number;
    cost: number;
    abortAfterMs: number | undefined;
    tryFirst: boolean;
  }>): Promise<{ grants: Array<[number, number]>; order: number[] }> {
    const grants: Array<[number, number]> = [];
    const order: number[] = [];
    const waits: Promise<unknown>[] = [];
    const aborts: Array<[number, AbortController]> = [];
    for (const [i, caller] of run.entries()) {
      await clock.advance(caller.gapMs);
      for (const [at, controller] of aborts) if (at <= clock.now()) controller.abort();
      if (caller.tryFirst && limiter.tryAcquire(caller.cost)) {
        grants.push([clock.now(), caller.cost]);
        continue;
      }
      const controller = new AbortController();
      if (caller.abortAfterMs !== undefined) aborts.push([clock.now() + caller.abortAfterMs, controller]);
      const told = clock.now() + limiter.timeUntilAvailable(caller.cost);
      waits.push(limiter.acquire({ cost: caller.cost, signal: controller.signal }).then(() => {
        grants.push([clock.now(), caller.cost]);
        order.push(i);
        if (clock.now() > told + 1e-6) throw new Error(`caller ${i} granted at ${clock.now()}, told ${told}`);
      }, (error: unknown) => {
        if (!controller.signal.aborted) throw error;
      }));
    }
    for (let t = 0; t < 10; t++) {
      await clock.advance(20);
      for (const [at, controller] of aborts) if (at <= clock.now()) controller.abort();
    }
    // Then long enough for every reservation (160 units at 1 per 100 ms at worst).
    await clock.advance(20_000);
    await Promise.all(waits);
    expect(limiter.waiting).toBe(0);
    return { grants, order };
  }

  const EPS = 1e-6;

  const wakeModes = fc.constantFrom<WakeMode>("handover", "self");

  it("token bucket and GCRA, both wake modes: any interval [a, b] admits at most burst + rate × (b − a)", async () => {
    await fc.assert(
      fc.asyncProperty(wakeModes, fc.boolean(), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 4, max: 8 }), runs, async (wakeMode, gcra, rate, burst, run) => {
        const clock = new ManualClock();
        const options = { rate, perMs: 100, burst, clock, wakeMode };
        const limiter = gcra ? new GcraLimiter(options) : new RateLimiter(options);
        const { grants, order } = await replay(clock, limiter, run);
        expect(order).toEqual([...order].sort((a, b) => a - b));
        for (let a = 0; a < grants.length; a++) {
          let units = 0;
          for (let b = a; b < grants.length; b++) {
            units += grants[b]![1];
            expect(units).toBeLessThanOrEqual(burst + (rate * (grants[b]![0] - grants[a]![0])) / 100 + EPS);
          }
        }
      }),
      { numRuns: 100 },
    );
  }, 60_000);

  it("sliding window (log), both wake modes: any window of windowMs admits at most limit", async () => {
    await fc.assert(
      fc.asyncProperty(wakeModes, fc.integer({ min: 4, max: 8 }), fc.integer({ min: 10, max: 100 }), runs, async (wakeMode, limit, windowMs, run) => {
        const clock = new ManualClock();
        const limiter = new SlidingWindowLimiter({ limit, windowMs, clock, wakeMode });
        const { grants, order } = await replay(clock, limiter, run);
        expect(order).toEqual([...order].sort((a, b) => a - b));
        for (const [end] of grants) {
          const units = grants.filter(([t]) => t > end - windowMs + EPS && t <= end + EPS)
            .reduce((sum, [, cost]) => sum + cost, 0);
          expect(units).toBeLessThanOrEqual(limit);
        }
      }),
      { numRuns: 100 },
    );
  }, 60_000);

  it("fixed window and sliding window (counter), both wake modes: each fixed window admits at most limit", async () => {
    await fc.assert(
      fc.asyncProperty(wakeModes, fc.boolean(), fc.integer({ min: 4, max: 8 }), fc.integer({ min: 10, max: 100 }), runs, async (wakeMode, counter, limit, windowMs, run) => {
        const clock = new ManualClock();
        const limiter = counter
          ? new SlidingWindowLimiter({ limit, windowMs, approximate: true, clock, wakeMode })
          : new FixedWindowLimiter({ limit, windowMs, clock, wakeMode });
        const { grants, order } = await replay(clock, limiter, run);
        expect(order).toEqual([...order].sort((a, b) => a - b));
        const perWindow = new Map<number, number>();
        for (const [t, cost] of grants) {
          const window = Math.floor((t + EPS) / windowMs);
          perWindow.set(window, (perWindow.get(window) ?? 0) + cost);
        }
        for (const units of perWindow.values()) expect(units).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});

describe("bad arguments never wedge a limiter", () => {
  const junkSignals: unknown[] = [42, "signal", {}, { aborted: false }, null];
  /** A signal that passes the shape check but refuses listeners. */
  const hostile = {
    aborted: false,
    reason: undefined,
    addEventListener() {
      throw new Error("no listeners here");
    },
    removeEventListener() {},
  } as unknown as AbortSignal;

  for (const kind of KINDS) {
    it(`${kind.name}: junk acquire arguments reject, leave no waiter, and the next calls work`, async () => {
      const clock = new CountingClock();
      const limiter = kind.make(clock);
      while (limiter.tryAcquire());
      const ahead = limiter.acquire();
      expect(limiter.waiting).toBe(1);
      for (const signal of junkSignals) {
        const error = (await rejection(limiter.acquire({ signal } as never))) as InvalidArgumentError;
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error.argument).toBe("options.signal");
      }
      for (const options of [2_000, null, "fast", [1]]) {
        const error = (await rejection(limiter.acquire(options as never))) as InvalidArgumentError;
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error.argument).toBe("options");
      }
      for (const cost of [null, "1", 0, -1, NaN, Infinity, 1_000]) {
        const error = (await rejection(limiter.acquire({ cost } as never))) as InvalidArgumentError;
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error.argument).toBe("options.cost");
        // One rule for every way of giving a cost.
        expect(thrown(() => limiter.tryAcquire(cost as never))).toBeInstanceOf(InvalidArgumentError);
        expect(thrown(() => limiter.consume(cost as never))).toBeInstanceOf(InvalidArgumentError);
        expect(thrown(() => limiter.timeUntilAvailable(cost as never))).toBeInstanceOf(InvalidArgumentError);
      }
      for (const timeoutMs of [-1, NaN, "10", null]) {
        const error = (await rejection(limiter.acquire({ timeoutMs } as never))) as InvalidArgumentError;
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error.argument).toBe("options.timeoutMs");
      }
      expect(await rejection(limiter.acquire({ signal: hostile }))).toBeInstanceOf(Error);
      expect(await rejection(limiter.execute(42 as never))).toBeInstanceOf(InvalidArgumentError);
      expect(await rejection(limiter.execute(() => 1, {} as never))).toBeInstanceOf(InvalidArgumentError);
      // Nothing queued, nothing scheduled, nothing reserved: only the caller ahead.
      expect(limiter.waiting).toBe(1);
      expect(clock.scheduled).toBe(1);
      const behind = limiter.acquire({ cost: undefined });
      expect(limiter.waiting).toBe(2);
      await clock.advance(20);
      await Promise.all([ahead, behind]);
      await clock.advance(20);
      expect(limiter.tryAcquire()).toBe(true);
      expect(clock.pending).toBe(0);
      while (limiter.tryAcquire());
      const last = rejection(limiter.acquire());
      expect(() => limiter[Symbol.dispose]()).not.toThrow();
      expect(await last).toBeInstanceOf(RateLimitExceededError);
      expect(clock.pending).toBe(0);
    });
  }

  it("the throttler: junk arguments reject or throw at once, and it keeps working", async () => {
    const clock = new CountingClock();
    const throttler = new Throttler({ calls: 10, periodMs: 1_000, burst: 1, clock });
    throttler.tryAcquire();
    for (const signal of junkSignals) {
      const error = (await rejection(throttler.acquire({ signal } as never))) as InvalidArgumentError;
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.target).toBe("Throttler.acquire");
    }
    expect(await rejection(throttler.acquire(2_000 as never))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(throttler.execute(42 as never))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => throttler.throttle(42 as never))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => throttle(42 as never, { calls: 1, periodMs: 1_000 }))).toBeInstanceOf(InvalidArgumentError);
    expect(throttler.limiter.waiting).toBe(0);
    expect(clock.scheduled).toBe(0);
    const next = throttler.acquire();
    await clock.advance(100);
    await next;
    expect(() => throttler[Symbol.dispose]()).not.toThrow();
  });

  it("constructors and factories throw an InvalidArgumentError for options that are not an object", () => {
    const makers: Array<[string, (options: never) => unknown]> = [
      ["RateLimiter", (o) => new RateLimiter(o)],
      ["GcraLimiter", (o) => new GcraLimiter(o)],
      ["SlidingWindowLimiter", (o) => new SlidingWindowLimiter(o)],
      ["FixedWindowLimiter", (o) => new FixedWindowLimiter(o)],
      ["TokenBucket", (o) => new TokenBucket(o)],
      ["Throttler", (o) => new Throttler(o)],
      ["KeyedRateLimiter", (o) => new KeyedRateLimiter(o)],
      ["createRateLimiter", (o) => createRateLimiter(o)],
      ["createAlgorithm", (o) => createAlgorithm(o)],
    ];
    for (const [target, make] of makers) {
      for (const junk of [42, null, "fast"]) {
        const error = thrown(() => make(junk as never)) as InvalidArgumentError;
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect([error.target, error.argument]).toEqual([target, "options"]);
      }
    }
    const error = thrown(() => new AlgorithmLimiter(42 as never)) as InvalidArgumentError;
    expect([error.target, error.argument]).toEqual(["AlgorithmLimiter", "algorithm"]);
  });

  it("rateLimiter(): a function where one belongs, an object where options belong", () => {
    const error = thrown(() => rateLimiter(42 as never)) as InvalidArgumentError;
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => rateLimiter(() => 1, 42 as never))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => rateLimiter({ rate: 5 })(42 as never))).toBeInstanceOf(InvalidArgumentError);
  });

  it("the keyed limiter: junk arguments reject or throw at once; reset needs its key, resetAll resets all", async () => {
    const clock = new CountingClock();
    const limiter = new KeyedRateLimiter({ algorithm: "token-bucket", rate: 10, perMs: 1_000, burst: 1, clock });
    limiter.tryAcquire("a");
    limiter.tryAcquire("b");
    for (const signal of junkSignals) {
      expect(await rejection(limiter.acquire("a", { signal } as never))).toBeInstanceOf(InvalidArgumentError);
    }
    expect(await rejection(limiter.acquire("a", 2_000 as never))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(limiter.acquire("a", { cost: null } as never))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => limiter.tryAcquire("a", null as never))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(limiter.acquire(undefined as never))).toBeInstanceOf(InvalidArgumentError);
    expect(clock.scheduled).toBe(0);
    const next = limiter.acquire("a");
    await clock.advance(100);
    await next;
    const error = thrown(() => limiter.reset(undefined as never)) as InvalidArgumentError;
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.argument).toBe("key");
    // Nothing was reset by the bad call.
    expect(limiter.tryAcquire("a")).toBe(false);
    limiter.resetAll();
    expect([limiter.tryAcquire("a"), limiter.tryAcquire("b")]).toEqual([true, true]);
    expect(() => limiter[Symbol.dispose]()).not.toThrow();
  });
});
