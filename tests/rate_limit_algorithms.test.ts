import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  createAlgorithm,
  decide,
  FixedWindow,
  Gcra,
  type RateLimitAlgorithm,
  SlidingWindowCounter,
  SlidingWindowLog,
  TokenBucket,
} from "../mod.ts";

/** Deterministic pseudo-random numbers (mulberry32), so long runs are reproducible. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A call: wait `dt` ms, then ask for `cost` units. */
const calls = (maxCost: number) =>
  fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), cost: fc.integer({ min: 1, max: maxCost }) }), {
    maxLength: 200,
  });

/**
 * Classic token bucket in exact integer arithmetic: tokens are kept scaled
 * by `perMs`, so refill is `dt × rate` with no rounding at all.
 */
class BucketModel {
  #scaled: number;
  constructor(readonly rate: number, readonly perMs: number, readonly burst: number) {
    this.#scaled = burst * perMs;
  }
  advance(dt: number): void {
    this.#scaled = Math.min(this.burst * this.perMs, this.#scaled + dt * this.rate);
  }
  /** Scaled tokens missing for `cost` (<= 0 means admitted). */
  shortfall(cost: number): number {
    return cost * this.perMs - this.#scaled;
  }
  take(cost: number): void {
    this.#scaled -= cost * this.perMs;
  }
  get tokens(): number {
    return this.#scaled / this.perMs;
  }
}

describe("token bucket and GCRA against an exact reference model", () => {
  const params = fc.record({
    rate: fc.integer({ min: 1, max: 50 }),
    perMs: fc.integer({ min: 1, max: 2_000 }),
    burst: fc.integer({ min: 1, max: 20 }),
  });

  it("TokenBucket makes exactly the model's decisions, waits and token counts", () => {
    fc.assert(
      fc.property(params, calls(20), ({ rate, perMs, burst }, sequence) => {
        const bucket = new TokenBucket({ rate, perMs, burst });
        const model = new BucketModel(rate, perMs, burst);
        const state = bucket.initial(0);
        let now = 0;
        for (const { dt, cost } of sequence) {
          now += dt;
          model.advance(dt);
          const shortfall = model.shortfall(cost);
          const wait = bucket.step(state, now, cost, state);
          if (cost > burst) {
            expect(wait).toBe(Infinity);
          } else if (shortfall <= 0) {
            expect(wait).toBe(0);
            model.take(cost);
          } else {
            expect(wait).toBeCloseTo(shortfall / rate, 6);
          }
          expect(bucket.available(state, now)).toBeCloseTo(model.tokens, 9);
        }
      }),
    );
  });

  it("GCRA makes the model's decisions wherever they are not a rounding hair from the boundary", () => {
    fc.assert(
      fc.property(params, calls(20), ({ rate, perMs, burst }, sequence) => {
        const gcra = new Gcra({ rate, perMs, burst });
        const model = new BucketModel(rate, perMs, burst);
        const state = gcra.initial(0);
        let now = 0;
        for (const { dt, cost } of sequence) {
          if (cost > burst) continue;
          now += dt;
          model.advance(dt);
          const shortfall = model.shortfall(cost);
          const wait = gcra.step(state, now, cost, state);
          // A boundary hit exactly (shortfall 0) may round either way in GCRA's
          // one-number state; anywhere else both must agree.
          if (shortfall !== 0) expect(wait === 0).toBe(shortfall < 0);
          if (wait === 0) model.take(cost);
          else expect(wait).toBeCloseTo(shortfall / rate, 6);
        }
      }),
    );
  });

  it("GCRA with a whole-number emission interval agrees exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 20 }), calls(20), (rate, interval, burst, sequence) => {
        const perMs = rate * interval;
        const gcra = new Gcra({ rate, perMs, burst });
        const model = new BucketModel(rate, perMs, burst);
        const state = gcra.initial(0);
        let now = 0;
        for (const { dt, cost } of sequence) {
          if (cost > burst) continue;
          now += dt;
          model.advance(dt);
          const admitted = gcra.step(state, now, cost, state) === 0;
          expect(admitted).toBe(model.shortfall(cost) <= 0);
          if (admitted) model.take(cost);
          expect(gcra.available(state, now)).toBeCloseTo(model.tokens, 9);
        }
      }),
    );
  });
});

