// Rate limiters with callers queued, on the real clock (setTimeout and
// performance.now), in both wake modes (hand-over, the default off Workers,
// and self-wake, the default on Workers): grants per second against the
// configured rate, the timers it takes, timeouts decided up front, what
// aborts do to the callers behind, and the cost of abort churn.
//
//   npx --yes -p node@24 node --expose-gc bench/rate_limit_queue.bench.ts
//
// Node >= 22.18 runs this file as is (type stripping). Results go to
// docs/benchmarks.md ("Callers queued"). Takes about 30 s.
import type { CancelTimer, Clock } from "../src/clock.ts";
import { systemClock } from "../src/clock.ts";
import {
  FixedWindowLimiter,
  GcraLimiter,
  type Limiter,
  RateLimiter,
  SlidingWindowLimiter,
  type WakeMode,
} from "../src/rate_limit/mod.ts";

const MODES: readonly WakeMode[] = ["handover", "self"];

/** The system clock, counting the timers set and fired. */
class CountingClock implements Clock {
  scheduled = 0;
  fired = 0;
  now(): number {
    return performance.now();
  }
  wallNow(): number {
    return Date.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
  schedule(callback: () => void, ms: number): CancelTimer {
    this.scheduled++;
    return systemClock.schedule(() => {
      this.fired++;
      callback();
    }, ms);
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits });

/** Drains `limiter`, then queues `n` acquire() at once and waits for all. */
async function drain(
  name: string,
  wakeMode: WakeMode,
  rate: number,
  n: number,
  make: (clock: Clock, wakeMode: WakeMode) => Limiter,
): Promise<void> {
  const clock = new CountingClock();
  const limiter = make(clock, wakeMode);
  while (limiter.tryAcquire());
  const start = performance.now();
  await Promise.all(Array.from({ length: n }, () => limiter.acquire()));
  const seconds = (performance.now() - start) / 1_000;
  const grants = n / seconds;
  console.log(
    `| ${name} | ${wakeMode} | ${fmt(rate)} | ${fmt(n)} | ${fmt(seconds, 3)} | ${fmt(grants)} | ${
      fmt(grants / rate, 3)
    } | ${fmt(clock.fired)} |`,
  );
}

console.log("\n### 1. Queued acquire() until all are granted\n");
console.log("| limiter | wake mode | configured /s | callers | seconds | grants/s | of configured | timers fired |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
const cases: Array<[string, number, number, (clock: Clock, wakeMode: WakeMode) => Limiter]> = [
  ["RateLimiter (token bucket, burst 1)", 10_000, 5_000, (clock, wakeMode) =>
    new RateLimiter({ rate: 10_000, perMs: 1_000, burst: 1, clock, wakeMode })],
  ["GcraLimiter (burst 1)", 10_000, 5_000, (clock, wakeMode) =>
    new GcraLimiter({ rate: 10_000, perMs: 1_000, burst: 1, clock, wakeMode })],
  ["SlidingWindowLimiter (log, 100 per 10 ms)", 10_000, 5_000, (clock, wakeMode) =>
    new SlidingWindowLimiter({ limit: 100, windowMs: 10, clock, wakeMode })],
  ["SlidingWindowLimiter (counter, 100 per 10 ms)", 10_000, 5_000, (clock, wakeMode) =>
    new SlidingWindowLimiter({ limit: 100, windowMs: 10, approximate: true, clock, wakeMode })],
  ["FixedWindowLimiter (100 per 10 ms)", 10_000, 5_000, (clock, wakeMode) =>
    new FixedWindowLimiter({ limit: 100, windowMs: 10, clock, wakeMode })],
  ["RateLimiter (token bucket, burst 1)", 50_000, 100_000, (clock, wakeMode) =>
    new RateLimiter({ rate: 50_000, perMs: 1_000, burst: 1, clock, wakeMode })],
];
for (const [name, rate, n, make] of cases) {
  for (const wakeMode of MODES) await drain(name, wakeMode, rate, n, make);
}

console.log("\n### 2. acquire({ timeoutMs: 250 }) × 5,000 at 10,000/s\n");
console.log(
  "| wake mode | granted | refused up front | median wait ms | max wait ms | last refusal, ms after the first call |",
);
console.log("|---|---:|---:|---:|---:|---:|");
for (const wakeMode of MODES) {
  const limiter = new RateLimiter({ rate: 10_000, perMs: 1_000, burst: 1, wakeMode });
  limiter.tryAcquire();
  const start = performance.now();
  const waits: number[] = [];
  let refused = 0;
  let refusedAfterMs = 0;
  await Promise.all(Array.from({ length: 5_000 }, () => {
    const enqueuedAt = performance.now();
    return limiter.acquire({ timeoutMs: 250 }).then(
      () => waits.push(performance.now() - enqueuedAt),
      () => {
        refused++;
        refusedAfterMs = Math.max(refusedAfterMs, performance.now() - start);
      },
    );
  }));
  waits.sort((a, b) => a - b);
  console.log(
    `| ${wakeMode} | ${fmt(waits.length)} | ${fmt(refused)} | ${fmt(waits[waits.length >> 1]!, 1)} | ${
      fmt(waits[waits.length - 1]!, 1)
    } | ${fmt(refusedAfterMs, 1)} |`,
  );
}

console.log("\n### 3. Waiters with every other one aborted as soon as all are queued\n");
console.log(
  "| wake mode | waiters | configured /s | setup ms (enqueue all, abort half) | last grant, s after the first enqueue | survivor grants/s | of configured | timers set | timers fired |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = () => {
  gc?.();
  return (globalThis as unknown as { process: { memoryUsage(): { heapUsed: number } } }).process.memoryUsage()
    .heapUsed / 2 ** 20;
};

/**
 * Queues `n` callers at `rate` per second and aborts every other one;
 * `between` runs once all are queued and aborted (a heap sample).
 */
async function halfAborted(wakeMode: WakeMode, n: number, rate: number, between?: () => void): Promise<void> {
  const clock = new CountingClock();
  const limiter = new RateLimiter({ rate, perMs: 1_000, burst: 1, clock, wakeMode });
  limiter.tryAcquire();
  const reason = new Error("gave up");
  const controllers = Array.from({ length: n }, (_, i) => (i % 2 === 1 ? new AbortController() : undefined));
  let granted = 0;
  let lastGrant = 0;
  const start = performance.now();
  const waits = controllers.map((controller) =>
    limiter.acquire(controller && { signal: controller.signal }).then(() => {
      granted++;
      lastGrant = performance.now();
    }, () => undefined)
  );
  for (const controller of controllers) controller?.abort(reason);
  const setupMs = performance.now() - start;
  between?.();
  await Promise.all(waits);
  if (between !== undefined) return;
  const seconds = (lastGrant - start) / 1_000;
  console.log(
    `| ${wakeMode} | ${fmt(n)} | ${fmt(rate)} | ${fmt(setupMs)} | ${fmt(seconds, 3)} | ${fmt(granted / seconds)} | ${
      fmt(granted / seconds / rate, 2)
    } | ${fmt(clock.scheduled)} | ${fmt(clock.fired)} |`,
  );
}

for (const [n, rate] of [[100_000, 50_000], [10_000, 5_000]] as const) {
  for (const wakeMode of MODES) await halfAborted(wakeMode, n, rate);
}

console.log("\nHeap, 100,000 waiters at 50,000/s with half aborted (a separate run: the forced collections pause it):\n");
console.log("| wake mode | heap queued MB | heap after MB |");
console.log("|---|---:|---:|");
for (const wakeMode of MODES) {
  const heapBefore = heapMb();
  let heapQueued = 0;
  await halfAborted(wakeMode, 100_000, 50_000, () => (heapQueued = heapMb()));
  console.log(`| ${wakeMode} | ${fmt(heapQueued - heapBefore, 1)} | ${fmt(heapMb() - heapBefore, 1)} |`);
}
if (gc === undefined) console.log("\n(heap figures without --expose-gc include garbage)");

console.log("\n### 4. Aborts at the front: 1,000 waiters at 1,000/s, the first 500 abort, then one more caller\n");
console.log(
  "| wake mode | first survivor granted, ms after the first enqueue | last survivor | newcomer told, ms | newcomer waited, ms | timers set |",
);
console.log("|---|---:|---:|---:|---:|---:|");
for (const wakeMode of MODES) {
  const clock = new CountingClock();
  const limiter = new RateLimiter({ rate: 1_000, perMs: 1_000, burst: 1, clock, wakeMode });
  limiter.tryAcquire();
  const start = performance.now();
  const controllers = Array.from({ length: 1_000 }, () => new AbortController());
  const grants: number[] = [];
  const waits = controllers.map((c) =>
    limiter.acquire({ signal: c.signal }).then(() => grants.push(performance.now() - start), () => undefined)
  );
  for (let i = 0; i < 500; i++) controllers[i]!.abort();
  const told = limiter.timeUntilAvailable();
  let newcomerWaited = 0;
  const queuedAt = performance.now();
  const newcomer = limiter.acquire().then(() => (newcomerWaited = performance.now() - queuedAt));
  await Promise.all([...waits, newcomer]);
  console.log(
    `| ${wakeMode} | ${fmt(grants[0]!)} | ${fmt(grants[grants.length - 1]!)} | ${fmt(told)} | ${fmt(newcomerWaited)} | ${
      fmt(clock.scheduled)
    } |`,
  );
}

console.log("\n### 5. Abort churn: one abort and one acquire, with n callers queued\n");
console.log("| wake mode | waiters queued | µs per abort + acquire |");
console.log("|---|---:|---:|");
for (const [wakeMode, n] of MODES.flatMap((mode) => [1_000, 10_000, 50_000].map((n) => [mode, n] as const))) {
  const limiter = new RateLimiter({ rate: 1, perMs: 3_600_000, burst: 1, wakeMode });
  limiter.tryAcquire();
  const reason = new Error("gave up");
  const queue: AbortController[] = [];
  const enqueue = () => {
    const controller = new AbortController();
    queue.push(controller);
    limiter.acquire({ signal: controller.signal }).catch(() => undefined);
  };
  for (let i = 0; i < n; i++) enqueue();
  const rounds = 10_000;
  const churn = () => {
    const start = performance.now();
    for (let round = 0; round < rounds; round++) {
      // A caller from the middle of the queue gives up; a new one arrives.
      const index = (round * 7_919) % queue.length;
      queue[index]!.abort(reason);
      queue[index] = queue[queue.length - 1]!;
      queue.pop();
      enqueue();
    }
    return ((performance.now() - start) * 1_000) / rounds;
  };
  churn(); // warm-up
  const perOp = Math.min(churn(), churn());
  console.log(`| ${wakeMode} | ${fmt(n)} | ${fmt(perOp, 1)} |`);
  for (const controller of queue) controller.abort(reason);
}
