import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { idempotency, type HonoIdempotencyOptions } from "../adapters/hono/mod.ts";
import { ConfigError, IdempotencyStore, InvalidArgumentError, MemoryIdempotencyStore, MemoryStore, type Store } from "../mod.ts";
import { ManualClock } from "../src/testing/mod.ts";
import { macrotask } from "./_support/idempotency_scenarios.ts";

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function app(options: Partial<HonoIdempotencyOptions> = {}, handler?: (body: unknown) => Promise<Response> | Response) {
  const clock = new ManualClock();
  const raw = new MemoryStore({ clock, prefix: "" });
  const store = new IdempotencyStore({ store: raw, inProgressTtlMs: 1_000 });
  const calls: unknown[] = [];
  const hono = new Hono();
  hono.use("*", idempotency({ store, ...options }));
  hono.on(["POST", "PATCH", "PUT"], "/orders", async (c) => {
    const body = c.req.header("content-type") === "application/json" ? await c.req.json() : await c.req.text();
    calls.push(body);
    if (handler !== undefined) return await handler(body);
    return c.json({ order: calls.length, body }, 201, { "x-order": String(calls.length) });
  });
  const post = (key: string | undefined, body: unknown = { amount: 10 }, init: RequestInit = {}) =>
    hono.request("/orders", {
      method: "POST",
      ...init,
      headers: {
        "content-type": "application/json",
        ...(key === undefined ? {} : { "idempotency-key": key }),
        ...(init.headers as Record<string, string> | undefined),
      },
      body: init.body ?? (typeof body === "string" ? body : JSON.stringify(body)),
    });
  return { hono, calls, post, store, raw, clock };
}

async function expectProblem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const document = await response.json() as { type: string; title: string; status: number; detail: string };
  expect(document.type).toBe(type);
  expect(document.status).toBe(status);
  expect(typeof document.title).toBe("string");
  expect(typeof document.detail).toBe("string");
}

