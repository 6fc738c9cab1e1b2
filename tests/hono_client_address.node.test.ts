// The client address a real server reports, through a node:http server
// that hands Hono what @hono/node-server does (`env.incoming`), on every
// runtime with node:http (Node 20/24, Deno, Bun).
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { KeyedRateLimiter } from "../mod.ts";
import { rateLimit, remoteAddress } from "../adapters/hono/mod.ts";
import { ManualClock } from "../src/testing/mod.ts";

async function serve(app: Hono, run: (base: string) => Promise<void>): Promise<void> {
  const server = createServer(async (incoming: IncomingMessage, outgoing) => {
    const request = new Request(`http://localhost${incoming.url}`, { method: incoming.method, headers: incoming.headers as Record<string, string> });
    const response = await app.fetch(request, { incoming, outgoing });
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe("client address over a real socket (node:http)", () => {
  it("remoteAddress is the peer's; rateLimit keys by it and ignores a spoofed X-Forwarded-For", async () => {
    const limiter = new KeyedRateLimiter({ algorithm: "fixed-window", limit: 2, windowMs: 60_000, clock: new ManualClock() });
    const app = new Hono();
    app.use("*", rateLimit({ limiter }));
    app.get("/", (c) => c.text(remoteAddress(c) ?? "none"));
    await serve(app, async (base) => {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await fetch(base, { headers: { "x-forwarded-for": `198.51.100.${i}` } }));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(await answers[0]!.text()).toBe("127.0.0.1");
      expect(answers[2]!.headers.get("retry-after")).toBe("60");
      await Promise.all(answers.slice(1).map((r) => r.arrayBuffer()));
    });
    expect(limiter.has("127.0.0.1")).toBe(true);
    expect(limiter.size).toBe(1);
  });
});
