/**
 * The demo on Bun (`bun run start`): the same gateway and stores as on Node
 * (memory, and a FileStore for breaker state and the heartbeat), served by
 * `Bun.serve`.
 */
import { nodeGateway } from "./node.ts";
import { portFrom } from "./config.ts";

declare const Bun: {
  serve(options: { port: number; hostname: string; fetch: (request: Request) => Response | Promise<Response> }): { port: number; stop(): unknown };
};

const gateway = nodeGateway(process.env, "bun");
await gateway.start();
const server = Bun.serve({ port: portFrom(process.env), hostname: process.env.HOST ?? "127.0.0.1", fetch: gateway.app.fetch });
console.log(`bulwark demo gateway on bun: http://${process.env.HOST ?? "127.0.0.1"}:${server.port}/ (Ctrl-C to stop)`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.stop();
    gateway.stop().then(() => process.exit(0), () => process.exit(1));
  });
}
