// One instance of a fleet: a shared breaker and a DistributedRateLimiter over
// the store named by STORE. Reads commands (JSON lines) on stdin, prints events
// (JSON lines) on stdout. Runs on Node, Bun and Deno.
import process from "node:process";
import readline from "node:readline";
import { CircuitBreaker, CircuitOpenError, DistributedRateLimiter } from "bulwark";

const kind = process.env.STORE;
const run = process.env.RUN ?? "r";
const refreshMs = Number(process.env.REFRESH_MS ?? 200);
const limit = Number(process.env.LIMIT ?? 50);
const say = (event) => process.stdout.write(JSON.stringify({ pid: process.pid, ...event }) + "\n");

let store;
let close = async () => {};
if (kind === "redis") {
  const { RedisStore, fromIoRedis } = await import("bulwark/redis");
  const { Redis } = await import("ioredis");
  const redis = new Redis({ port: Number(process.env.REDIS_PORT), host: "127.0.0.1" });
  store = new RedisStore({ client: fromIoRedis(redis), timeoutMs: 1_000 });
  close = async () => void (await redis.quit());
} else if (kind === "pg") {
  const { PostgresStore, fromPg } = await import("bulwark/postgres");
  const pg = (await import("pg")).default;
  const pool = new pg.Pool({ connectionString: process.env.PG_URL });
  store = new PostgresStore({ query: fromPg(pool) });
  close = () => pool.end();
} else if (kind === "denokv") {
  const { DenoKvStore } = await import("bulwark/deno");
  const kv = await Deno.openKv(process.env.KV_PATH);
  store = new DenoKvStore({ kv });
  close = async () => kv.close();
} else throw new Error(`STORE=${kind}?`);

const breaker = new CircuitBreaker({ name: `nc-${run}`, store, refreshMs, maxFailures: 3, resetTimeoutMs: 60_000 });
breaker.on("storeError", (e) => say({ event: "storeError", operation: e.operation, error: String(e.error) }));
breaker.on("stateChange", ({ from, to }) => say({ event: "stateChange", from, to, at: Date.now() }));
const algorithm = process.env.ALGORITHM ?? "fixed-window";
const shape = algorithm.endsWith("window") ? { limit, windowMs: 60_000 } : { rate: limit, perMs: 3_600_000, burst: limit };
const limiter = new DistributedRateLimiter({ store, algorithm, ...shape, timeoutMs: 2_000 });
limiter.on?.("storeError", (e) => say({ event: "limiterStoreError", error: String(e.error) }));

let dependencyCalls = 0;
const healthy = async () => (dependencyCalls++, "ok");
const failing = async () => { dependencyCalls++; throw new Error("dependency down"); };

const commands = {
  // Warm up: a healthy call, so the instance has read the shared state once.
  async warm() {
    await breaker.execute(healthy);
    say({ event: "warm", state: breaker.state });
  },
  // Calls a healthy dependency every 5 ms until a call is refused.
  async watch() {
    const started = Date.now();
    for (;;) {
      try {
        await breaker.execute(healthy);
      } catch (error) {
        if (!(error instanceof CircuitOpenError)) throw error;
        const before = dependencyCalls;
        let refused = 0;
        for (let i = 0; i < 20; i++) await breaker.execute(healthy).catch((e) => e instanceof CircuitOpenError && refused++);
        say({ event: "openSeen", at: Date.now(), waitedMs: Date.now() - started, refusedAfter: refused, dependencyCallsAfter: dependencyCalls - before });
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
      if (Date.now() - started > 10_000) return say({ event: "watchTimeout" });
    }
  },
  async trip() {
    for (let i = 0; i < 3; i++) await breaker.execute(failing).catch(() => {});
    const at = Date.now();
    const before = dependencyCalls;
    let refused = 0;
    for (let i = 0; i < 20; i++) await breaker.execute(healthy).catch((e) => e instanceof CircuitOpenError && refused++);
    say({ event: "tripped", at, state: breaker.state, refusedAfter: refused, dependencyCallsAfter: dependencyCalls - before });
  },
  async limit({ n, atMs, key }) {
    await new Promise((r) => setTimeout(r, Math.max(0, atMs - Date.now())));
    const t0 = performance.now();
    const decisions = await Promise.all(Array.from({ length: n }, () => limiter.limit(key)));
    const ms = performance.now() - t0;
    const allowed = decisions.filter((d) => d.allowed).length;
    const sources = {};
    for (const d of decisions) sources[d.source] = (sources[d.source] ?? 0) + 1;
    say({ event: "limited", n, allowed, ms: Math.round(ms), sources, stats: { ...limiter.stats } });
  },
  async exit() {
    await close();
    say({ event: "bye" });
    process.exit(0);
  },
};

const lines = readline.createInterface({ input: process.stdin });
say({ event: "ready", runtime: typeof Deno !== "undefined" ? `deno ${Deno.version.deno}` : typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}` });
for await (const line of lines) {
  const { cmd, ...args } = JSON.parse(line);
  commands[cmd](args).catch((error) => say({ event: "error", cmd, error: String(error?.stack ?? error) }));
}
