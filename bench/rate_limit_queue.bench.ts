// Rate limiters with callers queued, on the real clock (setTimeout and
// performance.now): grants per second against the configured rate, the
// timers it takes, timeouts decided up front, and the cost of abort churn.
//
//   npx --yes -p node@24 node bench/rate_limit_queue.bench.ts
//
// Node >= 22.18 runs this file as is (type stripping). Results go to
// docs/benchmarks.md ("Rate limiting: callers queued"). Takes about 10 s.
import type { CancelTimer, Clock } from "../src/clock.ts";
import { systemClock } from "../src/clock.ts";
import {
  FixedWindowLimiter,
  GcraLimiter,
  type Limiter,
  RateLimiter,
  SlidingWindowLimiter,
} from "../src/rate_limit/mod.ts";

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
async function drain(name: string, rate: number, n: number, make: (clock: Clock) => Limiter): Promise<void> {
  const clock = new CountingClock();
  const limiter = make(clock);
  while (limiter.tryAcquire());
  const start = performance.now();
  await Promise.all(Array.from({ length: n }, () => limiter.acquire()));
  const seconds = (performance.now() - start) / 1_000;
  const grants = n / seconds;
  console.log(
    `| ${name} | ${fmt(rate)} | ${fmt(n)} | ${fmt(seconds, 3)} | ${fmt(grants)} | ${fmt(grants / rate, 3)} | ${
      fmt(clock.fired)
    } |`,
  );
}

console.log("\n### 1. Queued acquire() until all are granted\n");
console.log("| limiter | configured /s | callers | seconds | grants/s | of configured | timers fired |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
await drain("RateLimiter (token bucket, burst 1)", 10_000, 5_000, (clock) =>
  new RateLimiter({ rate: 10_000, perMs: 1_000, burst: 1, clock }));
await drain("GcraLimiter (burst 1)", 10_000, 5_000, (clock) =>
  new GcraLimiter({ rate: 10_000, perMs: 1_000, burst: 1, clock }));
await drain("SlidingWindowLimiter (log, 100 per 10 ms)", 10_000, 5_000, (clock) =>
  new SlidingWindowLimiter({ limit: 100, windowMs: 10, clock }));
await drain("SlidingWindowLimiter (counter, 100 per 10 ms)", 10_000, 5_000, (clock) =>
  new SlidingWindowLimiter({ limit: 100, windowMs: 10, approximate: true, clock }));
await drain("FixedWindowLimiter (100 per 10 ms)", 10_000, 5_000, (clock) =>
  new FixedWindowLimiter({ limit: 100, windowMs: 10, clock }));
await drain("RateLimiter (token bucket, burst 1)", 50_000, 100_000, (clock) =>
  new RateLimiter({ rate: 50_000, perMs: 1_000, burst: 1, clock }));

console.log("\n### 2. acquire({ timeoutMs: 250 }) × 5,000 at 10,000/s\n");
{
  const limiter = new RateLimiter({ rate: 10_000, perMs: 1_000, burst: 1 });
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
  console.log("| granted | refused up front | median wait ms | max wait ms | last refusal, ms after the first call |");
  console.log("|---:|---:|---:|---:|---:|");
  console.log(
    `| ${fmt(waits.length)} | ${fmt(refused)} | ${fmt(waits[waits.length >> 1]!, 1)} | ${
      fmt(waits[waits.length - 1]!, 1)
    } | ${fmt(refusedAfterMs, 1)} |`,
  );
}

console.log("\n### 3. 100,000 waiters at 50,000/s, every other one aborted at once\n");
{
  const gc = (globalThis as { gc?: () => void }).gc;
  const heapMb = () => {
    gc?.();
    return (globalThis as unknown as { process: { memoryUsage(): { heapUsed: number } } }).process.memoryUsage()
      .heapUsed / 2 ** 20;
  };
  const clock = new CountingClock();
  const limiter = new RateLimiter({ rate: 50_000, perMs: 1_000, burst: 1, clock });
  limiter.tryAcquire();
  const heapBefore = heapMb();
  const start = performance.now();
  const reason = new Error("gave up");
  const controllers = Array.from({ length: 100_000 }, (_, i) => (i % 2 === 1 ? new AbortController() : undefined));
  let granted = 0;
  let lastGrant = 0;
  const waits = controllers.map((controller) =>
    limiter.acquire(controller && { signal: controller.signal }).then(() => {
      granted++;
      lastGrant = performance.now();
    }, () => undefined)
  );
  const queuedMs = performance.now() - start;
  const heapQueued = heapMb();
  for (const controller of controllers) controller?.abort(reason);
  const abortedMs = performance.now() - start - queuedMs;
  await Promise.all(waits);
  const seconds = (lastGrant - start) / 1_000;
  controllers.length = 0;
  waits.length = 0;
  const heapAfter = heapMb();
  console.log(
    "| granted | settled after s | survivor grants/s | reserved slots/s | timers set | timers fired | enqueue 100k ms | abort 50k ms | heap queued MB | heap after MB |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  console.log(
    `| ${fmt(granted)} | ${fmt(seconds, 3)} | ${fmt(granted / seconds)} | ${fmt(100_000 / seconds)} | ${
      fmt(clock.scheduled)
    } | ${fmt(clock.fired)} | ${fmt(queuedMs)} | ${fmt(abortedMs)} | ${fmt(heapQueued - heapBefore, 1)} | ${
      fmt(heapAfter - heapBefore, 1)
    } |`,
  );
  if (gc === undefined) console.log("\n(heap figures without --expose-gc include garbage)");
}

console.log("\n### 4. Abort churn: one abort and one acquire, with n callers queued\n");
console.log("| waiters queued | µs per abort + acquire |");
console.log("|---:|---:|");
for (const n of [1_000, 10_000, 50_000]) {
  const limiter = new RateLimiter({ rate: 1, perMs: 3_600_000, burst: 1 });
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
  console.log(`| ${fmt(n)} | ${fmt(perOp, 1)} |`);
  for (const controller of queue) controller.abort(reason);
}
