// A Node service calling an upstream that fails every other request: a
// resilient fetch retries each failure (honouring Retry-After) behind a
// breaker for the origin, and a graceful shutdown closes the server on
// SIGTERM or SIGINT (here, at the end of the run).
//
//   npm install bulwark
//   node main.ts           (Node >= 22.18 runs TypeScript as is)
//
// In this repository: node scripts/examples.mjs node
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createResilientFetch } from "bulwark";
import { GracefulShutdown } from "bulwark/node";

// The upstream: every odd request gets a 503.
let served = 0;
const upstream = createServer((_request, response) => {
  served++;
  if (served % 2 === 1) response.writeHead(503, { "retry-after": "0" }).end("busy");
  else response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ items: served }));
});
upstream.listen(0, "127.0.0.1");
await once(upstream, "listening");
const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

const shutdown = new GracefulShutdown({ timeoutMs: 5_000 }).install();
shutdown.register("upstream", () => new Promise<void>((resolve) => upstream.close(() => resolve())));

const resilientFetch = createResilientFetch({
  retry: { maxAttempts: 3, baseDelayMs: 10 },
  attemptTimeoutMs: 1_000,
  circuitBreaker: { maxFailures: 3, resetTimeoutMs: 10_000 },
});
resilientFetch.retryPolicy?.on("retry", ({ attempt }) => console.log(`  attempt ${attempt} failed, retrying`));

for (let call = 1; call <= 3; call++) {
  const response = await resilientFetch(`${origin}/items`);
  console.log(`call ${call}: ${response.status} ${await response.text()}`);
}
const breaker = resilientFetch.registry.get(origin);
console.log(`upstream served ${served} requests; breaker ${breaker?.state}, ${breaker?.stats.failedCalls} failures counted`);

const report = await shutdown.trigger();
shutdown.uninstall();
console.log(`shutdown: ran ${report.ran.join(", ")}; completed: ${report.completed}`);
