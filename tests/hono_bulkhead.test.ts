import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { bulkhead, type HonoBulkheadOptions } from "../adapters/hono/mod.ts";
import { Bulkhead, ConfigError, InvalidArgumentError } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open: () => open() };
}

function app(options: HonoBulkheadOptions) {
  const hono = new Hono();
  const door = gate();
  let running = 0;
  let peak = 0;
  let ran = 0;
  hono.use("*", bulkhead(options));
  hono.get("/", async (c) => {
    ran++;
    peak = Math.max(peak, ++running);
    await door.opened;
    running--;
    return c.text("done");
  });
  return { hono, door, stats: () => ({ ran, peak }) };
}

async function turns(n = 20) {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe("bulkhead middleware (bulwark/hono)", () => {
  it("is a named middleware", () => {
    expect(bulkhead().name).toBe("bulkhead");
  });

  it("100 concurrent requests, 10 slots and 20 queued: exactly 30 × 200 and 70 × 503, never more than 10 at once", async () => {
    // pollMs 0: the request that frees a slot hands it over (in one test, safe on Workers too).
    const slots = new Bulkhead({ maxConcurrent: 10, maxQueue: 20, pollMs: 0 });
    const { hono, door, stats } = app({ bulkhead: slots });
    const answers = Array.from({ length: 100 }, () => hono.request("/"));
    await turns();
    door.open();
    const responses = await Promise.all(answers);
    expect(responses.filter((r) => r.status === 200).length).toBe(30);
    expect(responses.filter((r) => r.status === 503).length).toBe(70);
    expect(stats()).toEqual({ ran: 30, peak: 10 });
    const refused = responses.find((r) => r.status === 503)!;
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.headers.get("Retry-After")).toBeNull();
    const document = await refused.json() as { type: string; status: number; detail: string };
    expect(document).toMatchObject({ type: "urn:bulwark:bulkhead-full", status: 503, detail: "10 requests running and 20 waiting" });
  });

  it("builds its bulkhead from the options; a queued request waits at most queueTimeoutMs", async () => {
    const clock = new ManualClock();
    const { hono, door, stats } = app({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 1_000, clock });
    const first = hono.request("/");
    await turns();
    const queued = hono.request("/");
    await turns();
    const full = await hono.request("/");
    expect(full.status).toBe(503);
    await clock.advance(1_000);
    expect((await queued).status).toBe(503);
    door.open();
    expect((await first).status).toBe(200);
    expect(stats().ran).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("a queued request whose client goes away leaves the queue; its slot goes to the next", async () => {
    const slots = new Bulkhead({ maxConcurrent: 1, maxQueue: 2, pollMs: 0 });
    const { hono, door, stats } = app({ bulkhead: slots });
    hono.onError((_error, c) => c.text("gone", 499 as 500));
    const first = hono.request("/");
    await turns();
    const controller = new AbortController();
    const leaving = hono.request(new Request("http://localhost/", { signal: controller.signal }));
    const staying = hono.request("/");
    await turns();
    expect(slots.queued).toBe(2);
    controller.abort(new Error("client went away"));
    await turns();
    expect(slots.queued).toBe(1);
    door.open();
    expect((await first).status).toBe(200);
    expect((await staying).status).toBe(200);
    expect((await leaving).status).not.toBe(200);
    expect(stats().ran).toBe(2);
    expect(slots.active).toBe(0);
  });

  it("refuses bad options (ConfigError naming the field) and misuse (InvalidArgumentError)", () => {
    const thrown = (options: unknown) => {
      try {
        bulkhead(options as HonoBulkheadOptions);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const bad = thrown({ maxConcurrent: 0, maxQueue: -1, queueTimeoutMs: "1s", maxConcurent: 3 }) as ConfigError;
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.target).toBe("bulkhead");
    expect(bad.issues.map((issue) => issue.field).sort()).toEqual(["maxConcurent", "maxConcurrent", "maxQueue", "queueTimeoutMs"]);
    const clash = thrown({ bulkhead: new Bulkhead(), maxQueue: 3 }) as ConfigError;
    expect(clash.issues.map((issue) => issue.field)).toEqual(["maxQueue"]);
    expect((thrown({ bulkhead: {} }) as ConfigError).issues[0]!.field).toBe("bulkhead");
    for (const value of [10, null, "10"]) {
      const error = thrown(value) as InvalidArgumentError;
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.argument).toBe("options");
    }
  });
});
