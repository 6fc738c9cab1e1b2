// Where a distributed limit()'s time goes, beside rate-limiter-flexible's
// consume() (the anchor of bench/distributed_limit.bench.ts): measuring
// only, no targets. Starts its own redis-server and stops it.
//
//   npx --yes -p node@24 node --expose-gc bench/distributed_limit_cost.ts [--before=<dir>] [--rounds=N]
//
// - wire: the command each call sends (arguments, their bytes) and the reply;
// - server: EVALSHA's usec_per_call from INFO commandstats (CONFIG RESETSTAT
//   before each block of calls), the median over rounds;
// - client: CPU ns per call (process.cpuUsage) with the socket taken out: an ioredis client whose
//   sendCommand answers at once with the reply the real server gave (the
//   library's own work, argument handling and reply parsing included; the
//   tests run against the real server);
// - ratio: the interleaved per-round ratio to rate-limiter-flexible, as the
//   bench measures it.
//
// `--before=<dir>`: a built checkout (`npm run build` there) whose limiters
// run beside these, prefixed `before `, in the same process and rounds.
//
// Imports bulwark from dist/ (`npm run build` first).
import { Redis } from "ioredis";
import { startRedis } from "../tests/_support/servers.ts";
import { ALGORITHMS, builds, HUGE, loadBuild, option } from "./redis_limit_cases.ts";

type Limit = () => Promise<unknown>;

const rounds = Number(option("rounds") ?? 20);
const { RateLimiterRedis } = await import("rate-limiter-flexible");

/** The cases on `client`: rate-limiter-flexible, then each build's limiters (the same options as the bench's). */
async function casesOn(client: Redis): Promise<Map<string, Limit>> {
  const flexible = new RateLimiterRedis({ storeClient: client, points: HUGE, duration: 60, keyPrefix: "flex" });
  const cases = new Map<string, Limit>([["rate-limiter-flexible", () => flexible.consume("user-42")]]);
  for (const [tag, root] of builds) {
    const { core, redis, store } = await loadBuild(tag, root, client);
    // Both timeouts at their defaults (the store's 5000 ms, the limiter's 1000 ms), as users run them;
    // one case with the store's matched to the limiter's beside them.
    for (const [name, options] of Object.entries(ALGORITHMS)) {
      const limiter = new core.DistributedRateLimiter({ store, ...options });
      cases.set(`${tag}${name}`, () => limiter.limit("user-42"));
    }
    const matchedStore = new redis.RedisStore({ client: redis.fromIoRedis(client), prefix: `${tag}bench2:`, timeoutMs: 1_000 });
    const matched = new core.DistributedRateLimiter({ store: matchedStore, ...ALGORITHMS["token-bucket"] });
    cases.set(`${tag}token-bucket, store timeoutMs 1000 (matched)`, () => matched.limit("user-42"));
  }
  return cases;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Runs `call` once with every command `client` sends handed to `seen` (and to the server). */
async function watch(client: Redis, call: Limit, seen: (command: { name: string; args: unknown[] }, reply: Promise<unknown>) => void) {
  const original = client.sendCommand;
  client.sendCommand = function (this: Redis, command: never, ...rest: never[]) {
    const reply = (original as (...args: unknown[]) => Promise<unknown>).call(this, command, ...rest);
    seen(command, reply);
    return reply;
  } as Redis["sendCommand"];
  try {
    await call();
  } finally {
    client.sendCommand = original;
  }
}

const server = await startRedis();
const client = new Redis(server.url);
try {
  const cases = await casesOn(client);
  const names = [...cases.keys()];
  for (const call of cases.values()) for (let i = 0; i < 500; i++) await call();

  console.log("wire (a call in a run of calls, so a key written within the millisecond is there: command, arguments, their bytes; reply):");
  const replies = new Map<string, unknown>();
  for (const [name, call] of cases) {
    let line = "";
    const watched = async () => {
      await watch(client, call, (command, reply) => {
        const args = command.args.map(String);
        line = `${command.name}, ${args.length} arguments, ${args.join("").length} bytes`;
        void reply.then((value) => replies.set(name, value));
      });
    };
    for (let i = 0; i < 5; i++) await Promise.all([call(), watched()]);
    console.log(`  ${name}: ${line}; reply ${JSON.stringify(replies.get(name))}`);
  }

  const server_ = new Map<string, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < Math.max(3, Math.floor(rounds / 4)); round++) {
    for (const [name, call] of cases) {
      await client.config("RESETSTAT");
      for (let i = 0; i < 2_000; i++) await call();
      const stats = /cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(await client.info("commandstats"));
      server_.get(name)!.push(Number(stats![1]));
    }
  }
  console.log("server: EVALSHA usec_per_call (INFO commandstats), median:");
  for (const name of names) console.log(`  ${name}: ${median(server_.get(name)!).toFixed(2)} µs`);

  // The socket taken out: every command answered at once with the real server's reply.
  const fake = new Redis({ lazyConnect: true });
  let answer: unknown;
  fake.sendCommand = ((command: { resolve(value: unknown): void; promise: Promise<unknown> }) => {
    command.resolve(answer);
    return command.promise;
  }) as unknown as Redis["sendCommand"];
  const offline = await casesOn(fake);
  const client_ = new Map<string, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    for (const name of order) {
      const call = offline.get(name)!;
      answer = replies.get(name);
      const used = process.cpuUsage();
      for (let i = 0; i < 5_000; i++) await call();
      const { user, system } = process.cpuUsage(used);
      client_.get(name)!.push(((user + system) / 5_000) * 1_000);
    }
  }
  console.log("client: CPU ns per call, the reply at once (no socket, no server), interleaved, median:");
  for (const name of names) console.log(`  ${name}: ${Math.round(median(client_.get(name)!))} ns`);

  const ratios = new Map<string, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds * 2; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    const perCall = new Map<string, number>();
    for (const name of order) {
      const call = cases.get(name)!;
      const started = performance.now();
      for (let i = 0; i < 200; i++) await call();
      perCall.set(name, (performance.now() - started) / 200);
    }
    for (const name of names) ratios.get(name)!.push(perCall.get(name)! / perCall.get("rate-limiter-flexible")!);
  }
  console.log(`ratio to rate-limiter-flexible, interleaved (blocks of 200 calls, ${rounds * 2} rounds, median per-round ratio):`);
  for (const name of names.slice(1)) console.log(`  ${name}: ${median(ratios.get(name)!).toFixed(3)}x`);
} finally {
  client.disconnect();
  await server.close();
}
