// Distributed rate limits on loopback redis-server: bulwark's
// DistributedRateLimiter.limit() over RedisStore (ioredis), every algorithm,
// beside rate-limiter-flexible's RateLimiterRedis.consume() with ioredis on
// the same server, and beside one bare round trip (ioredis `PING`). Starts
// its own redis-server (tests/_support/servers.ts) and stops it. Round
// trips per call (commands the client sends) are counted before the timing
// starts, and shown under each group.
//
//   npm run bench -- distributed_limit --runtimes=node24
//   npx --yes -p node@24 node --expose-gc bench/distributed_limit.bench.ts [--quick]
//
// The targets use the interleaved ratios (see interleavedRatios): on a
// shared machine they hold still where the harness figures do not.
//
// Imports bulwark from dist/ (`npm run build` first).
import { Redis } from "ioredis";
import { type Case, caseOf, type Group, load, quick, runBench } from "./harness.ts";
import { bulwark } from "./bulwark.ts";
import { startRedis } from "../tests/_support/servers.ts";

const { DistributedRateLimiter } = bulwark;
const { RedisStore, fromIoRedis }: typeof import("../adapters/redis/mod.ts") = await import(
  new URL("../dist/adapters/redis/mod.js", import.meta.url).href
);
const flexible = await load(() => import("rate-limiter-flexible"));

const server = await startRedis();
const client = new Redis(server.url);

const HUGE = 1e12;
// Both timeouts at their defaults, as users run them: the store's 5000 ms, the limiter's 1000 ms (the
// store bounds each decision by the limiter's, on a timer of its own). `matchedStore` has the
// limiter's 1000 ms, so the store's own bound is the limiter's.
const store = new RedisStore({ client: fromIoRedis(client), prefix: "bench:" });
const matchedStore = new RedisStore({ client: fromIoRedis(client), prefix: "bench2:", timeoutMs: 1_000 });
const matched = new DistributedRateLimiter({ store: matchedStore, algorithm: "token-bucket", rate: HUGE, perMs: 1_000 });
const limiters = {
  "fixed-window": new DistributedRateLimiter({ store, algorithm: "fixed-window", limit: HUGE, windowMs: 60_000 }),
  "sliding-window (two-window counter)": new DistributedRateLimiter({
    store,
    algorithm: "sliding-window",
    approximate: true,
    limit: HUGE,
    windowMs: 60_000,
  }),
  "token-bucket": new DistributedRateLimiter({ store, algorithm: "token-bucket", rate: HUGE, perMs: 1_000 }),
  gcra: new DistributedRateLimiter({ store, algorithm: "gcra", rate: HUGE, perMs: 1_000 }),
};
// The exact log holds one time per unit in the window: a small limit keeps it short, a short window keeps it admitting.
const log = new DistributedRateLimiter({ store, algorithm: "sliding-window", limit: 100_000, windowMs: 10 });

// Refused: one unit an hour, taken.
const blocked = new DistributedRateLimiter({ store, algorithm: "gcra", rate: 1, perMs: 3_600_000, burst: 1 });
const blockedUncached = new DistributedRateLimiter({ store, algorithm: "gcra", rate: 1, perMs: 3_600_000, burst: 1, maxBlockedKeys: 0, prefix: "rl:uncached:" });
await blocked.limit("hammer");
await blockedUncached.limit("hammer");

const flexibleAdmitted = caseOf("rate-limiter-flexible RateLimiterRedis.consume(key)", "rate-limiter-flexible", flexible, (f) => {
  const limiter = new f.RateLimiterRedis({ storeClient: client, points: HUGE, duration: 60, keyPrefix: "flex" });
  return () => limiter.consume("user-42");
});
const flexibleRefused = caseOf("rate-limiter-flexible RateLimiterRedis.consume(key), refused", "rate-limiter-flexible", flexible, (f) => {
  const limiter = new f.RateLimiterRedis({ storeClient: client, points: 1, duration: 3_600, keyPrefix: "flexr" });
  // consume() rejects when refused: the catch is part of using it.
  return () => limiter.consume("hammer").catch(() => 0);
});

/** Commands the client sent (round trips) for `calls` calls of `call`, per call: ioredis' sendCommand, counted. */
async function roundTripsPerCall(call: () => unknown, calls = 200): Promise<number> {
  await call();
  const original = client.sendCommand;
  let sent = 0;
  client.sendCommand = function (this: Redis, ...args: Parameters<Redis["sendCommand"]>) {
    sent++;
    return original.apply(this, args);
  } as Redis["sendCommand"];
  try {
    for (let i = 0; i < calls; i++) await call();
  } finally {
    client.sendCommand = original;
  }
  return sent / calls;
}