describe("window algorithms against reference models", () => {
  const windows = fc.record({ limit: fc.integer({ min: 1, max: 15 }), windowMs: fc.integer({ min: 1, max: 1_000 }) });

  it("SlidingWindowLog admits exactly when fewer than `limit` units fall in the last windowMs", () => {
    fc.assert(
      fc.property(windows, calls(15), ({ limit, windowMs }, sequence) => {
        const log = new SlidingWindowLog({ limit, windowMs });
        const admitted: number[] = [];
        const state = log.initial(0);
        let now = 0;
        for (const { dt, cost } of sequence) {
          if (cost > limit) continue;
          now += dt;
          const live = admitted.filter((t) => now - t < windowMs);
          const wait = log.step(state, now, cost, state);
          if (live.length + cost <= limit) {
            expect(wait).toBe(0);
            for (let i = 0; i < cost; i++) admitted.push(now);
          } else {
            // Due when enough of the oldest live units have expired.
            expect(wait).toBe(live[live.length + cost - limit - 1]! + windowMs - now);
          }
          expect(log.available(state, now)).toBe(limit - admitted.filter((t) => now - t < windowMs).length);
        }
      }),
    );
  });

  it("FixedWindow admits exactly up to `limit` per aligned window", () => {
    fc.assert(
      fc.property(windows, calls(15), ({ limit, windowMs }, sequence) => {
        const fixed = new FixedWindow({ limit, windowMs });
        const counts = new Map<number, number>();
        const state = fixed.initial(0);
        let now = 0;
        for (const { dt, cost } of sequence) {
          if (cost > limit) continue;
          now += dt;
          const window = Math.floor(now / windowMs);
          const count = counts.get(window) ?? 0;
          const wait = fixed.step(state, now, cost, state);
          if (count + cost <= limit) {
            expect(wait).toBe(0);
            counts.set(window, count + cost);
          } else {
            expect(wait).toBe((window + 1) * windowMs - now);
          }
        }
      }),
    );
  });

  it("SlidingWindowCounter follows the weighted two-window estimate", () => {
    fc.assert(
      fc.property(windows, calls(15), ({ limit, windowMs }, sequence) => {
        const counter = new SlidingWindowCounter({ limit, windowMs });
        const counts = new Map<number, number>();
        const state = counter.initial(0);
        let now = 0;
        for (const { dt, cost } of sequence) {
          if (cost > limit) continue;
          now += dt;
          const window = Math.floor(now / windowMs);
          const share = 1 - (now - window * windowMs) / windowMs;
          const estimate = (counts.get(window - 1) ?? 0) * share + (counts.get(window) ?? 0);
          const margin = limit - (estimate + cost);
          const wait = counter.step(state, now, cost, state);
          if (Math.abs(margin) > 1e-9) expect(wait === 0).toBe(margin > 0);
          if (wait === 0) counts.set(window, (counts.get(window) ?? 0) + cost);
        }
      }),
    );
  });
});

describe("every algorithm", () => {
  const algorithms: Array<[string, () => RateLimitAlgorithm]> = [
    ["token-bucket", () => new TokenBucket({ rate: 7, perMs: 1_000, burst: 5 })],
    ["gcra", () => new Gcra({ rate: 7, perMs: 1_000, burst: 5 })],
    ["sliding-window log", () => new SlidingWindowLog({ limit: 5, windowMs: 700 })],
    ["sliding-window counter", () => new SlidingWindowCounter({ limit: 5, windowMs: 700 })],
    ["fixed-window", () => new FixedWindow({ limit: 5, windowMs: 700 })],
  ];

  for (const [name, make] of algorithms) {
    it(`${name}: a refusal's wait is exact (admitted then, refused a moment before), and decide() is pure`, () => {
      fc.assert(
        fc.property(calls(5), (sequence) => {
          const algorithm = make();
          let state = algorithm.initial(0);
          let now = 0;
          for (const { dt, cost } of sequence) {
            now += dt;
            const before = JSON.stringify(state);
            const decision = decide(algorithm, state, now, cost);
            expect(JSON.stringify(state)).toBe(before);
            if (decision.allowed) {
              expect(decision.retryAfterMs).toBe(0);
              state = decision.state;
              continue;
            }
            const wait = decision.retryAfterMs;
            expect(wait).toBeGreaterThan(0);
            expect(decide(algorithm, state, now + wait + 1e-6, cost).allowed).toBe(true);
            if (wait > 1e-3) expect(decide(algorithm, state, now + wait - 1e-3, cost).allowed).toBe(false);
          }
        }),
      );
    });

    it(`${name}: state is plain JSON, resets after resetAfter, and restore() is never laxer`, () => {
      const algorithm = make();
      const state = algorithm.initial(0);
      expect(algorithm.available(state, 0)).toBe(algorithm.limit);
      algorithm.step(state, 100, 3, state);
      algorithm.step(state, 200, 2, state);
      expect(JSON.parse(JSON.stringify(state))).toEqual(state);
      const resetAfter = algorithm.resetAfter(state, 200);
      expect(resetAfter).toBeGreaterThan(0);
      expect(algorithm.available(state, 200 + resetAfter)).toBeCloseTo(algorithm.limit, 9);
      expect(algorithm.resetAfter(state, 200 + resetAfter)).toBe(0);
      const restored = algorithm.restore(200, 200 + resetAfter);
      for (let t = 200; t <= 200 + resetAfter; t += 25) {
        expect(algorithm.available(restored, t)).toBeLessThanOrEqual(algorithm.available(state, t) + 1e-9);
      }
      expect(algorithm.available(restored, 200 + 2 * algorithm.windowMs)).toBeCloseTo(algorithm.limit, 9);
    });

    it(`${name}: a cost above the limit can never be admitted`, () => {
      const algorithm = make();
      const state = algorithm.initial(0);
      expect(algorithm.step(state, 0, algorithm.limit + 1, state)).toBe(Infinity);
    });
  }
});

