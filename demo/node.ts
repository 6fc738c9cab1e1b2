/**
 * The demo on Node (`npm start`, through demo/start.mjs): the gateway with
 * the embedded defaults, memory for idempotency records and rate limits and
 * a FileStore (bulwark/fs) for the heartbeat and the breakers' state (so a
 * restart starts from it), served by node:http. Bun runs this file too (`bun run start`, through demo/bun.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { MemoryStore } from "../mod.ts";
import { FileStore } from "../adapters/fs/mod.ts";
import { createGateway, type Gateway } from "./app.ts";
import { portFrom, stateDirFrom, tuningFrom } from "./config.ts";

/** A running demo: its address and how to stop it. */
export interface RunningDemo {
  readonly url: string;
  readonly gateway: Gateway;
  close(): Promise<void>;
}

/** The gateway with Node's embedded defaults. */
export function nodeGateway(env: Record<string, unknown>, runtime: string): Gateway {
  const files = new FileStore({ directory: stateDirFrom(env), prefix: "demo:" });
  return createGateway({
    runtime,
    idempotencyStore: new MemoryStore(),
    heartbeatStore: files,
    sharedBreakers: { store: files },
    pid: process.pid,
    ...tuningFrom(env),
  });
}

/** Turns a node:http request into a web `Request`, aborted if the client goes away. */
async function toRequest(req: IncomingMessage, res: ServerResponse): Promise<Request> {
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  let body: ArrayBuffer | undefined;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk as Uint8Array);
    body = new Uint8Array(Buffer.concat(chunks)).buffer;
  }
  return new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method: req.method ?? "GET",
    headers,
    body,
    signal: controller.signal,
  });
}

/** Writes a web `Response` to a node:http response, streaming its body. */
async function send(response: Response, res: ServerResponse): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body === null) return void res.end();
  const reader = response.body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) res.write(read.value);
  res.end();
}

/** Serves `gateway` on `port` (0: any free port) of 127.0.0.1 or `hostname`. */
export async function serve(gateway: Gateway, port: number, hostname = "127.0.0.1"): Promise<RunningDemo> {
  await gateway.start();
  const server = createServer((req, res) => {
    toRequest(req, res)
      .then((request) => gateway.app.fetch(request))
      .then((response) => send(response, res))
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(port, hostname, resolve));
  const address = server.address();
  const url = `http://${hostname}:${typeof address === "object" && address !== null ? address.port : port}`;
  return {
    url,
    gateway,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Browsers keep idle connections open: close them, or close() waits for them.
      server.closeAllConnections();
      await closed;
      await gateway.stop();
    },
  };
}

/** Starts the demo and stops it cleanly on SIGINT/SIGTERM. */
export async function main(runtime = "node"): Promise<void> {
  const running = await serve(nodeGateway(process.env, runtime), portFrom(process.env), process.env.HOST ?? "127.0.0.1");
  console.log(`bulwark demo gateway on ${runtime}: ${running.url}/ (Ctrl-C to stop)`);
  const stop = () => {
    running.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
