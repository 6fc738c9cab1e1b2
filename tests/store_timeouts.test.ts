// A store's timeoutMs with one timer for all its pending operations
// (src/internal/deadline_list.ts): every operation still fails with
// ERR_STORE_TIMEOUT exactly timeoutMs after it started, whatever order the
// engine answers in; an answer after that is discarded; operations one
// after another keep one timer; none is left once they stop. On Workers
// (a timer belongs to its request) each operation has its own timer.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Clock,
  type RawEntry,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreCapabilities,
  StoreError,
} from "../mod.ts";
import { DeadlineList, type ListedDeadline } from "../src/internal/deadline_list.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { onWorkersNow } from "./_support/user_agent.ts";

/** An engine whose reads answer when the test says: `answer(i, value)` for the i-th read. */
class GatedStore extends StoreAdapter {
  readonly name = "gated";
  readonly capabilities: StoreCapabilities = {
    atomic: true,
    consistency: "strong",
    maxKeyBytes: 64,
    maxValueBytes: 128,
    minTtlMs: 0,
    minWriteIntervalMs: 0,
    runsTransitions: false,
  };
  readonly #answers: Array<(entry: RawEntry | undefined) => void> = [];

  constructor(options: StoreAdapterOptions) {
    super("GatedStore", options);
  }

  answer(i: number, value: number): void {
    this.#answers[i]!({ value, version: "v", expiresAt: undefined });
  }

