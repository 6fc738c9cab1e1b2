// The client address Deno.serve reports (its ServeHandlerInfo is Hono's env).
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { remoteAddress } from "../adapters/hono/mod.ts";

interface Served {
  readonly addr: { readonly port: number };
  shutdown(): Promise<void>;
}
const deno = (globalThis as unknown as {
  Deno: { serve(options: { port: number; hostname: string; onListen(): void }, handler: (request: Request, info: unknown) => Response | Promise<Response>): Served };
}).Deno;

describe("client address on Deno.serve", () => {
  it("remoteAddress reads the handler's remoteAddr", async () => {
    const app = new Hono();
    app.get("/", (c) => c.text(remoteAddress(c) ?? "none"));
    const server = deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
    try {
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      expect(await response.text()).toBe("127.0.0.1");
    } finally {
      await server.shutdown();
    }
  });
});