const bare: Group["baseline"] = { name: "one round trip: ioredis ping()", by: "baseline", call: () => client.ping() };
const admitted: Case[] = [
  ...Object.entries(limiters).map(([name, limiter]) => ({
    name: `bulwark DistributedRateLimiter.limit(key): ${name}`,
    by: "bulwark",
    call: () => limiter.limit("user-42"),
  })),
  { name: "bulwark DistributedRateLimiter.limit(key): sliding-window (exact log)", by: "bulwark", call: () => log.limit("user-42") },
  { name: "bulwark limit(key): token-bucket, store timeoutMs 1000 (matched to the limiter's)", by: "bulwark", call: () => matched.limit("user-42") },
  flexibleAdmitted,
];
const refused: Case[] = [
  { name: "bulwark limit(key), refused, blocked-key cache", by: "bulwark", call: () => blocked.limit("hammer") },
  { name: "bulwark limit(key), refused, cache off (maxBlockedKeys: 0)", by: "bulwark", call: () => blockedUncached.limit("hammer") },
  flexibleRefused,
];

const trips = new Map<string, number>();
for (const item of [bare, ...admitted, ...refused]) {
  if (item.call !== undefined) trips.set(item.name, await roundTripsPerCall(item.call));
}
/**
 * Each case against rate-limiter-flexible in alternating blocks of calls
 * (the order rotated per round), and the median over rounds of the
 * per-round ratio: both sides of a ratio ran within milliseconds of each
 * other, so load that comes and goes on a shared machine moves both. The
 * harness's figures measure each case for a longer stretch, one after the
 * other, and their ratios swing with the load between stretches.
 */
async function interleavedRatios(cases: Case[], against: Case, rounds = quick ? 10 : 40, block = 200): Promise<Map<string, number>> {
  const all = [against, ...cases].filter((item) => item.call !== undefined);
  const ratios = new Map<string, number[]>(all.map((item) => [item.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = [...all.slice(round % all.length), ...all.slice(0, round % all.length)];
    const perCall = new Map<string, number>();
    for (const item of order) {
      const started = performance.now();
      for (let i = 0; i < block; i++) await item.call!();
      perCall.set(item.name, (performance.now() - started) / block);
    }
    for (const item of all) ratios.get(item.name)!.push(perCall.get(item.name)! / perCall.get(against.name)!);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return new Map([...ratios].map(([name, values]) => [name, median(values)]));
}

const against = flexibleAdmitted;
const interleaved = against.call === undefined ? new Map<string, number>() : await interleavedRatios(admitted.filter((item) => item !== against), against);

const notes = (cases: Case[]) => () => [
  "round trips per call (commands the client sent):",
  ...cases.map((item) => `  ${item.name}: ${trips.get(item.name)?.toFixed(2) ?? "n/a"}`),
];

const groups: Group[] = [
  {
    id: "admitted",
    title: "limit(), admitted (loopback redis-server, one caller)",
    baseline: bare,
    cases: admitted,
    after: () => [
      ...notes(admitted)(),
      `ratio to rate-limiter-flexible, interleaved (blocks of 200 calls, ${quick ? 10 : 40} rounds, median per-round ratio):`,
      ...admitted.filter((item) => item !== against).map((item) => `  ${item.name}: ${interleaved.get(item.name)?.toFixed(2) ?? "n/a"}x`),
    ],
  },
  { id: "refused", title: "limit(), refused: a client hammering a blocked key", baseline: bare, cases: refused, after: notes(refused) },
];

await runBench("bench/distributed_limit.bench.ts", groups, [
  ...(["fixed-window", "sliding-window (two-window counter)", "token-bucket", "gcra"] as const).map((name) => ({
    text: `DistributedRateLimiter.limit() (${name}) no slower than rate-limiter-flexible's RateLimiterRedis.consume() (interleaved ratio)`,
    check: () => {
      const ratio = interleaved.get(`bulwark DistributedRateLimiter.limit(key): ${name}`);
      return ratio === undefined ? undefined : { value: `${ratio.toFixed(2)}x`, met: ratio <= 1 };
    },
  })),
]);