  protected getRaw(): Promise<RawEntry | undefined> {
    return new Promise((resolve) => this.#answers.push(resolve));
  }
  protected setRaw(): string {
    throw new Error("not used");
  }
  protected deleteRaw(): boolean {
    throw new Error("not used");
  }
  protected insertRaw(_key: string, _write: RawWrite): RawWriteResult {
    throw new Error("not used");
  }
  protected compareAndSetRaw(): RawWriteResult {
    throw new Error("not used");
  }
  protected compareAndDeleteRaw(): boolean {
    throw new Error("not used");
  }
}

/** `clock`, with the timers scheduled on it counted. */
function counted(clock: ManualClock): { clock: Clock; scheduled: () => number } {
  let scheduled = 0;
  return {
    scheduled: () => scheduled,
    clock: {
      now: () => clock.now(),
      wallNow: () => clock.wallNow(),
      sleep: (ms, signal) => clock.sleep(ms, signal),
      schedule: (callback, ms) => {
        scheduled++;
        return clock.schedule(callback, ms);
      },
    },
  };
}

type Outcome = { value: number } | { error: unknown; atMs: number } | "pending";

/** Starts a read of `key`; its outcome (and, for a failure, the clock's time when it failed) lands in the returned cell. */
function read(store: GatedStore, clock: ManualClock, key: string): { outcome: Outcome } {
  const cell: { outcome: Outcome } = { outcome: "pending" };
  store.get(key).then(
    (entry) => (cell.outcome = { value: entry!.value as number }),
    (error: unknown) => (cell.outcome = { error, atMs: clock.now() }),
  );
  return cell;
}

describe("store timeouts: one timer for every pending operation", () => {
  it("each pending operation fails exactly timeoutMs after it started, the store holding one timer for all", async () => {
    const clock = new ManualClock();
    const store = new GatedStore({ clock, timeoutMs: 100 });
    const a = read(store, clock, "a");
    await clock.advance(30);
    const b = read(store, clock, "b");
    await clock.advance(30);
    const c = read(store, clock, "c");
    expect(clock.pending).toBe(onWorkersNow() ? 3 : 1);
    await clock.advance(39);
    expect([a.outcome, b.outcome, c.outcome]).toEqual(["pending", "pending", "pending"]);
    await clock.advance(1);
    expect(a.outcome).toMatchObject({ atMs: 100, error: { code: "ERR_STORE_TIMEOUT", key: "a", timeoutMs: 100, operation: "get" } });
    expect((a.outcome as { error: unknown }).error).toBeInstanceOf(StoreError);
    expect([b.outcome, c.outcome]).toEqual(["pending", "pending"]);
    await clock.advance(29);
    expect(b.outcome).toBe("pending");
    await clock.advance(1);
    expect(b.outcome).toMatchObject({ atMs: 130, error: { code: "ERR_STORE_TIMEOUT", key: "b" } });
    await clock.advance(30);
    expect(c.outcome).toMatchObject({ atMs: 160, error: { code: "ERR_STORE_TIMEOUT", key: "c" } });
    // The engine answering now changes nothing: the operations have failed.
    store.answer(0, 1);
    store.answer(2, 3);
    await clock.flush();
    expect(c.outcome).toMatchObject({ atMs: 160 });
    expect(clock.pending).toBe(0);
  });

  it("answers in any order: each operation settles with its answer before its deadline, or fails at it, and a late answer is discarded (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ start: fc.constant(true) }),
            fc.record({ answer: fc.nat() }),
            fc.record({ advance: fc.oneof(fc.constantFrom(0, 1, 99, 100), fc.integer({ min: 0, max: 150 })) }),
          ),
          { maxLength: 40 },
        ),
        async (steps) => {
          const timeoutMs = 100;
          const clock = new ManualClock();
          const store = new GatedStore({ clock, timeoutMs });
          const started: Array<{ cell: { outcome: Outcome }; atMs: number; answeredAtMs?: number }> = [];
          const expected = (op: (typeof started)[number]): Outcome => {
            if (op.answeredAtMs !== undefined && op.answeredAtMs < op.atMs + timeoutMs) return { value: started.indexOf(op) };
            if (clock.now() >= op.atMs + timeoutMs) return { error: expect.objectContaining({ code: "ERR_STORE_TIMEOUT" }), atMs: op.atMs + timeoutMs };
            return "pending";
          };
          for (const step of [...steps, { advance: 1_000 }]) {
            if ("start" in step) {
              started.push({ cell: read(store, clock, `k${started.length}`), atMs: clock.now() });
            } else if ("answer" in step) {
              if (started.length === 0) continue;
              const i = step.answer % started.length;
              const op = started[i]!;
              if (op.answeredAtMs !== undefined) continue;
              op.answeredAtMs = clock.now();
              store.answer(i, i);
            } else await clock.advance(step.advance);
            await clock.flush();
            for (const op of started) expect(op.cell.outcome).toEqual(expected(op));
            const pendingOps = started.filter((op) => op.cell.outcome === "pending").length;
            expect(clock.pending).toBeLessThanOrEqual(onWorkersNow() ? pendingOps : 1);
            if (pendingOps > 0) expect(clock.pending).toBeGreaterThan(0);
          }
          // Everything settled: no timer left.
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("operations one after another keep one timer, and leave none once they stop", async () => {
    const manual = new ManualClock();
    const { clock, scheduled } = counted(manual);
    const store = new GatedStore({ clock, timeoutMs: 100 });
    for (let i = 0; i < 20; i++) {
      const pending = store.get(`k${i}`);
      await manual.advance(1);
      store.answer(i, i);
      expect((await pending)?.value).toBe(i);
    }
    expect(scheduled()).toBe(onWorkersNow() ? 20 : 1);
    await manual.flush();
    expect(manual.pending).toBe(0);
    // The shared timer fired at the first operation's deadline, re-armed for later ones, and is gone.
    await manual.advance(1_000);
    expect(manual.pending).toBe(0);
  });
});

describe("DeadlineList", () => {
  const entry = (expire: () => void): ListedDeadline => ({ expire, deadlineAt: -1, deadlineNext: undefined, deadlinePrev: undefined });

  it("an expiry that adds an entry: the new one gets its full duration, still one timer", async () => {
    const clock = new ManualClock();
    const list = new DeadlineList(clock, 50);
    const expired: string[] = [];
    const second = entry(() => expired.push(`second@${clock.now()}`));
    list.add(entry(() => {
      expired.push(`first@${clock.now()}`);
      list.add(second);
    }));
    await clock.advance(50);
    expect(expired).toEqual(["first@50"]);
    expect(clock.pending).toBe(1);
    await clock.advance(49);
    expect(expired).toEqual(["first@50"]);
    await clock.advance(1);
    expect(expired).toEqual(["first@50", "second@100"]);
    expect(clock.pending).toBe(0);
  });

  it("an expiry that removes the next entry: it never fires; removing twice or an entry never added is harmless", async () => {
    const clock = new ManualClock();
    const list = new DeadlineList(clock, 50);
    const expired: string[] = [];
    const second = entry(() => expired.push("second"));
    list.add(entry(() => {
      expired.push("first");
      list.remove(second);
    }));
    list.add(second);
    await clock.advance(100);
    expect(expired).toEqual(["first"]);
    list.remove(second);
    list.remove(entry(() => {}));
    await clock.flush();
    expect(clock.pending).toBe(0);
  });
});
