import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as bulwark from "../mod.ts";
import { CircuitBreaker, ConfigError, ConsecutiveStrategy, CountWindowStrategy, TimeWindowStrategy } from "../mod.ts";

interface Outcome {
  failed: boolean;
  slow: boolean;
}

const outcome: fc.Arbitrary<Outcome> = fc.record({ failed: fc.boolean(), slow: fc.boolean() });

const rules = fc.record({
  failureRateThreshold: fc.constantFrom(0.1, 0.25, 0.3, 0.5, 0.7, 1),
  slowCallRateThreshold: fc.constantFrom(0.2, 0.5, 1),
  minimumThroughput: fc.integer({ min: 1, max: 12 }),
  maxFailures: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
});

/** The naive reading of the rules: recount everything, every time. */
function naiveTrip(
  window: readonly Outcome[],
  last: Outcome,
  inARow: number,
  r: { failureRateThreshold: number; slowCallRateThreshold: number; maxFailures?: number | undefined },
  minimum: number,
): boolean {
  if (r.maxFailures !== undefined && inARow >= r.maxFailures) return true;
  if (window.length < minimum) return false;
  const failures = window.filter((o) => o.failed).length;
  const slow = window.filter((o) => o.slow).length;
  return (last.failed && failures / window.length >= r.failureRateThreshold) ||
    (last.slow && slow / window.length >= r.slowCallRateThreshold);
}

describe("ConsecutiveStrategy", () => {
  it("trips on the maxFailures-th failure in a row, counting from a restored value", () => {
    const strategy = new ConsecutiveStrategy({ maxFailures: 3, failures: 1 });
    expect(strategy.failureCount()).toBe(1);
    expect(strategy.record(true)).toBe(false);
    expect(strategy.record(true)).toBe(true);
    strategy.reset();
    expect(strategy.failureCount()).toBe(0);
    expect(() => new ConsecutiveStrategy({ maxFailures: 0 })).toThrow(ConfigError);
  });
});

describe("CountWindowStrategy", () => {
  it("decides as a naive recount of the last windowSize calls", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), rules, fc.array(outcome, { maxLength: 80 }), (size, r, outcomes) => {
        const strategy = new CountWindowStrategy({ windowSize: size, ...r });
        const history: Outcome[] = [];
        let inARow = 0;
        for (const o of outcomes) {
          history.push(o);
          inARow = o.failed ? inARow + 1 : 0;
          const window = history.slice(-size);
          expect(strategy.record(o.failed, o.slow)).toBe(
            naiveTrip(window, o, inARow, r, Math.min(r.minimumThroughput, size)),
          );
          expect(strategy.failureCount()).toBe(window.filter((w) => w.failed).length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("starts empty again after reset", () => {
    const strategy = new CountWindowStrategy({ windowSize: 3, minimumThroughput: 3, failureRateThreshold: 1 });
    strategy.record(true, false);
    strategy.record(true, false);
    strategy.reset();
    expect(strategy.failureCount()).toBe(0);
    expect(strategy.record(true, false)).toBe(false);
    expect(strategy.record(true, false)).toBe(false);
    expect(strategy.record(true, false)).toBe(true);
  });

  it("rejects invalid options", () => {
    expect(() => new CountWindowStrategy({ windowSize: 0 })).toThrow(ConfigError);
    expect(() => new CountWindowStrategy({ windowSize: 5, failureRateThreshold: 1.5 })).toThrow(ConfigError);
  });
});

describe("TimeWindowStrategy", () => {
  it("decides as a naive recount of the calls in the buckets of the last windowMs", () => {
    const step = fc.record({ advance: fc.integer({ min: 0, max: 400 }), outcome });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 10 }).map((n) => n * 100),
        rules,
        fc.integer({ min: -5_000, max: 5_000 }),
        fc.array(step, { maxLength: 80 }),
        (buckets, windowMs, r, start, steps) => {
          const strategy = new TimeWindowStrategy({ windowMs, windowBuckets: buckets, ...r });
          const history: Array<Outcome & { bucket: number }> = [];
          let now = start;
          let inARow = 0;
          for (const { advance, outcome: o } of steps) {
            now += advance;
            const bucket = Math.floor((now * buckets) / windowMs);
            history.push({ ...o, bucket });
            inARow = o.failed ? inARow + 1 : 0;
            const window = history.filter((h) => h.bucket > bucket - buckets);
            expect(strategy.record(o.failed, o.slow, now)).toBe(naiveTrip(window, o, inARow, r, r.minimumThroughput));
            expect(strategy.failureCount(now)).toBe(window.filter((w) => w.failed).length);
          }
          const later = now + windowMs;
          expect(strategy.failureCount(later)).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("starts empty again after reset, whatever the clock's origin", () => {
    const strategy = new TimeWindowStrategy({ windowMs: 100, minimumThroughput: 2, failureRateThreshold: 1 });
    strategy.record(true, false, -1_000);
    strategy.reset();
    expect(strategy.record(true, false, -990)).toBe(false);
    expect(strategy.record(true, false, -980)).toBe(true);
  });

  it("rejects invalid options", () => {
    expect(() => new TimeWindowStrategy({ windowMs: 0 })).toThrow(ConfigError);
    expect(() => new TimeWindowStrategy({ windowMs: 100, windowBuckets: 0 })).toThrow(ConfigError);
  });
});

describe("strategies built by a breaker", () => {
  // The breaker builds its strategy as the strategy's rule without its
  // checks, from options it checked against the same rules.
  it("leave every strategy built by the caller checked, before and after a breaker's", () => {
    const built = [
      () => new CircuitBreaker({ maxFailures: 2 }),
      () => new CircuitBreaker({ windowSize: 5 }),
      () => new CircuitBreaker({ windowMs: 1_000, windowBuckets: 4 }),
    ];
    for (const breaker of built) {
      breaker();
      expect(() => new ConsecutiveStrategy({ maxFailures: 0 })).toThrow(ConfigError);
      expect(() => new CountWindowStrategy({ windowSize: 0 })).toThrow(ConfigError);
      expect(() => new TimeWindowStrategy({ windowMs: 0 })).toThrow(ConfigError);
    }
    expect(() => new CircuitBreaker({ maxFailures: 0 })).toThrow(ConfigError);
    expect(() => new ConsecutiveStrategy({ maxFailures: 0 })).toThrow(ConfigError);
  });

  it("are the package's strategy classes, whose unchecked rules the package does not export", () => {
    const strategy = new ConsecutiveStrategy({ maxFailures: 1 });
    expect(strategy).toBeInstanceOf(ConsecutiveStrategy);
    expect(strategy.record(true, false, 0)).toBe(true);
    const exported: Record<string, unknown> = bulwark;
    for (const name of ["ConsecutiveRule", "CountWindowRule", "TimeWindowRule"]) expect(exported[name]).toBeUndefined();
  });

  it("count and time windows as the options say", () => {
    const counted = new CircuitBreaker({ windowSize: 4, minimumThroughput: 2, failureRateThreshold: 0.5 });
    counted.recordFailure();
    expect(counted.state).toBe("closed");
    counted.recordFailure();
    expect(counted.state).toBe("open");
    const timed = new CircuitBreaker({ windowMs: 1_000, minimumThroughput: 3, failureRateThreshold: 1, maxFailures: 2 });
    timed.recordFailure();
    expect(timed.state).toBe("closed");
    timed.recordFailure();
    expect(timed.state).toBe("open");
  });
});
