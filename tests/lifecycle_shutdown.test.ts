import { afterEach, describe, expect, it } from "vitest";
import {
  configure,
  ConfigError,
  GracefulShutdown,
  InvalidArgumentError,
  ResilienceError,
  ShutdownError,
  ShutdownUnsupportedError,
  type SignalHandler,
  type SignalSource,
  TimeoutError,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { onWorkersNow } from "./_support/user_agent.ts";

/** A signal source fired by hand, recording exits. */
class FakeSignals implements SignalSource {
  readonly name = "fake";
  readonly handlers = new Map<string, SignalHandler[]>();
  readonly exits: number[] = [];
  refuse: string | undefined;

  on(signal: string, handler: SignalHandler): () => void {
    if (signal === this.refuse) throw new Error(`no such signal ${signal}`);
    this.handlers.set(signal, [...(this.handlers.get(signal) ?? []), handler]);
    return () => {
      this.handlers.set(signal, (this.handlers.get(signal) ?? []).filter((h) => h !== handler));
    };
  }

  exit(code: number): void {
    this.exits.push(code);
  }

  fire(signal: string): void {
    for (const handler of this.handlers.get(signal) ?? []) handler(signal);
  }

  count(): number {
    let n = 0;
    for (const list of this.handlers.values()) n += list.length;
    return n;
  }
}

const never = () => new Promise<void>(() => {});

/** A source with no signals: Workers refuse a GracefulShutdown without one. */
const quiet: SignalSource = { name: "quiet", on: () => () => {} };
const onWorkers = onWorkersNow();

describe("GracefulShutdown", () => {
  afterEach(() => configure({}));

  it("runs callbacks by priority, ties in registration order, sync and async", async () => {
    const order: string[] = [];
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    shutdown.register("cache", () => void order.push("cache"), { priority: 20 });
    shutdown.register("db", async () => void order.push("db"), { priority: 10 });
    shutdown.register("logs", () => void order.push("logs"));
    shutdown.register("metrics", () => void order.push("metrics"), { priority: 20 });
    expect(shutdown.callbacks.map((c) => c.name)).toEqual(["db", "cache", "metrics", "logs"]);
    const report = await shutdown.trigger();
    expect(order).toEqual(["db", "cache", "metrics", "logs"]);
    expect(report.ran).toEqual(["db", "cache", "metrics", "logs"]);
    expect(report.completed).toBe(true);
    expect(report.reason).toBe("trigger");
    expect(shutdown.isShuttingDown).toBe(true);
  });

  it("reports a callback that throws or rejects, and still runs the rest", async () => {
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    const boom = new Error("boom");
    shutdown.register("a", () => {
      throw boom;
    }, { priority: 1 });
    shutdown.register("b", () => Promise.reject(new Error("late")), { priority: 2 });
    shutdown.register("c", () => {}, { priority: 3 });
    const report = await shutdown.trigger();
    expect(report.failed).toEqual(["a", "b"]);
    expect(report.ran).toEqual(["c"]);
    expect(report.results[0]!.error).toBe(boom);
    expect(report.completed).toBe(true);
  });

  it("bounds a hanging callback by its own timeout, aborts its signal, and runs the next (ManualClock)", async () => {
    const clock = new ManualClock();
    const shutdown = new GracefulShutdown({ signalSource: quiet, timeoutMs: 10_000, clock });
    let seen: AbortSignal | undefined;
    const ran: string[] = [];
    shutdown.register("hangs", ({ signal }) => {
      seen = signal;
      return never();
    }, { priority: 1, timeoutMs: 2_000 });
    shutdown.register("next", () => void ran.push("next"), { priority: 2 });
    const done = shutdown.trigger();
    await clock.advance(1_999);
    expect(ran).toEqual([]);
    await clock.advance(1);
    const report = await done;
    expect(ran).toEqual(["next"]);
    expect(report.timedOut).toEqual(["hangs"]);
    expect(report.results[0]).toMatchObject({ name: "hangs", status: "timed-out", durationMs: 2_000 });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(TimeoutError);
    expect(report.completed).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("bounds everything by the total timeout: later callbacks are skipped and reported", async () => {
    const clock = new ManualClock();
    const shutdown = new GracefulShutdown({ signalSource: quiet, timeoutMs: 5_000, clock });
    shutdown.register("slow", () => clock.sleep(3_000), { priority: 1 });
    shutdown.register("hangs", never, { priority: 2 });
    shutdown.register("never-runs", () => {}, { priority: 3 });
    const done = shutdown.trigger();
    await clock.advance(5_000);
    const report = await done;
    expect(report.ran).toEqual(["slow"]);
    expect(report.timedOut).toEqual(["hangs", "never-runs"]);
    expect(report.results.map((r) => r.status)).toEqual(["ok", "timed-out", "skipped"]);
    expect(report.results[1]!.durationMs).toBe(2_000);
    expect(report.completed).toBe(false);
    expect(report.durationMs).toBe(5_000);
    expect(clock.pending).toBe(0);
  });

  it("trigger() runs once: a second call gets the same report", async () => {
    let runs = 0;
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    shutdown.register("once", () => void runs++);
    const [a, b] = await Promise.all([shutdown.trigger(), shutdown.trigger()]);
    expect(a).toBe(b);
    expect(await shutdown.trigger()).toBe(a);
    expect(runs).toBe(1);
  });

  it("refuses a duplicate name and any registration during shutdown with ShutdownError", async () => {
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    shutdown.register("db", () => {});
    expect(() => shutdown.register("db", () => {})).toThrow(ShutdownError);
    void shutdown.trigger();
    let caught: unknown;
    try {
      shutdown.register("late", () => {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ShutdownError);
    expect((caught as ShutdownError).code).toBe("ERR_SHUTDOWN");
    expect((caught as Error).message).toContain("in progress");
  });

  it("unregister returns whether something was removed", () => {
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    shutdown.register("test", () => {});
    expect(shutdown.unregister("test")).toBe(true);
    expect(shutdown.unregister("test")).toBe(false);
    expect(shutdown.unregister("nonexistent")).toBe(false);
  });

  it("install() adds one handler per signal through the source; uninstall() removes exactly those", () => {
    const source = new FakeSignals();
    const previous: SignalHandler = () => {};
    source.on("SIGTERM", previous);
    const shutdown = new GracefulShutdown({ signalSource: source });
    expect(shutdown.install()).toBe(shutdown);
    expect(shutdown.isInstalled).toBe(true);
    expect(source.handlers.get("SIGTERM")!.length).toBe(2);
    expect(source.handlers.get("SIGINT")!.length).toBe(1);
    expect(() => shutdown.install()).toThrow(ShutdownError);
    shutdown.uninstall();
    shutdown.uninstall();
    expect(shutdown.isInstalled).toBe(false);
    expect(source.handlers.get("SIGTERM")).toEqual([previous]);
    expect(source.handlers.get("SIGINT")).toEqual([]);
  });

  it("a source that refuses a signal leaves nothing installed", () => {
    const source = new FakeSignals();
    source.refuse = "SIGHUP";
    const shutdown = new GracefulShutdown({ signalSource: source, signals: ["SIGTERM", "SIGHUP"] });
    expect(() => shutdown.install()).toThrow(ShutdownError);
    expect(source.count()).toBe(0);
    expect(shutdown.isInstalled).toBe(false);
  });

  it("install() without a signal source is a ShutdownError naming the adapters; trigger() still works", async () => {
    if (onWorkers) {
      // Workers refuse the construction itself (tests/lifecycle.workers.test.ts).
      expect(() => new GracefulShutdown()).toThrow(ShutdownUnsupportedError);
      return;
    }
    const shutdown = new GracefulShutdown();
    expect(() => shutdown.install()).toThrow(/nodeSignals\(\).*denoSignals\(\).*browserSignals\(\)/);
    expect((await shutdown.trigger()).completed).toBe(true);
  });

  it("uses the source's default signals unless told otherwise", () => {
    const source: SignalSource = { name: "page", defaultSignals: ["pagehide"], on: () => () => {} };
    expect(new GracefulShutdown({ signalSource: source }).signals).toEqual(["pagehide"]);
    expect(new GracefulShutdown({ signalSource: source, signals: ["SIGHUP"] }).signals).toEqual(["SIGHUP"]);
    expect(new GracefulShutdown({ signalSource: quiet }).signals).toEqual(["SIGTERM", "SIGINT"]);
  });

  it("a signal runs the shutdown, then exits with exitCode (0)", async () => {
    const source = new FakeSignals();
    const order: string[] = [];
    const shutdown = new GracefulShutdown({ signalSource: source }).install();
    shutdown.register("b", () => void order.push("b"), { priority: 2 });
    shutdown.register("a", async () => void order.push("a"), { priority: 1 });
    const done = new Promise((resolve) => shutdown.on("done", resolve));
    source.fire("SIGTERM");
    expect(shutdown.isShuttingDown).toBe(true);
    const report = (await done) as { reason: string };
    await Promise.resolve();
    expect(report.reason).toBe("SIGTERM");
    expect(order).toEqual(["a", "b"]);
    expect(source.exits).toEqual([0]);
  });

  it("past the total timeout, a signal-started shutdown exits with forceExitCode, not before (ManualClock)", async () => {
    const clock = new ManualClock();
    const source = new FakeSignals();
    const shutdown = new GracefulShutdown({ signalSource: source, timeoutMs: 3_000, forceExitCode: 7, clock }).install();
    shutdown.register("hangs", never);
    source.fire("SIGINT");
    await clock.advance(2_999);
    expect(source.exits).toEqual([]);
    await clock.advance(1);
    await clock.flush();
    expect(source.exits).toEqual([7]);
    expect(clock.pending).toBe(0);
  });

  it("a second signal during the shutdown exits at once with forceExitCode", async () => {
    const clock = new ManualClock();
    const source = new FakeSignals();
    const shutdown = new GracefulShutdown({ signalSource: source, forceExitCode: 3, clock }).install();
    shutdown.register("hangs", never);
    source.fire("SIGTERM");
    await clock.advance(100);
    expect(source.exits).toEqual([]);
    source.fire("SIGTERM");
    expect(source.exits).toEqual([3]);
    shutdown.uninstall();
  });

  it("the first signal during a trigger()-started shutdown is not a second one: it waits for the callbacks, then exits", async () => {
    const clock = new ManualClock();
    const source = new FakeSignals();
    const shutdown = new GracefulShutdown({ signalSource: source, timeoutMs: 5_000, forceExitCode: 3, clock }).install();
    let drained = false;
    shutdown.register("drain", async () => {
      await clock.sleep(1_000);
      drained = true;
    });
    const triggered = shutdown.trigger();
    await clock.advance(100);
    source.fire("SIGTERM");
    await clock.flush();
    // An orchestrator's SIGTERM arriving while the program drains must not cut the drain short.
    expect(source.exits).toEqual([]);
    await clock.advance(900);
    expect((await triggered).completed).toBe(true);
    await clock.flush();
    expect(drained).toBe(true);
    expect(source.exits).toEqual([0]);
    // A second signal still insists.
    source.fire("SIGTERM");
    expect(source.exits).toEqual([0, 3]);
    shutdown.uninstall();
    expect(clock.pending).toBe(0);
  });

  it("wait() resolves true once a shutdown begins, false after its timeout (ManualClock)", async () => {
    const clock = new ManualClock();
    const shutdown = new GracefulShutdown({ signalSource: quiet, clock });
    let timedOut: boolean | undefined;
    void shutdown.wait(1_000).then((v) => (timedOut = v));
    await clock.advance(1_000);
    expect(timedOut).toBe(false);
    const begun = shutdown.wait(5_000);
    void shutdown.trigger();
    expect(await begun).toBe(true);
    expect(await shutdown.wait()).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("await using triggers and uninstalls at the end of the block", async () => {
    const source = new FakeSignals();
    const ran: string[] = [];
    {
      await using shutdown = new GracefulShutdown({ signalSource: source }).install();
      shutdown.register("close", () => void ran.push("close"));
      expect(source.count()).toBe(2);
    }
    expect(ran).toEqual(["close"]);
    expect(source.count()).toBe(0);
    expect(source.exits).toEqual([]);
  });

  it("emits shutdown, callback and done events", async () => {
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    shutdown.register("x", () => {});
    const seen: string[] = [];
    shutdown.on("shutdown", (e) => seen.push(`shutdown:${e.reason}`));
    shutdown.on("callback", (e) => seen.push(`callback:${e.name}:${e.status}`));
    shutdown.on("done", (e) => seen.push(`done:${e.completed}`));
    await shutdown.trigger();
    expect(seen).toEqual(["shutdown:trigger", "callback:x:ok", "done:true"]);
  });

  it("takes timeoutMs and forceExitCode from configure()", () => {
    configure({ shutdown: { timeoutMs: 1_234, forceExitCode: 9 } });
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    expect(shutdown.timeoutMs).toBe(1_234);
    expect(shutdown.forceExitCode).toBe(9);
    expect(new GracefulShutdown({ signalSource: quiet, timeoutMs: 5 }).timeoutMs).toBe(5);
  });

  it("refuses bad options with a ConfigError naming each field", () => {
    let caught: unknown;
    try {
      new GracefulShutdown({ timeoutMs: -1, forceExitCode: 300, signals: ["SIGTERM", ""], signalSource: {} as never });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues.map((i) => i.field).sort()).toEqual(
      ["forceExitCode", "signalSource", "signals", "timeoutMs"],
    );
    expect(() => new GracefulShutdown({ signalSource: quiet, timeoutMs: Number.NaN })).toThrow(ConfigError);
    expect(() => new GracefulShutdown(42 as never)).toThrow(InvalidArgumentError);
  });

  it("refuses bad register() arguments before touching anything", () => {
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    expect(() => shutdown.register(1 as never, () => {})).toThrow(InvalidArgumentError);
    expect(() => shutdown.register("x", "close" as never)).toThrow(InvalidArgumentError);
    expect(() => shutdown.register("x", () => {}, 5 as never)).toThrow(InvalidArgumentError);
    expect(() => shutdown.register("x", () => {}, { timeoutMs: -5 })).toThrow(ConfigError);
    expect(() => shutdown.register("x", () => {}, { priority: 1.5 })).toThrow(ConfigError);
    expect(() => shutdown.register("x", () => {}, { timeoutMs: Number.NaN })).toThrow(ConfigError);
    expect(shutdown.callbacks).toEqual([]);
  });

  it("wait() rejects a bad timeout with InvalidArgumentError", async () => {
    const shutdown = new GracefulShutdown({ signalSource: quiet });
    await expect(shutdown.wait(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(shutdown.wait(Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("ShutdownUnsupportedError says what to use on Workers", () => {
    const error = new ShutdownUnsupportedError("Cloudflare Workers");
    expect(error).toBeInstanceOf(ResilienceError);
    expect(error.code).toBe("ERR_SHUTDOWN_UNSUPPORTED");
    expect(error.message).toContain("ctx.waitUntil");
    expect(error.message).toContain("Durable Object alarm");
  });
});
