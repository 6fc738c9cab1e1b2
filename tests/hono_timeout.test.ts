import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type HonoTimeoutOptions, signalOf, timeout } from "../adapters/hono/mod.ts";
import { ConfigError, InvalidArgumentError, TimeoutError } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

/** A request whose signal keeps the listeners registered on it (EventTarget ignores a listener added twice). */
function countedRequest(path: string) {
  const controller = new AbortController();
  const signal = controller.signal;
  const live = new Set<EventListenerOrEventListenerObject>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: AddEventListenerOptions) => {
    live.add(listener);
    add(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: EventListenerOptions) => {
    live.delete(listener);
    remove(type, listener, options);
  }) as typeof signal.removeEventListener;
  const request = new Request(`http://localhost${path}`);
  Object.defineProperty(request, "signal", { value: signal });
  return { request, controller, listening: () => live.size };
}

function app(clock: ManualClock, timeoutMs = 1_000) {
  const hono = new Hono();
  const seen: AbortSignal[] = [];
  const late: string[] = [];
  // Quiet: a handler stopped by its signal throws, and Hono's default handler logs every error.
  hono.onError((_error, c) => c.text("Internal Server Error", 500));
  hono.use("*", timeout({ timeoutMs, clock }));
  hono.get("/fast", (c) => {
    seen.push(signalOf(c));
    return c.text("fast");
  });
  hono.get("/slow/:ms", async (c) => {
    const signal = signalOf(c);
    seen.push(signal);
    // A cooperative handler: its sleep ends when the signal aborts.
    await clock.sleep(Number(c.req.param("ms")), signal);
    return c.text("slow");
  });
  hono.get("/deaf", async (c) => {
    await clock.sleep(5_000);
    late.push("finished");
    return c.text("late");
  });
  return { hono, seen, late };
}

describe("timeout middleware (bulwark/hono)", () => {
  it("is a named middleware", () => {
    expect(timeout().name).toBe("timeout");
  });

  it("answers 504 at the deadline with the handler's signal aborted by a TimeoutError; no timer left", async () => {
    const clock = new ManualClock();
    const { hono, seen } = app(clock);
    const answer = hono.request("/slow/5000");
    await clock.advance(999);
    expect(seen[0]!.aborted).toBe(false);
    await clock.advance(1);
    const response = await answer;
    expect(response.status).toBe(504);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect((await response.json() as { type: string }).type).toBe("urn:bulwark:timeout");
    expect(seen[0]!.aborted).toBe(true);
    expect(seen[0]!.reason).toBeInstanceOf(TimeoutError);
    expect((seen[0]!.reason as TimeoutError).timeoutMs).toBe(1_000);
    expect(clock.pending).toBe(0);
  });

  it("a handler in time: its answer, its signal never aborted, its timer cleared", async () => {
    const clock = new ManualClock();
    const { hono, seen } = app(clock);
    expect(await (await hono.request("/fast")).text()).toBe("fast");
    const answer = hono.request("/slow/500");
    await clock.advance(500);
    expect(await (await answer).text()).toBe("slow");
    expect(seen.every((signal) => !signal.aborted)).toBe(true);
    expect(clock.pending).toBe(0);
    await clock.advance(10_000);
    expect(seen.every((signal) => !signal.aborted)).toBe(true);
  });

  it("does not wait for a handler that ignores its signal; its late answer is dropped", async () => {
    const clock = new ManualClock();
    const { hono, late } = app(clock);
    const answer = hono.request("/deaf");
    await clock.advance(1_000);
    expect((await answer).status).toBe(504);
    await clock.advance(4_000);
    expect(late).toEqual(["finished"]);
    expect(clock.pending).toBe(0);
  });

  it("100 concurrent requests, half too slow: exactly 50 × 200 and 50 × 504, no timer left", async () => {
    const clock = new ManualClock();
    const { hono } = app(clock);
    const answers = Array.from({ length: 100 }, (_, i) => hono.request(i % 2 === 0 ? "/slow/400" : "/slow/1500"));
    await clock.advance(1_000);
    const responses = await Promise.all(answers);
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 200 : 504)));
    expect(clock.pending).toBe(0);
  });

  it("listens to the request's signal only while the handler runs; the client's abort reaches the handler", async () => {
    const clock = new ManualClock();
    const { hono, seen } = app(clock);
    const done = countedRequest("/slow/300");
    const answer = hono.request(done.request);
    await clock.advance(300);
    expect((await answer).status).toBe(200);
    expect(done.listening()).toBe(0);

    const gone = countedRequest("/slow/5000");
    const outcome = Promise.resolve(hono.request(gone.request)).catch((error: unknown) => error);
    await clock.advance(100);
    const reason = new Error("client went away");
    gone.controller.abort(reason);
    await outcome;
    expect(seen[1]!.aborted).toBe(true);
    expect(seen[1]!.reason).toBe(reason);
    expect(gone.listening()).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it("signalOf outside a timeout is the request's own signal", async () => {
    const hono = new Hono();
    let same = false;
    hono.get("/", (c) => {
      same = signalOf(c) === c.req.raw.signal;
      return c.text("ok");
    });
    await hono.request("/");
    expect(same).toBe(true);
  });

  it("refuses bad options (ConfigError naming the field) and misuse (InvalidArgumentError)", () => {
    const thrown = (options: unknown) => {
      try {
        timeout(options as HonoTimeoutOptions);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const bad = thrown({ timeoutMs: 0, clock: {}, strategy: "aggressive" }) as ConfigError;
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.target).toBe("timeout");
    expect(bad.issues.map((issue) => issue.field).sort()).toEqual(["clock", "strategy", "timeoutMs"]);
    for (const value of [5_000, "5s", null]) {
      const error = thrown(value) as InvalidArgumentError;
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.argument).toBe("options");
    }
  });
});
