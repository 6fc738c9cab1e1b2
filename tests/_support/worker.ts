/**
 * The test Worker's entry (`main` in wrangler.toml). The workerd leg runs the
 * test files inside this Worker's isolate; Durable Object classes that tests
 * bind to are exported from here. Routes under `/timeout` exercise policies
 * shared by concurrent requests (tests/shared_across_requests.workers.test.ts).
 */
import { Bulkhead, RateLimiter, TimeoutPolicy } from "../../mod.ts";

// Built at global scope and shared by every request, as users do.
const timeout = new TimeoutPolicy({ timeoutMs: 100 });
// No queue: on Workers a slot freed by one request cannot wake a request
// queued behind it (see docs/architecture.md, "Workers").
const bulkhead = new Bulkhead({ maxConcurrent: 1 });
const limiter = new RateLimiter({ rate: 2, perMs: 1_000, burst: 1 });

/** Waits `ms` on a real timer; rejects with the abort reason if `signal` aborts first. */
function wait(ms: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(`slept ${ms} ms`), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/timeout") {
      const workMs = Number(url.searchParams.get("workMs"));
      const started = Date.now();
      const outcome = await timeout.execute(({ signal }) => wait(workMs, signal)).then(
        (value) => value,
        (error: unknown) => (error instanceof Error ? error.name : String(error)),
      );
      return Response.json({ outcome, elapsedMs: Date.now() - started });
    }
    if (url.pathname === "/bulkhead") {
      const workMs = Number(url.searchParams.get("workMs"));
      const started = Date.now();
      const outcome = await bulkhead.execute(({ signal }) => wait(workMs, signal)).then(
        (value) => value,
        (error: unknown) => (error instanceof Error ? error.name : String(error)),
      );
      return Response.json({ outcome, elapsedMs: Date.now() - started });
    }
    if (url.pathname === "/limiter") {
      const started = Date.now();
      const outcome = await limiter.acquire().then(
        () => "acquired",
        (error: unknown) => (error instanceof Error ? error.name : String(error)),
      );
      return Response.json({ outcome, elapsedMs: Date.now() - started });
    }
    return new Response("bulwark test worker");
  },
};
