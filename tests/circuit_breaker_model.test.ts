import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError, type CircuitState } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

interface Params {
  maxFailures: number;
  resetTimeoutMs: number;
  halfOpenMaxCalls: number;
  successThreshold: number;
}

/** A call the model let through: which period of the state machine it belongs to, and whether it holds a probe slot. */
interface Ticket {
  epoch: number;
  probe: boolean;
  disabled?: boolean;
}

/**
 * The reference: the circuit breaker as the spec words it, with no concern
 * for speed. A call's outcome only matters to the period it was admitted in.
 */
class Model {
  state: CircuitState = "closed";
  epoch = 0;
  failuresInARow = 0;
  openedAt = 0;
  probes = 0;
  probeSuccesses = 0;
  successes = 0;
  failures = 0;
  rejections = 0;

  constructor(readonly p: Params) {}

  observe(now: number): void {
    if (this.state === "open" && now - this.openedAt >= this.p.resetTimeoutMs) this.go("half-open", now);
  }

  go(to: CircuitState, now: number): void {
    if (this.state === to) return;
    this.state = to;
    this.epoch++;
    this.probes = 0;
    this.probeSuccesses = 0;
    if (to === "open" || to === "forced-open") this.openedAt = now;
    if (to === "closed") this.failuresInARow = 0;
  }

  admit(now: number): Ticket | undefined {
    this.observe(now);
    // A disabled breaker records nothing: its calls are never settled here.
    if (this.state === "disabled") return { epoch: this.epoch, probe: false, disabled: true };
    if (this.state === "closed") return { epoch: this.epoch, probe: false };
    if (this.state === "half-open" && this.probes < this.p.halfOpenMaxCalls) {
      this.probes++;
      return { epoch: this.epoch, probe: true };
    }
    this.rejections++;
    return undefined;
  }

  settle(ticket: Ticket, failed: boolean, now: number): void {
    if (ticket.disabled) return;
    if (failed) this.failures++;
    else this.successes++;
    if (ticket.epoch !== this.epoch) return;
    if (ticket.probe) this.probes--;
    if (this.state === "closed") {
      this.failuresInARow = failed ? this.failuresInARow + 1 : 0;
      if (this.failuresInARow >= this.p.maxFailures) this.go("open", now);
    } else if (this.state === "half-open") {
      if (failed) this.go("open", now);
      else if (++this.probeSuccesses >= this.p.successThreshold) this.go("closed", now);
    }
  }
}

type Command =
  | { kind: "call"; outcome: "ok" | "fail" | "hang" }
  | { kind: "burst"; count: number }
  | { kind: "settle"; pick: number; ok: boolean }
  | { kind: "advance"; ms: number }
  | { kind: "forceOpen" | "reset" | "disable" };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("call" as const), outcome: fc.constantFrom("ok" as const, "fail" as const, "hang" as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("burst" as const), count: fc.integer({ min: 2, max: 6 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("settle" as const), pick: fc.nat(), ok: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 1_500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom("forceOpen" as const, "reset" as const, "disable" as const) }) },
);

const params: fc.Arbitrary<Params> = fc.record({
  maxFailures: fc.integer({ min: 1, max: 4 }),
  resetTimeoutMs: fc.integer({ min: 0, max: 1_000 }),
  halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 3 }),
});

interface Pending {
  ticket: Ticket;
  settle(ok: boolean): void;
  done: Promise<unknown>;
}

describe("CircuitBreaker against a reference model", () => {
  it("agrees on every admission, state and count, for any sequence of calls, settlements and time", async () => {
    await fc.assert(
      fc.asyncProperty(params, fc.array(command, { maxLength: 60 }), async (p, commands) => {
        const clock = new ManualClock({ now: 10_000 });
        // The half-open bound has tests of its own (circuit_breaker_half_open.test.ts).
        const breaker = new CircuitBreaker({ ...p, halfOpenMaxWaitMs: Number.MAX_SAFE_INTEGER, clock });
        const model = new Model(p);
        const pending: Pending[] = [];

        const call = async (outcome: "ok" | "fail" | "hang"): Promise<void> => {
          const ticket = model.admit(clock.now());
          let settle!: (ok: boolean) => void;
          let ran = false;
          const done = breaker.execute(() => {
            ran = true;
            if (outcome === "ok") return "ok";
            if (outcome === "fail") return Promise.reject(new Error("down"));
            return new Promise<string>((resolve, reject) => {
              settle = (ok) => (ok ? resolve("ok") : reject(new Error("down")));
            });
          }).catch((error: unknown) => error);
          expect(ran).toBe(ticket !== undefined);
          if (ticket === undefined) {
            expect(await done).toBeInstanceOf(CircuitOpenError);
          } else if (outcome === "hang") {
            pending.push({ ticket, settle, done });
          } else {
            await done;
            model.settle(ticket, outcome === "fail", clock.now());
          }
        };

        for (const c of commands) {
          if (c.kind === "call") {
            await call(c.outcome);
          } else if (c.kind === "burst") {
            // Simultaneous callers: all admitted or rejected before any settles.
            for (let i = 0; i < c.count; i++) await call("hang");
          } else if (c.kind === "settle") {
            if (pending.length === 0) continue;
            const settled = pending.splice(c.pick % pending.length, 1)[0]!;
            settled.settle(c.ok);
            await settled.done;
            model.settle(settled.ticket, !c.ok, clock.now());
          } else if (c.kind === "advance") {
            await clock.advance(c.ms);
          } else {
            breaker[c.kind]();
            model.go(c.kind === "forceOpen" ? "forced-open" : c.kind === "reset" ? "closed" : "disabled", clock.now());
            if (c.kind === "reset") model.failuresInARow = 0;
          }

          model.observe(clock.now());
          expect(breaker.state).toBe(model.state);
          if (model.state === "closed") expect(breaker.failureCount).toBe(model.failuresInARow);
          if (model.state === "open") expect(breaker.remainingMs).toBe(model.openedAt + p.resetTimeoutMs - clock.now());
          // Probes the breaker let run and that are still running in this period.
          const liveProbes = pending.filter((c) => c.ticket.probe && c.ticket.epoch === model.epoch).length;
          expect(liveProbes).toBe(model.probes);
          expect(liveProbes).toBeLessThanOrEqual(p.halfOpenMaxCalls);
          expect(breaker.stats).toMatchObject({
            successfulCalls: model.successes,
            failedCalls: model.failures,
            rejectedCalls: model.rejections,
          });
        }
      }),
      { numRuns: 300 },
    );
  });
});
