// What bench/distributed_limit_cost.ts and bench/distributed_limit_server.ts
// share: their command-line options, the builds they load (this checkout's
// dist/, and with `--before=<dir>` another built checkout beside it), and
// the limiters' options (admitting every call, as the bench's do).

/** The value of `--<name>=<value>` on the command line, if given. */
export const option = (name: string): string | undefined =>
  process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);

/** `[tag, root URL]` of each build to load: this checkout, and `--before=<dir>` tagged `before `. */
export const builds: [string, string][] = [["", new URL("../", import.meta.url).href]];
const before = option("before");
if (before !== undefined) builds.push(["before ", new URL(`file://${before.replace(/\/?$/, "/")}`).href]);

/** A limit no bench reaches. */
export const HUGE = 1e12;

/** Each algorithm's options, as bench/distributed_limit.bench.ts has them. */
export const ALGORITHMS = {
  "fixed-window": { algorithm: "fixed-window", limit: HUGE, windowMs: 60_000 },
  "sliding-window (two-window counter)": { algorithm: "sliding-window", approximate: true, limit: HUGE, windowMs: 60_000 },
  "token-bucket": { algorithm: "token-bucket", rate: HUGE, perMs: 1_000 },
  gcra: { algorithm: "gcra", rate: HUGE, perMs: 1_000 },
};

/** One build's core and Redis adapter (`dist/`), and a `RedisStore` over `client` under the build's own prefix. */
export async function loadBuild(tag: string, root: string, client: unknown): Promise<{ core: any; redis: any; store: any }> {
  const core = await import(new URL("dist/mod.js", root).href);
  const redis = await import(new URL("dist/adapters/redis/mod.js", root).href);
  const store = new redis.RedisStore({ client: redis.fromIoRedis(client), prefix: `${tag}bench:` });
  return { core, redis, store };
}