describe("long runs do not drift", () => {
  const configs = [
    { rate: 3, perMs: 1_000, burst: 7 },
    { rate: 2.5, perMs: 333, burst: 1 },
    { rate: 1_000, perMs: 7, burst: 50 },
    { rate: 0.37, perMs: 10, burst: 3.5 },
  ];

  for (const kind of ["token-bucket", "gcra"] as const) {
    it(`${kind}: 10⁶ acquisitions never exceed burst + rate × elapsed / perMs, nor fall behind it`, () => {
      const next = random(42);
      let acquisitions = 0;
      for (const [index, config] of configs.entries()) {
        const algorithm = createAlgorithm({ algorithm: kind, ...config });
        const state = algorithm.initial(0);
        const maxCost = Math.min(3, Math.floor(config.burst));
        let now = 0;
        let units = 0;
        // A wait that rounds to nothing is returned as 1 ns; overshooting a full
        // bucket by 1 ns forfeits that nanosecond's refill, and nothing else.
        let forfeited = 0;
        // Floating point over a million steps: a part in 10¹² of the
        // allowance (GCRA adds each cost to a position of ~10⁵ intervals).
        const slack = (at: number) => 1e-9 + 1e-12 * (config.burst + (config.rate * at) / config.perMs);
        while (acquisitions < 250_000 * (index + 1)) {
          const cost = 1 + Math.floor(next() * maxCost);
          const wait = algorithm.step(state, now, cost, state);
          if (wait !== 0) {
            // Refused: fewer than `cost` of the allowance can be left.
            const left = config.burst + (config.rate * now) / config.perMs - units - forfeited;
            if (wait <= 1e-6) forfeited += (1e-6 * config.rate) / config.perMs;
            if (left >= cost + slack(now)) throw new Error(`refused ${cost} with ${left} of the allowance left at ${now} ms`);
            // Come back at the due time, or at a random earlier moment: never
            // later, so no capacity is wasted and the limit must bind exactly.
            now += next() < 0.5 ? wait : next() * wait;
            continue;
          }
          units += cost;
          acquisitions++;
          const allowance = config.burst + (config.rate * now) / config.perMs;
          // Plain checks: a million expect() calls would dominate the run.
          if (units > allowance + slack(now)) throw new Error(`${units} units by ${now} ms exceed ${allowance}`);
        }
      }
      expect(acquisitions).toBe(1_000_000);
    });
  }
});

describe("bad input", () => {
  it("throws ConfigError naming the field, value and what is allowed", () => {
    const cases: Array<[() => unknown, string, unknown]> = [
      [() => new TokenBucket({ rate: 0 }), "rate", 0],
      [() => new TokenBucket({ perMs: -1 }), "perMs", -1],
      [() => new TokenBucket({ burst: 0.5 }), "burst", 0.5],
      [() => new Gcra({ rate: Number.NaN }), "rate", Number.NaN],
      [() => new SlidingWindowLog({ limit: 1.5, windowMs: 10 }), "limit", 1.5],
      [() => new FixedWindow({ limit: 3, windowMs: 0 }), "windowMs", 0],
      [() => new TokenBucket({ rtae: 5 } as never), "rtae", 5],
    ];
    for (const [make, field, value] of cases) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const issue = (error as ConfigError).issues.find((i) => i.field === field);
      expect(issue?.value).toEqual(value);
      expect(issue?.allowed.length).toBeGreaterThan(0);
    }
  });

  it("rejects an unknown algorithm name", () => {
    expect(() => createAlgorithm({ algorithm: "leaky" } as never)).toThrow(ConfigError);
  });
});

