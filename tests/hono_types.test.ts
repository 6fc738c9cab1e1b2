/**
 * Hono's own typing, checked by `npm run typecheck` (strict, TypeScript 5.9
 * and 7): the middleware go to `app.use()` and routes of a `Hono<Env>` as
 * they are, their callbacks see `c.get()`, `c.var`, `c.env` and
 * `c.req.param()` without importing hono's types, and a callback annotated
 * with `Context<Env>` gets them fully typed. The runtime assertions keep it
 * honest.
 */
import { type Context, Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  bulkhead,
  circuitBreaker,
  clientAddress,
  health,
  type HonoMiddleware,
  idempotency,
  rateLimit,
  remoteAddress,
  signalOf,
  timeout,
} from "../adapters/hono/mod.ts";
import { CircuitBreaker, MemoryIdempotencyStore } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

type Env = { Bindings: { TIER: string }; Variables: { user: string } };

describe("Hono typing (bulwark/hono)", () => {
  it("fits a Hono<Env> app: app.use, route middleware, handlers, typed and untyped callbacks", async () => {
    const clock = new ManualClock();
    const app = new Hono<Env>();
    app.use("*", async (c, next) => {
      c.set("user", c.req.header("x-user") ?? "anonymous");
      await next();
    });
    app.use("/api/*", rateLimit({ limit: 1, windowMs: 1_000, clock, key: (c) => `${c.get("user")}:${c.env?.TIER ?? "free"}` }));
    app.use("/api/*", rateLimit({ policy: "typed", limit: 5, windowMs: 1_000, clock, key: (c: Context<Env>) => c.var.user }));
    app.use(
      "/api/*",
      circuitBreaker({ breaker: new CircuitBreaker({ clock }), isFailure: (c) => c.res.status >= 500 || c.req.param("id") === "bad" }),
    );
    app.use("/api/*", timeout({ timeoutMs: 1_000, clock }), bulkhead({ maxConcurrent: 2, clock }));
    // idempotency's scope sees the same context as the others' callbacks.
    app.post("/orders", idempotency({ store: new MemoryIdempotencyStore({ clock }), scope: (c) => c.get("user") }), (c) => c.json({ user: c.var.user }, 201));
    app.get("/api/items/:id", (c) => c.json({ id: c.req.param("id"), user: c.var.user, aborted: signalOf(c).aborted }));
    app.get("/health", health());
    app.get("/limited", rateLimit({ limit: 1, windowMs: 1_000, clock, key: () => "one" }), (c) => c.text(remoteAddress(c) ?? clientAddress(c) ?? "none"));
    const middleware: HonoMiddleware = timeout();
    app.use("/other", middleware);

    const answer = await app.request("/api/items/7", { headers: { "x-user": "ada" } });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ id: "7", user: "ada", aborted: false });
    expect(answer.headers.get("RateLimit")).toBe('"typed";r=4;t=1, "default";r=0;t=1');
    expect((await app.request("/api/items/7", { headers: { "x-user": "ada" } })).status).toBe(429);
    expect((await app.request("/api/items/7", { headers: { "x-user": "bob" } })).status).toBe(200);
    const order = { method: "POST", headers: { "x-user": "ada", "Idempotency-Key": '"k1"' }, body: "{}" };
    expect((await app.request("/orders", order)).headers.get("Idempotency-Replayed")).toBeNull();
    expect((await app.request("/orders", order)).headers.get("Idempotency-Replayed")).toBe("true");
    expect((await app.request("/health")).status).toBe(200);
    expect(await (await app.request("/limited")).text()).toBe("none");
    expect((await app.request("/limited")).status).toBe(429);
  });
});
