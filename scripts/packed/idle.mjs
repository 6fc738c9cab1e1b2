// An instance idle for a while before another trips the shared breaker: do its first calls after the trip reach the dependency? (docs/distributed.md, "Checked from the packed package")
import { CircuitBreaker, CircuitOpenError } from "bulwark";
import { RedisStore, fromIoRedis } from "bulwark/redis";
import { Redis } from "ioredis";
const redis = new Redis({ port: 6411 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const idleMs of [150, 450, 1000, 5000]) {
  const name = `idle-${idleMs}-${Date.now()}`;
  const make = () => new CircuitBreaker({ name, store: new RedisStore({ client: fromIoRedis(redis) }), refreshMs: 200, maxFailures: 1, resetTimeoutMs: 60_000 });
  const a = make(), b = make();
  let depCalls = 0;
  await a.execute(async () => "ok"); await b.execute(async () => "ok");
  await sleep(idleMs);
  await a.execute(async () => { throw new Error("down"); }).catch(() => {});
  await sleep(250); // more than refreshMs after the trip
  const results = await Promise.all(Array.from({ length: 50 }, () => b.execute(async () => (depCalls++, "ok")).catch((e) => (e instanceof CircuitOpenError ? "refused" : "other"))));
  await sleep(20);
  const after = await b.execute(async () => (depCalls++, "ok")).catch((e) => (e instanceof CircuitOpenError ? "refused" : "other"));
  console.log(`b idle ${idleMs} ms before the trip, 50 concurrent calls 250 ms after it: ${depCalls - (after === "ok" ? 1 : 0)} reached the dependency, ${results.filter((r) => r === "refused").length} refused; 20 ms later: ${after}`);
}
redis.quit();
