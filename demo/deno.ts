/**
 * The demo on Deno (`deno task start`): the same gateway and stores as on
 * Node (memory, and a FileStore for breaker state and the heartbeat),
 * served by `Deno.serve`.
 */
import { MemoryStore } from "../mod.ts";
import { FileStore } from "../adapters/fs/mod.ts";
import { createGateway } from "./app.ts";
import { portFrom, stateDirFrom, tuningFrom } from "./config.ts";

declare const Deno: {
  env: { toObject(): Record<string, string> };
  pid: number;
  serve(
    options: { port: number; hostname: string; onListen?: (address: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

const env = Deno.env.toObject();
const files = new FileStore({ directory: stateDirFrom(env), prefix: "demo:" });
const gateway = createGateway({
  runtime: "deno",
  idempotencyStore: new MemoryStore(),
  heartbeatStore: files,
  sharedBreakers: { store: files },
  pid: Deno.pid,
  ...tuningFrom(env),
});
await gateway.start();
const hostname = env.HOST ?? "127.0.0.1";
const server = Deno.serve({
  port: portFrom(env),
  hostname,
  onListen: ({ port }) => console.log(`bulwark demo gateway on deno: http://${hostname}:${port}/ (Ctrl-C to stop)`),
}, gateway.app.fetch);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    server.shutdown().then(() => gateway.stop()).then(() => Deno.exit(0), () => Deno.exit(1));
  });
}
