// An instance idle for a while before another trips the shared breaker: do its first calls after the trip reach the dependency, and how many reads does it make? (docs/distributed.md, "Checked from the packed package")
// REDIS_PORT (default 6411): the redis-server to use. AS_WORKERS=1: the breakers run as on Workers (navigator.userAgent, read when a breaker is built), where each call that finds the state stale reads for itself.
import { CircuitBreaker, CircuitOpenError } from "bulwark";
import { RedisStore, fromIoRedis } from "bulwark/redis";
import { CountingStore } from "bulwark/testing";
import { Redis } from "ioredis";
if (process.env.AS_WORKERS) Object.defineProperty(globalThis, "navigator", { value: { userAgent: "Cloudflare-Workers" }, configurable: true });
const redis = new Redis({ port: Number(process.env.REDIS_PORT ?? 6411) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const idleMs of [150, 450, 1000, 5000]) {
  const name = `idle-${idleMs}-${Date.now()}`;
  const make = (store) => new CircuitBreaker({ name, store, refreshMs: 200, maxFailures: 1, resetTimeoutMs: 60_000 });
  const bStore = new CountingStore(new RedisStore({ client: fromIoRedis(redis) }));
  const a = make(new RedisStore({ client: fromIoRedis(redis) })), b = make(bStore);
  let depCalls = 0;
  await a.execute(async () => "ok"); await b.execute(async () => "ok");
  await sleep(idleMs);
  await a.execute(async () => { throw new Error("down"); }).catch(() => {});
  await sleep(250); // more than refreshMs after the trip
  const reads = bStore.counts.get;
  const results = await Promise.all(Array.from({ length: 50 }, () => b.execute(async () => (depCalls++, "ok")).catch((e) => (e instanceof CircuitOpenError ? "refused" : "other"))));
  const readsFor50 = bStore.counts.get - reads;
  await sleep(20);
  const after = await b.execute(async () => (depCalls++, "ok")).catch((e) => (e instanceof CircuitOpenError ? "refused" : "other"));
  console.log(`b idle ${idleMs} ms before the trip, 50 concurrent calls 250 ms after it: ${depCalls - (after === "ok" ? 1 : 0)} reached the dependency, ${results.filter((r) => r === "refused").length} refused, ${readsFor50} read(s) by b; 20 ms later: ${after}`);
}
redis.quit();
