// The client address Bun.serve reports (the server is Hono's env).
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { remoteAddress } from "../adapters/hono/mod.ts";

interface Served {
  readonly port: number;
  stop(force?: boolean): void;
}
const bun = (globalThis as unknown as {
  Bun: { serve(options: { port: number; hostname: string; fetch: (request: Request, server: unknown) => Response | Promise<Response> }): Served };
}).Bun;

describe("client address on Bun.serve", () => {
  it("remoteAddress asks the server's requestIP()", async () => {
    const app = new Hono();
    app.get("/", (c) => c.text(remoteAddress(c) ?? "none"));
    const server = bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/`);
      expect(await response.text()).toBe("127.0.0.1");
    } finally {
      server.stop(true);
    }
  });
});
