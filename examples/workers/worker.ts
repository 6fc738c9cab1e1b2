// A Cloudflare Worker in front of an origin: policies built once per isolate
// at module scope, used by every request.
import { createResilientFetch, KeyedRateLimiter, rateLimitHeaders } from "bulwark";

const origin = createResilientFetch({
  retry: { maxAttempts: 3, baseDelayMs: 10 }, // GET is retried on 5xx, 408, 429 and network errors
  attemptTimeoutMs: 2_000,
  timeoutMs: 5_000,
  circuitBreaker: { maxFailures: 5, resetTimeoutMs: 30_000 }, // one breaker per origin
});
const perClient = new KeyedRateLimiter({ rate: 5, perMs: 60_000 }); // 5 a minute per client

interface Env {
  ORIGIN: string; // e.g. "https://api.example.com", a var in wrangler.toml
}

async function handle(request: Request, env: Env): Promise<Response> {
  const decision = perClient.consume(request.headers.get("cf-connecting-ip") ?? "unknown");
  const headers = new Headers({ ...rateLimitHeaders(decision) });
  if (!decision.allowed) return new Response("Too many requests\n", { status: 429, headers });
  const answer = await origin(env.ORIGIN + new URL(request.url).pathname, { signal: request.signal });
  headers.set("content-type", answer.headers.get("content-type") ?? "text/plain");
  return new Response(answer.body, { status: answer.status, headers });
}

const worker = { fetch: handle };
export default worker;