describe("idempotency middleware (bulwark/hono)", () => {
  it("runs the handler once and replays status, headers and body, marked", async () => {
    const { post, calls } = app();
    const first = await post('"order-1"');
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotency-replayed")).toBeNull();
    const replay = await post('"order-1"');
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotency-replayed")).toBe("true");
    expect(replay.headers.get("x-order")).toBe("1");
    expect(await replay.json()).toEqual(await first.json());
    expect(calls).toEqual([{ amount: 10 }]);
  });

  it("100 concurrent identical POSTs: the handler runs once, every answer is its status and body", async () => {
    const gate = deferred();
    const { post, calls } = app({}, async () => {
      await gate.promise;
      return new Response(JSON.stringify({ charged: true }), { status: 201, headers: { "content-type": "application/json" } });
    });
    const first = post('"burst"');
    for (let i = 0; i < 10; i++) await macrotask();
    const others = Array.from({ length: 99 }, () => post('"burst"'));
    const during = await Promise.all(others);
    // While the first is in flight, every duplicate is told so (409) and nothing more runs.
    for (const response of during) await expectProblem(response, 409, "urn:bulwark:idempotency:in-progress");
    gate.resolve();
    expect((await first).status).toBe(201);
    const retries = await Promise.all(Array.from({ length: 99 }, () => post('"burst"')));
    for (const response of retries) {
      expect(response.status).toBe(201);
      expect(response.headers.get("idempotency-replayed")).toBe("true");
      expect(await response.json()).toEqual({ charged: true });
    }
    expect(calls.length).toBe(1);
  });

  it("with waitMs, 100 concurrent identical POSTs all get the one answer, every duplicate a marked replay", async () => {
    const gate = deferred();
    const clock = new ManualClock();
    const { post, calls } = app({ waitMs: 5_000, clock }, async () => {
      await gate.promise;
      return new Response(JSON.stringify({ charged: true }), { status: 201, headers: { "content-type": "application/json" } });
    });
    const first = post('"burst"');
    for (let i = 0; i < 10; i++) await macrotask();
    const others = Array.from({ length: 99 }, () => post('"burst"'));
    for (let i = 0; i < 10; i++) await macrotask();
    gate.resolve();
    let settled = false;
    const all = Promise.all([first, ...others]).finally(() => (settled = true));
    for (let i = 0; i < 200 && !settled; i++) {
      await clock.advance(25);
      await macrotask();
    }
    const responses = await all;
    expect(calls.length).toBe(1);
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 100 }, () => 201));
    expect(responses.filter((r) => r.headers.get("idempotency-replayed") === "true").length).toBe(99);
    for (const response of responses) expect(await response.json()).toEqual({ charged: true });
    expect(clock.pending).toBe(0);
  });

  it("with waitMs, a duplicate still in flight after the wait gets the 409", async () => {
    const clock = new ManualClock();
    const { post, calls } = app({ waitMs: 100, clock }, () => new Promise<Response>(() => {}));
    void post('"stuck"');
    // The first request holds the key once its handler runs (a loaded machine may take many turns to get there).
    for (let i = 0; i < 1_000 && calls.length === 0; i++) await macrotask();
    expect(calls.length).toBe(1);
    let answer: Response | undefined;
    const duplicate = Promise.resolve(post('"stuck"')).then((r) => (answer = r));
    for (let i = 0; i < 1_000 && answer === undefined; i++) {
      await clock.advance(25);
      await macrotask();
    }
    expect(answer).toBeDefined();
    await duplicate;
    await expectProblem(answer!, 409, "urn:bulwark:idempotency:in-progress");
    expect(calls.length).toBe(1);
  });

  it("422 for the key reused with another body, path or method", async () => {
    const { post, calls } = app();
    await post('"k"', { amount: 10 });
    await expectProblem(await post('"k"', { amount: 11 }), 422, "urn:bulwark:idempotency:key-reused");
    await expectProblem(await post('"k"', { amount: 10 }, { method: "PATCH" }), 422, "urn:bulwark:idempotency:key-reused");
    expect(calls.length).toBe(1);
  });

  it("400 for missing (when required), empty, 256-character, non-ASCII, unquoted and list-valued keys; nothing stored", async () => {
    const { post, calls, raw } = app({ required: true });
    await expectProblem(await post(undefined), 400, "urn:bulwark:idempotency:key-missing");
    for (const key of ['""', `"${"x".repeat(256)}"`, '"café"', "plain", '"a", "b"', '"a"x']) {
      await expectProblem(await post(key), 400, "urn:bulwark:idempotency:key-malformed");
    }
    expect(calls).toEqual([]);
    expect(raw.size).toBe(0);
    expect((await post(`"${"x".repeat(255)}"`)).status).toBe(201);
  });

  it("passes requests without a key through when not required, and other methods always", async () => {
    const { hono, post, calls } = app();
    expect((await post(undefined)).status).toBe(201);
    expect((await post(undefined)).status).toBe(201);
    expect((await hono.request("/orders", { method: "PUT", headers: { "idempotency-key": '"k"' }, body: "x" })).status).toBe(201);
    expect((await hono.request("/orders", { method: "PUT", headers: { "idempotency-key": '"k"' }, body: "x" })).headers.get("idempotency-replayed")).toBeNull();
    expect(calls.length).toBe(4);
  });

  it("413 for a body over maxBodyBytes, declared or streamed; nothing stored", async () => {
    const { post, calls, raw } = app({ maxBodyBytes: 16 });
    await expectProblem(await post('"big"', "x".repeat(17), { headers: { "content-type": "text/plain" } }), 413, "urn:bulwark:idempotency:body-too-large");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode("xxxxxxxx"));
        controller.close();
      },
    });
    const streamed = await post('"big"', "", { body: stream, headers: { "content-type": "text/plain" }, duplex: "half" } as RequestInit);
    await expectProblem(streamed, 413, "urn:bulwark:idempotency:body-too-large");
    expect(calls).toEqual([]);
    expect(raw.size).toBe(0);
    expect((await post('"small"', "x".repeat(16), { headers: { "content-type": "text/plain" } })).status).toBe(201);
  });

  it("scopes keys: one client never gets another's response", async () => {
    const { hono, calls } = app({ scope: (c) => c.req.header("x-api-key") });
    const as = (client: string) =>
      hono.request("/orders", {
        method: "POST",
        headers: { "idempotency-key": '"same"', "x-api-key": client, "content-type": "application/json" },
        body: "{}",
      });
    await as("alice");
    const bob = await as("bob");
    expect(bob.headers.get("idempotency-replayed")).toBeNull();
    expect((await as("alice")).headers.get("idempotency-replayed")).toBe("true");
    expect(calls.length).toBe(2);
  });

  it("releases the key when the handler throws or answers 5xx, so the client may retry", async () => {
    let fail: "throw" | "503" | undefined = "throw";
    const { hono, post, calls, raw } = app({}, () => {
      if (fail === "throw") throw new Error("boom");
      if (fail === "503") return new Response("busy", { status: 503 });
      return new Response("ok", { status: 200 });
    });
    hono.onError((_error, c) => c.text("failed", 500));
    expect((await post('"r"')).status).toBe(500);
    expect(raw.size).toBe(0);
    fail = "503";
    expect((await post('"r"')).status).toBe(503);
    expect(raw.size).toBe(0);
    fail = undefined;
    expect((await post('"r"')).status).toBe(200);
    expect((await post('"r"')).headers.get("idempotency-replayed")).toBe("true");
    expect(calls.length).toBe(3);
  });

  it("a response body that fails while it is stored releases the key: the retry runs, no 409 for inProgressTtlMs", async () => {
    let broken = true;
    const { hono, post, calls, raw } = app({}, () => {
      if (!broken) return new Response("ok", { status: 201 });
      return new Response(new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("half"));
          controller.error(new Error("upstream reset"));
        },
      }), { status: 201 });
    });
    hono.onError((_error, c) => c.text("failed", 500));
    expect((await post('"s"')).status).toBe(500);
    expect(raw.size).toBe(0);
    broken = false;
    const retry = await post('"s"');
    expect(retry.status).toBe(201);
    expect(await retry.text()).toBe("ok");
    expect(calls.length).toBe(2);
  });

  it("a request that crashed mid-way: its key is claimable again after inProgressTtlMs, not before", async () => {
    const { post, calls, store, clock } = app();
    // The crashed request: it claimed the key (same fingerprint as post() sends) and never finished.
    const crashed = await post('"c"');
    expect(crashed.status).toBe(201);
    await store.delete("c");
    await store.acquire("c", { fingerprint: (await store.getRecord("c"))?.fingerprint });
    await expectProblem(await post('"c"'), 409, "urn:bulwark:idempotency:in-progress");
    await clock.advance(999);
    await expectProblem(await post('"c"'), 409, "urn:bulwark:idempotency:in-progress");
    await clock.advance(1);
    expect((await post('"c"')).status).toBe(201);
    expect(calls.length).toBe(2);
  });

  it("validates its options at construction", () => {
    expect(() => idempotency(undefined as never)).toThrow(ConfigError);
    expect(() => idempotency(42 as never)).toThrow(InvalidArgumentError);
    expect(() => idempotency({ store: new MemoryIdempotencyStore(), maxBodyBytes: -1 })).toThrow(/maxBodyBytes/);
    expect(() => idempotency({ store: new MemoryIdempotencyStore(), methods: "POST" as never })).toThrow(/methods/);
    const kv = new MemoryStore();
    Object.defineProperty(kv, "capabilities", { value: { ...kv.capabilities, atomic: false, consistency: "eventual" } });
    expect(() => idempotency({ store: kv as Store })).toThrow(/propagation window/);
  });
});
