/**
 * A real HTTP upstream that misbehaves on request, for testing the resilient
 * fetch against actual sockets. Built on `node:http`, so the same server runs
 * inside Node, Deno and Bun test processes, and in the Node process that hosts
 * the workerd test pool.
 *
 * Every scenario is keyed by `?key=`, so concurrent tests never share counts:
 * - `/ok`: 200 `ok`.
 * - `/flaky?fail=N&status=S[&retryAfter=SECONDS|&retryAfterDate=SECONDS]`:
 *   the first N requests answer S (with `Retry-After` as delta-seconds, or as
 *   an HTTP date that many seconds ahead), then 200 `ok after N`.
 * - `/drop?fail=N`: the first N requests get a malformed response and a
 *   closed socket (a network error in every runtime; a bare close would be
 *   taken for a stale keep-alive connection, which some runtimes' fetch
 *   silently retries), then 200.
 * - `/stall`: never answers; the socket stays open until the client gives up.
 * - `/echo`: 200 with the method and the request body.
 * - `/count`: JSON `{ "count": n }`, requests seen for the key (this one excluded).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface FlakyUpstream {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Requests seen for `key` (all paths but `/count`). */
  count(key: string): number;
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => resolve(body));
    request.on("error", reject);
  });
}

export async function startFlakyUpstream(): Promise<FlakyUpstream> {
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://upstream");
    const key = url.searchParams.get("key") ?? "";
    if (url.pathname === "/count") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ count: counts.get(key) ?? 0 }));
      return;
    }
    const seen = (counts.get(key) ?? 0) + 1;
    counts.set(key, seen);
    const fail = Number(url.searchParams.get("fail") ?? "0");
    switch (url.pathname) {
      case "/ok":
        response.writeHead(200, { "content-type": "text/plain" });
        response.end("ok");
        return;
      case "/flaky": {
        if (seen <= fail) {
          const headers: Record<string, string> = { "content-type": "text/plain" };
          const retryAfter = url.searchParams.get("retryAfter");
          const retryAfterDate = url.searchParams.get("retryAfterDate");
          if (retryAfter !== null) headers["retry-after"] = retryAfter;
          if (retryAfterDate !== null) {
            headers["retry-after"] = new Date(Date.now() + Number(retryAfterDate) * 1000).toUTCString();
          }
          response.writeHead(Number(url.searchParams.get("status") ?? "503"), headers);
          response.end(`failure ${seen}`);
          return;
        }
        response.writeHead(200, { "content-type": "text/plain" });
        response.end(`ok after ${seen - 1}`);
        return;
      }
      case "/drop":
        if (seen <= fail) {
          request.socket.end("NOT-HTTP garbage\r\n\r\n");
          return;
        }
        response.writeHead(200, { "content-type": "text/plain" });
        response.end("ok after drops");
        return;
      case "/stall":
        return; // never answer
      case "/echo": {
        const body = await readBody(request);
        response.writeHead(200, { "content-type": "text/plain" });
        response.end(`${request.method} ${body}`);
        return;
      }
      default:
        response.writeHead(404);
        response.end("no such scenario");
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    count: (key) => counts.get(key) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
