import { onWorkers } from "../../src/internal/runtime.ts";
import type { HonoContext } from "./context.ts";

/**
 * Which proxies may speak for the client in `X-Forwarded-For`:
 *
 * - a number `n >= 1`: exactly `n` proxies stand in front of the app, each
 *   appending the address it received the request from; the client is the
 *   `n`-th address from the right (`1`: the last one, written by the one
 *   proxy). Use it only where the app cannot be reached but through them.
 * - a list of addresses: the proxies' own addresses. The runtime's peer
 *   address must be one of them, or the header is ignored; then the
 *   addresses are read from the right, and the first one not in the list
 *   is the client.
 * - a function: as the list, asking it whether an address is a proxy's
 *   (for address ranges).
 *
 * Without it, `X-Forwarded-For` is never read: anyone can send one.
 */
export type TrustProxy = number | readonly string[] | ((address: string) => boolean);

interface RuntimeEnv {
  /** `@hono/node-server`: the Node request. */
  incoming?: { socket?: { remoteAddress?: unknown } };
  /** Bun: the server passed to `fetch` is the env (or its `server`). */
  requestIP?: (request: Request) => { address?: unknown } | null;
  server?: { requestIP?: (request: Request) => { address?: unknown } | null };
  /** Deno: the `ServeHandlerInfo` passed to the handler. */
  remoteAddr?: { hostname?: unknown };
}

/**
 * An address as one spelling per host: `::ffff:192.0.2.1` (how Node reports
 * IPv4 peers of a dual-stack socket) as `192.0.2.1`, and without the port
 * some proxies write (`192.0.2.1:5123`, `[2001:db8::1]:5123`), which would
 * otherwise make every connection a new client.
 */
function normalize(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed !== null) address = bracketed[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(":"));
  return /^::ffff:/i.test(address) && address.includes(".") ? address.slice(7) : address;
}

function asAddress(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? normalize(value) : undefined;
}

/**
 * The address of the peer that sent the request, as the runtime reports it,
 * or `undefined` where it reports none: `c.env.incoming.socket` on Node
 * (`@hono/node-server`), the server's `requestIP()` on Bun (`Bun.serve({
 * fetch: app.fetch })`), the handler's `remoteAddr` on Deno
 * (`Deno.serve(app.fetch)`), and on Cloudflare Workers the
 * `CF-Connecting-IP` header, which Cloudflare sets itself (read only there:
 * elsewhere any client could send it). `app.request()` and browsers have
 * none. Behind a proxy this is the proxy: see {@link TrustProxy}.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { remoteAddress } from "bulwark/hono";
 *
 * const app = new Hono();
 * app.get("/", (c) => c.text(remoteAddress(c) ?? "unknown"));
 * const viaNode = await app.request("/", {}, { incoming: { socket: { remoteAddress: "::ffff:192.0.2.7" } } });
 * if (await viaNode.text() !== "192.0.2.7") throw new Error("Node's peer address");
 * if (await (await app.request("/")).text() !== "unknown") throw new Error("app.request() has none");
 * ```
 */
export function remoteAddress(c: HonoContext): string | undefined {
  if (onWorkers()) return asAddress(c.req.header("cf-connecting-ip"));
  const env = c.env as RuntimeEnv | undefined;
  if (typeof env !== "object" || env === null) return undefined;
  const node = env.incoming?.socket?.remoteAddress;
  if (node !== undefined) return asAddress(node);
  const bun = typeof env.requestIP === "function" ? env.requestIP : env.server?.requestIP;
  if (typeof bun === "function") {
    const server = typeof env.requestIP === "function" ? env : env.server;
    return asAddress(bun.call(server, c.req.raw)?.address);
  }
  return asAddress(env.remoteAddr?.hostname);
}

/** The addresses of `X-Forwarded-For` (every field line, in order). */
function forwardedFor(c: HonoContext): string[] {
  const header = c.req.header("x-forwarded-for");
  if (header === undefined) return [];
  return header.split(",").map((part) => part.trim()).filter((part) => part.length > 0).map(normalize);
}

/**
 * The client's address: the peer's (`peer(c)`), or, when `trust` says the
 * peer is a proxy, the one the proxies recorded in `X-Forwarded-For` (see
 * {@link TrustProxy}). `undefined` when neither is known.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { clientAddress } from "bulwark/hono";
 *
 * const app = new Hono();
 * app.get("/", (c) => c.text(clientAddress(c, { trustProxy: 1 }) ?? "unknown"));
 * const response = await app.request("/", { headers: { "X-Forwarded-For": "198.51.100.1, 203.0.113.9" } });
 * // One proxy in front: the address it appended is the client's; what the client wrote is not trusted.
 * if (await response.text() !== "203.0.113.9") throw new Error("the proxy's entry");
 * ```
 */
export function clientAddress(c: HonoContext, options: ClientAddressOptions = {}): string | undefined {
  return clientAddressResolver(options)(c);
}

/** Options of {@link clientAddress}. */
export interface ClientAddressOptions {
  /** Which proxies may speak for the client. Default: none, `X-Forwarded-For` is ignored. */
  trustProxy?: TrustProxy;
  /** The peer's address (normalized as {@link remoteAddress}'s is: no port, IPv4-mapped as IPv4). Default {@link remoteAddress}. */
  remoteAddress?: (c: HonoContext) => string | undefined;
}

/** {@link clientAddress} with its options resolved once, for a middleware's every request. */
export function clientAddressResolver(options: ClientAddressOptions): (c: HonoContext) => string | undefined {
  const own = options.remoteAddress;
  // An address of the caller's own gets one spelling too: hono/conninfo on a
  // dual-stack Node server says ::ffff:192.0.2.1, which as an IPv6 /64 would
  // make every IPv4 client one.
  const peerOf = own === undefined ? remoteAddress : (c: HonoContext) => asAddress(own(c));
  const trust = options.trustProxy;
  if (trust === undefined) return peerOf;
  if (typeof trust === "number") {
    return (c) => {
      const chain = forwardedFor(c);
      // Fewer entries than proxies: each was written by a trusted proxy, and the leftmost is the farthest.
      return chain.length === 0 ? peerOf(c) : chain[Math.max(0, chain.length - trust)];
    };
  }
  const list = typeof trust === "function" ? undefined : new Set(trust.map(normalize));
  const trusted = typeof trust === "function" ? trust : (address: string) => list!.has(address);
  return (c) => {
    const peer = peerOf(c);
    if (peer === undefined || !trusted(peer)) return peer;
    const chain = forwardedFor(c);
    for (let i = chain.length - 1; i >= 0; i--) {
      if (!trusted(chain[i]!)) return chain[i];
    }
    return chain[0] ?? peer;
  };
}
