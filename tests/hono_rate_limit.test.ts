import { Hono } from "hono";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AsyncKeyedLimiter,
  clientAddress,
  type HonoRateLimitOptions,
  rateLimit,
  remoteAddress,
} from "../adapters/hono/mod.ts";
import { ConfigError, InvalidArgumentError, KeyedRateLimiter, MemoryStore, type RateLimitDecision } from "../mod.ts";
import { CountingStore, ManualClock } from "../src/testing/mod.ts";
import { onWorkersNow } from "./_support/user_agent.ts";

const onWorkers = onWorkersNow();

function app(options: HonoRateLimitOptions) {
  const hono = new Hono();
  // Quiet: Hono's default handler logs every error.
  hono.onError((_error, c) => c.text("Internal Server Error", 500));
  hono.use("*", rateLimit(options));
  hono.get("/", (c) => c.text("ok"));
  hono.get("/raw", () => new Response("raw", { headers: { "x-raw": "1" } }));
  hono.get("/boom", () => {
    throw new Error("boom");
  });
  return hono;
}

const as = (user: string) => ({ headers: { "x-user": user } });
const byUser = { key: (c: { req: { header(name: string): string | undefined } }) => c.req.header("x-user") ?? "nobody" };

async function expectProblem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const document = await response.json() as { type: string; status: number };
  expect(document.type).toBe(type);
  expect(document.status).toBe(status);
}

