/**
 * The slice of a Redis client that {@link RedisStore} uses: running a Lua
 * script by its SHA-1 (`EVALSHA`) and by its source (`EVAL`). Every store
 * operation is one script, so this is all a client has to offer. The
 * adapter never imports a client library: bring your own, wrapped by one of
 * the functions below (or any object of this shape).
 *
 * @module
 */

/**
 * What {@link RedisStore} needs from a Redis client: `EVALSHA` and `EVAL`
 * with keys and arguments as strings, resolving to the script's reply (a
 * string, or `null`/`undefined` for a nil reply) and rejecting with the
 * server's error (whose message starts with `NOSCRIPT` when the script is
 * not cached). The shape is `@upstash/redis`'s own.
 *
 * @example
 * ```ts
 * import type { RedisScriptClient } from "bulwark/redis";
 * // A stand-in that answers every script with "N" (no entry).
 * const client: RedisScriptClient = {
 *   evalsha: () => Promise.resolve("N"),
 *   eval: () => Promise.resolve("N"),
 * };
 * if ((await client.eval("return 'N'", ["k"], [])) !== "N") throw new Error("unexpected");
 * ```
 */
export interface RedisScriptClient {
  /** `EVALSHA sha1 numkeys ...keys ...args` */
  evalsha(sha1: string, keys: string[], args: string[]): Promise<unknown>;
  /** `EVAL script numkeys ...keys ...args` (also caches the script on the server) */
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
}

/** The two methods of a node-redis (`redis` 4 to 6) client that {@link fromNodeRedis} calls. */
export interface NodeRedisLike {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * Wraps a connected node-redis client (`createClient()` from `redis`, or a
 * pool/cluster client with the same methods) for {@link RedisStore}.
 *
 * @example
 * ```ts
 * import { fromNodeRedis } from "bulwark/redis";
 * // Any object with node-redis' evalSha/eval signatures; here, a stand-in.
 * const calls: string[] = [];
 * const client = fromNodeRedis({
 *   evalSha: (sha, { keys }) => (calls.push(`EVALSHA ${sha} ${keys.length}`), Promise.resolve("N")),
 *   eval: (_script, { keys }) => (calls.push(`EVAL ${keys.length}`), Promise.resolve("N")),
 * });
 * await client.evalsha("abc", ["k"], []);
 * if (calls[0] !== "EVALSHA abc 1") throw new Error(calls.join());
 * ```
 */
export function fromNodeRedis(client: NodeRedisLike): RedisScriptClient {
  return {
    evalsha: (sha1, keys, args) => client.evalSha(sha1, { keys, arguments: args }),
    eval: (script, keys, args) => client.eval(script, { keys, arguments: args }),
  };
}

/** The two methods of an ioredis client that {@link fromIoRedis} calls. */
export interface IoRedisLike {
  evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/**
 * Wraps an ioredis client (`new Redis()` from `ioredis`, or a `Cluster`)
 * for {@link RedisStore}.
 *
 * @example
 * ```ts
 * import { fromIoRedis } from "bulwark/redis";
 * const calls: unknown[][] = [];
 * const client = fromIoRedis({
 *   evalsha: (...args) => (calls.push(args), Promise.resolve("N")),
 *   eval: (...args) => (calls.push(args), Promise.resolve("N")),
 * });
 * await client.evalsha("abc", ["k"], ["1"]);
 * if (JSON.stringify(calls[0]) !== '["abc",1,"k","1"]') throw new Error(JSON.stringify(calls));
 * ```
 */
export function fromIoRedis(client: IoRedisLike): RedisScriptClient {
  return {
    // One key (every RedisStore script): one spread, which V8 calls without building a list of both.
    evalsha: (sha1, keys, args) =>
      keys.length === 1 ? client.evalsha(sha1, 1, keys[0]!, ...args) : client.evalsha(sha1, keys.length, ...keys, ...args),
    eval: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
  };
}

/**
 * Wraps an `@upstash/redis` client for {@link RedisStore}. Its
 * `evalsha`/`eval` already have the right shape; this only binds them. The
 * store's replies are never valid JSON, so Upstash's automatic
 * deserialization leaves them alone. (Checked against the shape of the
 * client, not a live Upstash database.)
 *
 * @example
 * ```ts
 * import { fromUpstash } from "bulwark/redis";
 * const upstash = {
 *   evalsha: (_sha: string, _keys: string[], _args: string[]) => Promise.resolve<unknown>("N"),
 *   eval: (_script: string, _keys: string[], _args: string[]) => Promise.resolve<unknown>("N"),
 * };
 * if ((await fromUpstash(upstash).eval("return 'N'", ["k"], [])) !== "N") throw new Error("unexpected");
 * ```
 */
export function fromUpstash(client: RedisScriptClient): RedisScriptClient {
  return {
    evalsha: (sha1, keys, args) => client.evalsha(sha1, keys, args),
    eval: (script, keys, args) => client.eval(script, keys, args),
  };
}
