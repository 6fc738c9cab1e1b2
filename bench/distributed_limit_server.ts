// The server's side of a distributed limit() against rate-limiter-flexible's
// RateLimiterRedis.consume(), measured inside redis-server, so the load on
// the machine barely moves it: for each case, `CONFIG RESETSTAT`, N calls
// (one caller, loopback), then `INFO commandstats`: the usec_per_call of
// EVALSHA (the whole script, its nested commands included) and of each
// command the script called, per limit(). Cases interleaved, the order
// rotated per round; the lowest round (the load only ever adds time) and
// the median over rounds. Starts its own redis-server and stops it.
// Measuring only, no targets; the figures and what they show are in
// docs/distributed.md ("Sixth round").
//
//   npx --yes -p node@24 node bench/distributed_limit_server.ts [--before=<dir>] [--rounds=N] [--calls=N]
//
// `--before=<dir>`: a built checkout (`npm run build` there) whose limiters
// run beside these, prefixed `before `, on the same server, in the same rounds.
//
// rate-limiter-flexible (lib/RateLimiterRedis.js) sends one EVALSHA of
// its own script (ioredis defineCommand): SET NX EX, INCRBY, PTTL; the
// reply is [consumed, pttl]. bulwark sends one EVALSHA: TIME, GET, SET.
//
// Imports bulwark from dist/ (`npm run build` first).
import { Redis } from "ioredis";
import { startRedis } from "../tests/_support/servers.ts";
import { ALGORITHMS as BASE_ALGORITHMS, builds, HUGE, loadBuild, option } from "./redis_limit_cases.ts";

type Limit = () => Promise<unknown>;

const rounds = Number(option("rounds") ?? 15);
const calls = Number(option("calls") ?? 2_000);
const { RateLimiterRedis } = await import("rate-limiter-flexible");

const ALGORITHMS = {
  ...BASE_ALGORITHMS,
  // A modest rate with a huge burst: admitted every time, and every admission moves the key's expiry
  // (with the rates above it moves once a millisecond, and the expiry is kept in between).
  "token-bucket, 1,000/s": { algorithm: "token-bucket", rate: 1_000, perMs: 1_000, burst: HUGE },
  "gcra, 1,000/s": { algorithm: "gcra", rate: 1_000, perMs: 1_000, burst: HUGE },
  // Refused every time: one unit an hour, taken (the blocked-key cache off, so every call reaches Redis).
  "gcra, refused": { algorithm: "gcra", rate: 1, perMs: 3_600_000, burst: 1, maxBlockedKeys: 0 },
};

const server = await startRedis();
const client = new Redis(server.url);
try {
  const flexible = new RateLimiterRedis({ storeClient: client, points: HUGE, duration: 60, keyPrefix: "flex" });
  const cases = new Map<string, Limit>([["rate-limiter-flexible", () => flexible.consume("user-42")]]);
  for (const [tag, root] of builds) {
    const { core, store } = await loadBuild(tag, root, client);
    for (const [name, options] of Object.entries(ALGORITHMS)) {
      // Its own key: limiters of one algorithm share a prefix (rl:<algorithm>:).
      const limiter = new core.DistributedRateLimiter({ store, ...options });
      const key = `user-${cases.size}`;
      cases.set(`${tag}${name}`, () => limiter.limit(key));
    }
  }
  const names = [...cases.keys()];
  for (const call of cases.values()) for (let i = 0; i < 500; i++) await call();

  const stats = new Map<string, Map<string, number[]>>(names.map((name) => [name, new Map()]));
  for (let round = 0; round < rounds; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    for (const name of order) {
      const call = cases.get(name)!;
      await client.config("RESETSTAT");
      for (let i = 0; i < calls; i++) await call();
      const info = await client.info("commandstats");
      for (const [, command, , usec] of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+),/g)) {
        if (command === "config" || command === "info") continue;
        const per = stats.get(name)!;
        if (!per.has(command!)) per.set(command!, []);
        // Per limit() call: the command's whole time over the calls made (a script's nested commands count once each).
        per.get(command!)!.push(Number(usec) / calls);
      }
    }
  }
  // The load on the machine only ever adds time (redis-server preempted, caches cold): the lowest
  // round is the closest to the script's own cost; the median shows how much the load moved it.
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const low = (values: number[]) => sorted(values)[0]!;
  const median = (values: number[]) => sorted(values)[Math.floor(values.length / 2)]!;
  const anchor = stats.get("rate-limiter-flexible")!.get("evalsha")!;
  console.log(`redis-server ${(await client.info("server")).match(/redis_version:(\S+)/)?.[1]}, ${calls} calls per case, ${rounds} rounds`);
  console.log("µs per limit() inside redis-server, lowest round (median): EVALSHA, the whole script; then the nested commands' share:");
  for (const name of names) {
    const per = stats.get(name)!;
    const evalsha = per.get("evalsha") ?? [0];
    const nested = [...per].filter(([command]) => command !== "evalsha" && !command.includes(" "))
      .map(([command, values]) => `${command} ${low(values).toFixed(2)}`).join(", ");
    console.log(
      `  ${name}: ${low(evalsha).toFixed(2)} µs (${median(evalsha).toFixed(2)}), ` +
        `${(low(evalsha) / low(anchor)).toFixed(2)}x (${(median(evalsha) / median(anchor)).toFixed(2)}x) rate-limiter-flexible; ${nested}`,
    );
  }
} finally {
  client.disconnect();
  await server.close();
}
