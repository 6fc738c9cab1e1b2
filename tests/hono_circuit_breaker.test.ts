import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { breakerRegistry, circuitBreaker, type HonoCircuitBreakerOptions, timeout } from "../adapters/hono/mod.ts";
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  ConfigError,
  HttpStatusError,
  InvalidArgumentError,
} from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

class NotFound extends Error {}

function app(options: HonoCircuitBreakerOptions, status: () => number) {
  const hono = new Hono();
  // Quiet (Hono's default handler logs every error), and a 404 for NotFound.
  hono.onError((error, c) => (error instanceof NotFound ? c.text(error.message, 404) : c.text("Internal Server Error", 500)));
  let calls = 0;
  hono.use("/guarded/*", circuitBreaker(options));
  hono.get("/guarded/status", (c) => {
    calls++;
    return c.text(`status ${status()}`, status() as 200);
  });
  hono.get("/guarded/throw", () => {
    calls++;
    throw new Error("handler failed");
  });
  hono.get("/guarded/not-found", () => {
    calls++;
    throw new NotFound("no such item");
  });
  return { hono, calls: () => calls };
}

async function expectProblem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const document = await response.json() as { type: string; status: number };
  expect(document.type).toBe(type);
  expect(document.status).toBe(status);
}

describe("circuitBreaker middleware (bulwark/hono)", () => {
  it("is a named middleware", () => {
    expect(circuitBreaker({ breaker: new CircuitBreaker() }).name).toBe("circuitBreaker");
  });

  it("counts 5xx answers (they still reach the client), opens, answers 503 with Retry-After, recovers by a probe", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: "inventory", maxFailures: 3, resetTimeoutMs: 10_500, clock });
    let status = 502;
    const { hono, calls } = app({ breaker }, () => status);
    for (let i = 0; i < 3; i++) {
      const answer = await hono.request("/guarded/status");
      expect(answer.status).toBe(502);
      expect(await answer.text()).toBe("status 502");
    }
    expect(breaker.state).toBe("open");
    expect(breaker.openError).toBeInstanceOf(HttpStatusError);
    expect((breaker.openError as HttpStatusError).status).toBe(502);
    const refused = await hono.request("/guarded/status");
    await expectProblem(refused, 503, "urn:bulwark:circuit-open");
    expect(refused.headers.get("Retry-After")).toBe("11");
    expect(calls()).toBe(3);
    await clock.advance(10_000);
    expect((await hono.request("/guarded/status")).headers.get("Retry-After")).toBe("1");
    await clock.advance(500);
    status = 200;
    const probe = await hono.request("/guarded/status");
    expect(probe.status).toBe(200);
    expect(breaker.state).toBe("closed");
    expect(calls()).toBe(4);
  });

  it("a handler that throws is a failure (the error is the cause); a 4xx, even from a thrown error, is not", async () => {
    const breaker = new CircuitBreaker({ maxFailures: 1, clock: new ManualClock() });
    const { hono } = app({ breaker }, () => 404);
    expect((await hono.request("/guarded/status")).status).toBe(404);
    expect((await hono.request("/guarded/not-found")).status).toBe(404);
    expect(breaker.state).toBe("closed");
    expect((await hono.request("/guarded/throw")).status).toBe(500);
    expect(breaker.state).toBe("open");
    const opened = breaker.openError as HttpStatusError;
    expect(opened.status).toBe(500);
    expect((opened.cause as Error).message).toBe("handler failed");
  });

  it("isFailure decides; the breaker's own isFailure still filters", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, clock });
    const { hono } = app({ breaker, isFailure: (c) => c.res.status === 429 }, () => 429);
    await hono.request("/guarded/status");
    expect(breaker.state).toBe("open");
    const deaf = new CircuitBreaker({ maxFailures: 1, clock, isFailure: (error) => !(error instanceof HttpStatusError) });
    const other = app({ breaker: deaf }, () => 503);
    expect((await other.hono.request("/guarded/status")).status).toBe(503);
    expect(deaf.state).toBe("closed");
  });

  it("forced open: 503 without Retry-After; disabled: everything passes", async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock() });
    const { hono, calls } = app({ breaker }, () => 200);
    breaker.forceOpen();
    const refused = await hono.request("/guarded/status");
    await expectProblem(refused, 503, "urn:bulwark:circuit-open");
    expect(refused.headers.get("Retry-After")).toBeNull();
    breaker.disable();
    expect((await hono.request("/guarded/status")).status).toBe(200);
    expect(calls()).toBe(1);
  });

  it("half-open: of 100 concurrent requests exactly one probes, 99 get 503", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 1, resetTimeoutMs: 1_000, halfOpenMaxCalls: 1, clock });
    let release = () => {};
    const hono = new Hono();
    let calls = 0;
    hono.use("*", circuitBreaker({ breaker }));
    hono.get("/", async (c) => {
      calls++;
      await new Promise<void>((resolve) => (release = resolve));
      return c.text("ok");
    });
    breaker.recordFailure();
    await clock.advance(1_000);
    const pending = Array.from({ length: 100 }, () => hono.request("/"));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    const early = await Promise.all(pending.slice(1));
    expect(early.filter((r) => r.status === 503).length).toBe(99);
    expect(early.every((r) => r.headers.get("Retry-After") === "1")).toBe(true);
    release();
    expect((await pending[0]!).status).toBe(200);
    expect(calls).toBe(1);
    expect(breaker.state).toBe("closed");
  });

  it("outside a timeout: the 504 of a handler that ignores its signal is counted, and the circuit opens", async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ maxFailures: 2, resetTimeoutMs: 60_000, clock });
    const hono = new Hono();
    hono.use("*", circuitBreaker({ breaker }), timeout({ timeoutMs: 1_000, clock }));
    hono.get("/", () => new Promise<Response>(() => {}));
    for (let i = 0; i < 2; i++) {
      const answer = hono.request("/");
      await clock.advance(1_000);
      expect((await answer).status).toBe(504);
    }
    expect(breaker.state).toBe("open");
    expect((breaker.openError as HttpStatusError).status).toBe(504);
    expect((await hono.request("/")).headers.get("Retry-After")).toBe("60");
    expect(clock.pending).toBe(0);
  });

  it("a breaker's fallback that returns a Response answers instead", async () => {
    const breaker = new CircuitBreaker<Response>({
      maxFailures: 1,
      clock: new ManualClock(),
      fallback: () => new Response("cached", { status: 200, headers: { "x-fallback": "1" } }),
    });
    const { hono, calls } = app({ breaker }, () => 500);
    expect((await hono.request("/guarded/status")).status).toBe(500);
    const answer = await hono.request("/guarded/status");
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe("cached");
    expect(calls()).toBe(1);
  });

  it("name: a breaker of the shared registry, or of the one given", async () => {
    circuitBreaker({ name: "hono-test-shared" });
    const shared = breakerRegistry().get("hono-test-shared");
    expect(shared).toBeInstanceOf(CircuitBreaker);
    circuitBreaker({ name: "hono-test-shared" });
    expect(breakerRegistry().get("hono-test-shared")).toBe(shared);
    breakerRegistry().delete("hono-test-shared");
    const registry = new CircuitBreakerRegistry({ maxFailures: 1 });
    const { hono } = app({ name: "db", registry }, () => 500);
    await hono.request("/guarded/status");
    expect(registry.get("db")?.state).toBe("open");
  });

  it("refuses bad options (ConfigError naming the field) and misuse (InvalidArgumentError)", () => {
    const thrown = (options: unknown) => {
      try {
        circuitBreaker(options as HonoCircuitBreakerOptions);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    for (const options of [{}, { breaker: new CircuitBreaker(), name: "x" }, { breaker: new CircuitBreaker(), registry: new CircuitBreakerRegistry() }]) {
      expect(thrown(options)).toBeInstanceOf(ConfigError);
    }
    const bad = thrown({ breaker: {}, isFailure: true, nmae: "x" }) as ConfigError;
    expect(bad.issues.map((issue) => issue.field).sort()).toEqual(["breaker", "isFailure", "nmae"]);
    expect((thrown({ name: "" }) as ConfigError).issues[0]!.field).toBe("name");
    for (const value of ["payments", 3, null]) {
      const error = thrown(value) as InvalidArgumentError;
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.argument).toBe("options");
    }
    expect(thrown(undefined)).toBeInstanceOf(ConfigError);
  });
});
