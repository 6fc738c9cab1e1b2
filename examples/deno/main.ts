// A Deno HTTP API that limits each client to 3 requests a minute, answers
// with the IETF RateLimit header fields (429 with Retry-After past the
// limit), and closes its server through a graceful shutdown on SIGTERM or
// SIGINT (here, at the end of the run).
//
//   deno add jsr:@bulwark/bulwark
//   deno run --allow-net main.ts
//
// In this repository, deno.json beside this file maps "@bulwark/bulwark" to
// the sources, where `deno add` would map it to JSR:
//   node scripts/examples.mjs deno
import { KeyedRateLimiter, rateLimitHeaders } from "@bulwark/bulwark";
import { GracefulShutdown } from "@bulwark/bulwark/deno";

const perClient = new KeyedRateLimiter({ rate: 3, perMs: 60_000 });

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request, info) => {
  const client = request.headers.get("x-api-key") ?? info.remoteAddr.hostname;
  const decision = perClient.consume(client);
  const headers = { ...rateLimitHeaders(decision, { policy: "per-client" }) };
  if (!decision.allowed) return new Response("Too many requests\n", { status: 429, headers });
  return Response.json({ hello: client }, { headers });
});

const shutdown = new GracefulShutdown({ timeoutMs: 5_000 }).install();
shutdown.register("http", async () => {
  await server.shutdown();
  console.log("server closed");
});

for (let request = 1; request <= 4; request++) {
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, { headers: { "x-api-key": "alice" } });
  await response.body?.cancel();
  const retryAfter = response.headers.get("retry-after");
  console.log(
    `request ${request}: ${response.status}${retryAfter === null ? "" : ` retry after ${retryAfter} s`}` +
      ` (RateLimit: ${response.headers.get("ratelimit")})`,
  );
}

await shutdown.trigger();
shutdown.uninstall();