describe("rateLimit middleware (bulwark/hono)", () => {
  it("is a named middleware", () => {
    expect(rateLimit({ key: () => "k" }).name).toBe("rateLimit");
  });

  it("answers every counted request with the IETF fields; refuses with 429, Retry-After and the fields", async () => {
    const clock = new ManualClock();
    const hono = app({ limit: 3, windowMs: 60_000, clock, ...byUser });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await hono.request("/", as("alice")));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((r) => r.headers.get("RateLimit-Policy"))).toEqual(Array(4).fill('"default";q=3;w=60'));
    // Token bucket: one token back every 20 s.
    expect(answers.map((r) => r.headers.get("RateLimit"))).toEqual([
      '"default";r=2;t=20',
      '"default";r=1;t=40',
      '"default";r=0;t=60',
      '"default";r=0;t=60',
    ]);
    expect(answers[0]!.headers.get("Retry-After")).toBeNull();
    expect(answers[3]!.headers.get("Retry-After")).toBe("20");
    await expectProblem(answers[3]!, 429, "urn:bulwark:rate-limited");
    expect(await answers[0]!.text()).toBe("ok");
    // Bob has his own limit.
    expect((await hono.request("/", as("bob"))).status).toBe(200);
    // Retry-After rounds up: 19.5 s left is 20.
    await clock.advance(500);
    expect((await hono.request("/", as("alice"))).headers.get("Retry-After")).toBe("20");
    await clock.advance(19_500);
    expect((await hono.request("/", as("alice"))).status).toBe(200);
  });

  it("adds the fields to a raw Response (immutable headers too) and to the error handler's 500", async () => {
    const hono = app({ limit: 5, windowMs: 1_000, clock: new ManualClock(), ...byUser });
    const raw = await hono.request("/raw", as("a"));
    expect(raw.headers.get("x-raw")).toBe("1");
    expect(raw.headers.get("RateLimit")).toBe('"default";r=4;t=1');
    const fetched = new Hono();
    fetched.use("*", rateLimit({ limit: 5, windowMs: 1_000, key: () => "k" }));
    fetched.get("/", () => Response.redirect("https://example.com/", 302));
    const redirect = await fetched.request("/");
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("RateLimit")).toBe('"default";r=4;t=1');
    const failed = await hono.request("/boom", as("a"));
    expect(failed.status).toBe(500);
    expect(failed.headers.get("RateLimit")).toBe('"default";r=3;t=1');
  });

  it("stacks limits: each adds its own item to the lists", async () => {
    const clock = new ManualClock();
    const hono = new Hono();
    hono.use("*", rateLimit({ policy: "burst", limit: 2, windowMs: 1_000, clock, key: () => "k" }));
    hono.use("*", rateLimit({ policy: "daily", algorithm: "fixed-window", limit: 1_000, windowMs: 86_400_000, clock, key: () => "k" }));
    hono.get("/", (c) => c.text("ok"));
    const response = await hono.request("/");
    expect(response.headers.get("RateLimit-Policy")).toBe('"daily";q=1000;w=86400, "burst";q=2;w=1');
    expect(response.headers.get("RateLimit")).toBe('"daily";r=999;t=86400, "burst";r=1;t=1');
  });

  for (const algorithm of ["token-bucket", "gcra", "sliding-window", "fixed-window"] as const) {
    it(`${algorithm}: 100 concurrent requests of one client, limit 10: exactly 10 × 200 and 90 × 429`, async () => {
      const hono = app({ algorithm, limit: 10, windowMs: 60_000, clock: new ManualClock(), ...byUser });
      const answers = await Promise.all(Array.from({ length: 100 }, () => hono.request("/", as("alice"))));
      expect(answers.filter((r) => r.status === 200).length).toBe(10);
      expect(answers.filter((r) => r.status === 429).length).toBe(90);
      for (const answer of answers) {
        expect(answer.headers.get("RateLimit-Policy")).toBe('"default";q=10;w=60');
        expect(answer.headers.get("Retry-After") === null).toBe(answer.status === 200);
      }
    });
  }

  it("property: concurrent requests of several clients, fixed window: min(n, limit) pass per client, the fields count down", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 5 }), async (limit, counts) => {
        const hono = app({ algorithm: "fixed-window", limit, windowMs: 10_000, clock: new ManualClock(), ...byUser });
        const sent = counts.flatMap((n, client) => Array.from({ length: n }, () => `c${client}`));
        const answers = await Promise.all(sent.map((user) => hono.request("/", as(user))));
        counts.forEach((n, client) => {
          const mine = answers.filter((_, i) => sent[i] === `c${client}`);
          expect(mine.filter((r) => r.status === 200).length).toBe(Math.min(n, limit));
          const remaining = mine.filter((r) => r.status === 200).map((r) => r.headers.get("RateLimit")).sort();
          expect(remaining).toEqual(Array.from({ length: Math.min(n, limit) }, (_, k) => `"default";r=${limit - 1 - k};t=10`).sort());
          expect(mine.filter((r) => r.status === 429).every((r) => r.headers.get("Retry-After") === "10")).toBe(true);
        });
      }),
      { numRuns: 30 },
    );
  });

  it("an async limiter (limit(key, { cost })): 100 concurrent requests over 4 keys, exact counts per key", async () => {
    const inner = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 5, windowMs: 10_000, clock: new ManualClock() });
    const asked: [string, number | undefined][] = [];
    const limiter: AsyncKeyedLimiter = {
      async limit(key, options) {
        asked.push([key, options?.cost]);
        await new Promise((resolve) => setTimeout(resolve, 0)); // a store's round trip
        return inner.consume(key, options?.cost);
      },
    };
    const hono = app({ limiter, ...byUser });
    const users = ["a", "b", "c", "d"];
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => hono.request("/", as(users[i % 4]!))));
    for (let u = 0; u < 4; u++) {
      const mine = answers.filter((_, i) => i % 4 === u);
      expect(mine.filter((r) => r.status === 200).length).toBe(5);
      expect(mine.filter((r) => r.status === 429).length).toBe(20);
    }
    expect(asked.length).toBe(100);
    expect(asked.every(([, cost]) => cost === 1)).toBe(true);
  });

  it("store: a DistributedRateLimiter over it, one store operation per request, shared by two apps", async () => {
    const clock = new ManualClock();
    const store = new CountingStore(new MemoryStore({ clock }));
    // Two instances of one service, each with its own middleware, one store.
    const first = app({ store, algorithm: "fixed-window", limit: 6, windowMs: 10_000, clock, ...byUser });
    const second = app({ store, algorithm: "fixed-window", limit: 6, windowMs: 10_000, clock, ...byUser });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? first : second).request("/", as(i % 4 < 2 ? "a" : "b"))),
    );
    for (const user of [0, 1]) {
      const mine = answers.filter((_, i) => (i % 4 < 2 ? 0 : 1) === user);
      expect(mine.filter((r) => r.status === 200).length).toBe(6);
      expect(mine.filter((r) => r.status === 429).length).toBe(14);
    }
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.headers.get("Retry-After")).toBe("10");
    expect(answers.find((r) => r.status === 200)!.headers.get("RateLimit-Policy")).toBe('"default";q=6;w=10');
    // One update per request the store decided; later refusals come from each limiter's blocked-key cache.
    expect(store.counts.update).toBeGreaterThanOrEqual(12);
    expect(store.counts.update).toBeLessThanOrEqual(40);
    await clock.advance(10_000);
    expect((await second.request("/", as("a"))).status).toBe(200);
  });

  it("skip passes requests uncounted and without fields; cost takes several units", async () => {
    const clock = new ManualClock();
    const hono = app({
      limit: 10,
      windowMs: 10_000,
      clock,
      key: () => "k",
      skip: (c) => c.req.header("x-internal") === "yes",
      cost: (c) => Number(c.req.header("x-cost") ?? "1"),
    });
    const skipped = await hono.request("/", { headers: { "x-internal": "yes" } });
    expect(skipped.status).toBe(200);
    expect(skipped.headers.get("RateLimit")).toBeNull();
    const heavy = await hono.request("/", { headers: { "x-cost": "7" } });
    expect(heavy.headers.get("RateLimit")).toBe('"default";r=3;t=7');
    const tooHeavy = await hono.request("/", { headers: { "x-cost": "4" } });
    expect(tooHeavy.status).toBe(429);
    expect(tooHeavy.headers.get("Retry-After")).toBe("1");
    // More than the limit can ever admit: 429 without Retry-After.
    const never = await hono.request("/", { headers: { "x-cost": "11" } });
    expect(never.status).toBe(429);
    expect(never.headers.get("Retry-After")).toBeNull();
  });

  it("store: stacked limits of other settings count apart, as in memory (a login limit of 5 is not halved by a global one)", async () => {
    for (const shared of [false, true]) {
      const clock = new ManualClock();
      const store = new MemoryStore({ clock });
      const hono = new Hono();
      const where = shared ? { store } : {};
      hono.use("*", rateLimit({ ...where, limit: 100, windowMs: 60_000, clock, key: () => "c" }));
      hono.use("/login", rateLimit({ ...where, limit: 5, windowMs: 60_000, clock, key: () => "c", policy: "login" }));
      hono.get("*", (c) => c.text("ok"));
      const logins: number[] = [];
      for (let i = 0; i < 6; i++) logins.push((await hono.request("/login")).status);
      expect(logins).toEqual([200, 200, 200, 200, 200, 429]);
      // The global limit counted each login once: 94 of its 100 are left.
      const rest: number[] = [];
      for (let i = 0; i < 95; i++) rest.push((await hono.request("/other")).status);
      expect(rest.filter((status) => status === 200).length).toBe(94);
    }
  });

  it("store: a cost over the limit is a 429 without Retry-After, as in memory (not the limiter's misuse error, a 500)", async () => {
    const clock = new ManualClock();
    const store = new CountingStore(new MemoryStore({ clock }));
    const hono = app({ store, limit: 10, windowMs: 10_000, clock, key: () => "k", cost: (c) => Number(c.req.header("x-cost") ?? "1") });
    expect((await hono.request("/", { headers: { "x-cost": "7" } })).status).toBe(200);
    const updates = store.counts.update;
    const never = await hono.request("/", { headers: { "x-cost": "11" } });
    await expectProblem(never, 429, "urn:bulwark:rate-limited");
    expect(never.headers.get("Retry-After")).toBeNull();
    expect(never.headers.get("RateLimit-Policy")).toBe('"default";q=10;w=10');
    // Nothing asked of the store, nothing taken: the 3 units left are still there.
    expect(store.counts.update).toBe(updates);
    expect((await hono.request("/", { headers: { "x-cost": "3" } })).status).toBe(200);
  });

  it("uses a limiter given as it is: its keys, its clock", async () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 1, windowMs: 1_000, clock });
    const hono = app({ limiter, ...byUser });
    expect((await hono.request("/", as("x"))).status).toBe(200);
    expect((await hono.request("/", as("x"))).status).toBe(429);
    expect(limiter.has("x")).toBe(true);
    await clock.advance(1_000);
    expect((await hono.request("/", as("x"))).status).toBe(200);
  });

  describe("keys: the client address", () => {
    const env = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });

    it("the runtime's peer address (Node's socket, Bun's requestIP, Deno's remoteAddr), IPv6 by /64", async () => {
      const clock = new ManualClock();
      const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 100, windowMs: 1_000, clock });
      const hono = app({ limiter });
      const bun = { requestIP: (request: Request) => (request instanceof Request ? { address: "192.0.2.2" } : null) };
      const deno = { remoteAddr: { hostname: "192.0.2.3", port: 1, transport: "tcp" } };
      if (!onWorkers) {
        await hono.request("/", {}, env("::ffff:192.0.2.1"));
        await hono.request("/", {}, bun);
        await hono.request("/", {}, { server: bun });
        await hono.request("/", {}, deno);
        await hono.request("/", {}, env("2001:db8:0:1:aaaa::1"));
        await hono.request("/", {}, env("2001:0db8:0000:0001:bbbb:cccc:dddd:eeee"));
        await hono.request("/", {}, env("::1"));
        expect(["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8:0:1::/64", "0:0:0:0::/64"].every((k) => limiter.has(k))).toBe(true);
        expect(limiter.size).toBe(5);
      }
      // No address known: one shared key.
      await hono.request("/", { headers: { "x-forwarded-for": "203.0.113.5" } });
      expect(limiter.has("unknown")).toBe(true);
      expect(limiter.has("203.0.113.5")).toBe(false);
    });

    it("a remoteAddress of one's own (hono/conninfo on Node says ::ffff:a.b.c.d) keys each IPv4 client apart", async () => {
      // On a dual-stack Node server every IPv4 peer is IPv4-mapped: as an IPv6 /64 they would all be one client.
      const peer = (c: { req: { header(name: string): string | undefined } }) => c.req.header("x-peer");
      const hono = app({ limit: 1, windowMs: 60_000, clock: new ManualClock(), remoteAddress: peer });
      const from = (address: string) => hono.request("/", { headers: { "x-peer": address } });
      expect((await from("::ffff:192.0.2.1")).status).toBe(200);
      expect((await from("::ffff:192.0.2.2")).status).toBe(200);
      expect((await from("[::ffff:192.0.2.3]:4321")).status).toBe(200);
      expect((await from("192.0.2.1")).status).toBe(429);
      expect((await from("192.0.2.3:80")).status).toBe(429);
      const context = { req: { header: (name: string) => (name === "x-peer" ? "::ffff:198.51.100.7" : undefined) } };
      expect(clientAddress(context as never, { remoteAddress: peer as never })).toBe("198.51.100.7");
    });

    it("never trusts X-Forwarded-For unless told: a spoofed header changes nothing", async () => {
      const hono = app({ limit: 1, windowMs: 60_000, clock: new ManualClock(), remoteAddress: () => "192.0.2.9" });
      expect((await hono.request("/", { headers: { "x-forwarded-for": "1.1.1.1" } })).status).toBe(200);
      expect((await hono.request("/", { headers: { "x-forwarded-for": "2.2.2.2" } })).status).toBe(429);
    });

    it("trustProxy as a count: the n-th address from the right", () => {
      const context = (xff: string | undefined, peer = "10.0.0.2") => ({
        req: {
          method: "GET",
          path: "/",
          raw: new Request("http://x/"),
          header: (name: string) => (name === "x-forwarded-for" ? xff : undefined),
        },
        res: new Response(),
        error: undefined,
        header() {},
        env: env(peer),
      });
      const remote = (c: { env?: unknown }) => (c.env as ReturnType<typeof env>).incoming.socket.remoteAddress;
      const of = (xff: string | undefined, trustProxy: number) => clientAddress(context(xff), { trustProxy, remoteAddress: remote });
      expect(of("6.6.6.6, 198.51.100.1, 10.0.0.1", 1)).toBe("10.0.0.1");
      expect(of("6.6.6.6, 198.51.100.1, 10.0.0.1", 2)).toBe("198.51.100.1");
      expect(of("6.6.6.6,198.51.100.1 , 10.0.0.1", 3)).toBe("6.6.6.6");
      expect(of("198.51.100.1", 3)).toBe("198.51.100.1");
      expect(of(undefined, 1)).toBe("10.0.0.2");
      // Ports some proxies write are not part of the client.
      expect(of("198.51.100.1:5123, 10.0.0.1:443", 2)).toBe("198.51.100.1");
      expect(of("[2001:db8::7]:5123", 1)).toBe("2001:db8::7");
      expect(clientAddress(context("1.1.1.1"), { remoteAddress: remote })).toBe("10.0.0.2");
    });

    it("trustProxy as a list (or a test): only through a trusted peer, the first untrusted from the right", () => {
      const context = (xff: string | undefined, peer: string | undefined) => ({
        req: { method: "GET", path: "/", raw: new Request("http://x/"), header: () => xff },
        res: new Response(),
        error: undefined,
        header() {},
        env: peer,
      });
      const remote = (c: { env?: unknown }) => c.env as string | undefined;
      const proxies = ["10.0.0.1", "10.0.0.2"];
      const of = (xff: string | undefined, peer: string | undefined, trustProxy: readonly string[] | ((a: string) => boolean) = proxies) =>
        clientAddress(context(xff, peer), { trustProxy, remoteAddress: remote });
      expect(of("6.6.6.6, 198.51.100.1, 10.0.0.1", "10.0.0.2")).toBe("198.51.100.1");
      // The peer is not a proxy: whatever it wrote is ignored.
      expect(of("198.51.100.1", "203.0.113.7")).toBe("203.0.113.7");
      // No peer known: nothing to vouch for the header.
      expect(of("198.51.100.1", undefined)).toBeUndefined();
      expect(of("10.0.0.1", "10.0.0.2")).toBe("10.0.0.1");
      expect(of(undefined, "10.0.0.2")).toBe("10.0.0.2");
      expect(of("198.51.100.1, 10.9.9.9", "10.0.0.2", (a) => a.startsWith("10."))).toBe("198.51.100.1");
    });

    it("remoteAddress reads CF-Connecting-IP on Workers only", async () => {
      const hono = new Hono();
      hono.get("/", (c) => c.text(remoteAddress(c) ?? "none"));
      const response = await hono.request("/", { headers: { "cf-connecting-ip": "203.0.113.1" } });
      expect(await response.text()).toBe(onWorkers ? "203.0.113.1" : "none");
    });
  });

  it("refuses bad options with a ConfigError naming each field, and misuse with InvalidArgumentError", async () => {
    const bad = (options: unknown) => {
      try {
        rateLimit(options as HonoRateLimitOptions);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const config = bad({ limit: 0, windowMs: -1, algorithm: "leaky", trustProxy: "yes", policy: "ü", cost: 0, lmit: 3 }) as ConfigError;
    expect(config).toBeInstanceOf(ConfigError);
    expect(config.issues.map((issue) => issue.field).sort()).toEqual(
      ["algorithm", "cost", "limit", "lmit", "policy", "trustProxy", "windowMs"],
    );
    expect(config.message).toContain("'lmit' must be a known option (did you mean 'limit'?)");
    const clash = bad({ limiter: new KeyedRateLimiter(), limit: 5 }) as ConfigError;
    expect(clash).toBeInstanceOf(ConfigError);
    expect(clash.issues[0]!.field).toBe("limit");
    const storeClash = bad({ limiter: new KeyedRateLimiter(), store: new MemoryStore() }) as ConfigError;
    expect(storeClash.issues.map((issue) => issue.field)).toEqual(["store"]);
    expect((bad({ store: {} }) as ConfigError).issues[0]!.field).toBe("store");
    expect(bad({ limiter: {} })).toBeInstanceOf(ConfigError);
    for (const value of [60, "60", null, [1]]) {
      const error = bad(value) as InvalidArgumentError;
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.argument).toBe("options");
    }
    // A key that is not a string fails the request (the error handler's 500), counting nothing.
    const limiter = new KeyedRateLimiter({ clock: new ManualClock() });
    const hono = new Hono();
    let caught: unknown;
    hono.onError((error, c) => {
      caught = error;
      return c.text("error", 500);
    });
    hono.use("*", rateLimit({ limiter, key: () => 42 as unknown as string }));
    hono.get("/", (c) => c.text("ok"));
    expect((await hono.request("/")).status).toBe(500);
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect(limiter.size).toBe(0);
  });

  it("types: the decision an async limiter returns is what rateLimitHeaders reads", () => {
    const decision: RateLimitDecision = { allowed: true, cost: 1, limit: 1, windowMs: 1, remaining: 0, retryAfterMs: 0, resetMs: 1 };
    const limiter: AsyncKeyedLimiter = { limit: () => Promise.resolve(decision) };
    expect(rateLimit({ limiter }).name).toBe("rateLimit");
  });
});