describe("the exact log's memory follows its use, not its limit", () => {
  it("grows by doubling as the window fills, and gives the room back once it empties", () => {
    const log = new SlidingWindowLog({ limit: 10_000, windowMs: 1_000 });
    const state = log.initial(0);
    expect(state.times.length).toBe(8);
    log.step(state, 0, 1, state);
    expect(state.times.length).toBe(8);
    for (let i = 0; i < 99; i++) log.step(state, i, 1, state);
    expect(state.times.length).toBe(128);
    expect(log.available(state, 500)).toBe(9_900);
    log.step(state, 5_000, 1, state);
    expect(state.times.length).toBe(8);
    expect(log.step(state, 5_000, 10_000, state)).toBeGreaterThan(0);
    expect(log.step(state, 5_000, 9_999, state)).toBe(0);
    expect(state.times.length).toBe(10_000);
  });

  it("stays exact while it grows and shrinks (reference model, limits up to 60)", () => {
    fc.assert(
      fc.property(
        fc.record({ limit: fc.integer({ min: 1, max: 60 }), windowMs: fc.integer({ min: 1, max: 1_000 }) }),
        calls(25),
        ({ limit, windowMs }, sequence) => {
          const log = new SlidingWindowLog({ limit, windowMs });
          const admitted: number[] = [];
          const state = log.initial(0);
          let now = 0;
          // The most units held at once since the window was last empty.
          let peak = 0;
          for (const { dt, cost } of sequence) {
            if (cost > limit) continue;
            now += dt;
            const live = admitted.filter((t) => now - t < windowMs);
            if (live.length === 0) peak = 0;
            const wait = log.step(state, now, cost, state);
            if (live.length + cost <= limit) {
              expect(wait).toBe(0);
              for (let i = 0; i < cost; i++) admitted.push(now);
            } else {
              expect(wait).toBe(live[live.length + cost - limit - 1]! + windowMs - now);
            }
            const held = admitted.filter((t) => now - t < windowMs).length;
            expect(log.available(state, now)).toBe(limit - held);
            peak = Math.max(peak, held);
            // Less than twice the most the window held (or the starting 8), never more than limit.
            expect(state.times.length).toBeLessThanOrEqual(Math.min(limit, Math.max(8, 2 * peak)));
          }
        },
      ),
    );
  });
});

describe("restore(now, fullAt, used): the summary a keyed limiter keeps of an evicted key", () => {
  const algorithms: Array<[string, () => RateLimitAlgorithm, "exact" | "stricter"]> = [
    ["token-bucket", () => new TokenBucket({ rate: 7, perMs: 1_000, burst: 5 }), "exact"],
    ["gcra", () => new Gcra({ rate: 7, perMs: 1_000, burst: 5 }), "exact"],
    ["sliding-window log", () => new SlidingWindowLog({ limit: 5, windowMs: 700 }), "stricter"],
    ["sliding-window counter", () => new SlidingWindowCounter({ limit: 5, windowMs: 700 }), "stricter"],
    ["fixed-window", () => new FixedWindow({ limit: 5, windowMs: 700 }), "exact"],
  ];
  for (const [name, make, kind] of algorithms) {
    it(`${name}: never laxer than the evicted state, and charges only the units it had in use`, () => {
      fc.assert(
        fc.property(calls(5), fc.integer({ min: 0, max: 1_500 }), fc.integer({ min: 0, max: 1_500 }), (sequence, idle, later) => {
          const algorithm = make();
          const state = algorithm.initial(0);
          let now = 0;
          for (const { dt, cost } of sequence) {
            now += dt % 200;
            algorithm.step(state, now, Math.min(cost, algorithm.limit), state);
          }
          const evictedAt = now + idle;
          const left = algorithm.resetAfter(state, evictedAt);
          const used = algorithm.limit - algorithm.available(state, evictedAt);
          const back = evictedAt + later;
          const restored = left > 0
            ? algorithm.restore(back, evictedAt + left, used)
            : algorithm.initial(back);
          for (let t = back; t <= back + 2 * algorithm.windowMs; t += 50) {
            const real = algorithm.available(state, t);
            const summary = algorithm.available(restored, t);
            expect(summary).toBeLessThanOrEqual(real + 1e-9);
            if (kind === "exact") expect(summary).toBeCloseTo(real, 6);
          }
          // At the moment it returns, it has at least what was left at eviction.
          expect(algorithm.available(restored, back)).toBeGreaterThanOrEqual(algorithm.limit - used - 1e-9);
        }),
      );
    });
  }
});
