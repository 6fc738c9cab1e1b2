/**
 * The Lua scripts behind {@link RedisStore}: one per operation, so each is
 * atomic and one round trip. A key is a hash: `v` the value's JSON, `n` its
 * version, `x` its expiry (epoch ms from the server's `TIME`, absent if it
 * never expires); the key itself carries the TTL (`PEXPIRE`), so Redis
 * removes it on time.
 *
 * Replies are single strings that are never valid JSON (clients that
 * deserialize JSON replies, like `@upstash/redis`, leave them alone):
 *
 * - `N`: no entry;
 * - `E<version>\n<expiresAt>\n<json>`: an entry;
 * - `W<version>\n<expiresAt>`: written;
 * - `C` + `N` or `E...`: a conditional write lost; what the key holds now;
 * - `D0` / `D1`: deleted nothing / a live entry;
 * - `T<nowMs>\n` + `N` or `E...`: read for an update, with the server's time;
 * - `O<json>`: a transition port's output.
 *
 * @module
 */
import type { RedisScriptClient } from "./client.ts";

/** A Lua script with its SHA-1, computed once on first use. */
export class RedisScript {
  /** The Lua source. */
  readonly source: string;
  #sha1: Promise<string> | undefined;
  /** The SHA-1 once known: no await for it on every run. */
  #hex: string | undefined;

  /**
   * @example
   * ```ts
   * import { RedisScript } from "bulwark/redis";
   * const script = new RedisScript("return 'N'");
   * // What `redis-cli SCRIPT LOAD "return 'N'"` answers:
   * if ((await script.sha1()) !== "8889893131c962bdd56be00a1b9def135b8d60d3") throw new Error("unexpected SHA-1");
   * ```
   */
  constructor(source: string) {
    this.source = source;
  }

  /** The hex SHA-1 of the source, as `EVALSHA` wants it. */
  sha1(): Promise<string> {
    this.#sha1 ??= crypto.subtle.digest("SHA-1", new TextEncoder().encode(this.source)).then((digest) =>
      Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("")
    );
    return this.#sha1;
  }

  /**
   * Runs the script: `EVALSHA`, and `EVAL` (which caches it again) if the
   * server answers `NOSCRIPT` (a restart, `SCRIPT FLUSH`, a failover).
   * Still one round trip whenever the script is cached.
   */
  async run(client: RedisScriptClient, keys: string[], args: string[]): Promise<unknown> {
    const sha1 = this.#hex ?? (this.#hex = await this.sha1());
    try {
      return await client.evalsha(sha1, keys, args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.eval(this.source, keys, args);
    }
  }
}

function isNoScript(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes("NOSCRIPT");
}

/** Helpers every script starts with (the rate-limit ports too). */
export const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function entry(key)
  local h = redis.call('HMGET', key, 'v', 'n', 'x')
  if not h[1] then return 'N' end
  return 'E' .. h[2] .. '\\n' .. (h[3] or '') .. '\\n' .. h[1]
end
local function write(key, value, version, ttl)
  local expires = ''
  redis.call('HSET', key, 'v', value, 'n', version)
  if ttl ~= '' then
    expires = tostring(now_ms() + tonumber(ttl))
    redis.call('HSET', key, 'x', expires)
    redis.call('PEXPIRE', key, ttl)
  else
    redis.call('HDEL', key, 'x')
    redis.call('PERSIST', key)
  end
  return 'W' .. version .. '\\n' .. expires
end
`;

/** KEYS: key. */
export const GET: RedisScript = new RedisScript(`${PRELUDE}
return entry(KEYS[1])`);

/** KEYS: key. ARGV: json, version, ttlMs or ''. */
export const SET: RedisScript = new RedisScript(`${PRELUDE}
return write(KEYS[1], ARGV[1], ARGV[2], ARGV[3])`);

/** KEYS: key. */
export const DELETE: RedisScript = new RedisScript(`return 'D' .. redis.call('DEL', KEYS[1])`);

/**
 * KEYS: key. ARGV: expected version ('' = only if absent), mode ('w' write,
 * 'd' delete), json, version, ttlMs or ''. Serves insertIfAbsent,
 * compareAndSet and the commit step of update().
 */
export const COMMIT: RedisScript = new RedisScript(`${PRELUDE}
local key = KEYS[1]
local current = redis.call('HGET', key, 'n')
if ARGV[1] == '' then
  if current then return 'C' .. entry(key) end
elseif current ~= ARGV[1] then
  return 'C' .. entry(key)
end
if ARGV[2] == 'd' then return 'D' .. redis.call('DEL', key) end
return write(key, ARGV[3], ARGV[4], ARGV[5])`);

/** KEYS: key. The entry and the server's time, for update()'s read. */
export const READ_FOR_UPDATE: RedisScript = new RedisScript(`${PRELUDE}
return 'T' .. now_ms() .. '\\n' .. entry(KEYS[1])`);

/**
 * A Lua port of a `Transition`: the same decision, computed inside
 * Redis in one round trip. `lua` is the body of a function
 * `(current, input, now)` where `current` is the key's value decoded by
 * `cjson` (`nil` if absent), `input` the decoded input, `now` the server's
 * epoch ms. It returns a table: `{ output = <value> }` plus one of
 * `next = <value>` (written; `nil` writes JSON null), `keep = true`
 * (nothing written, like `UNCHANGED`) or `delete = true`; and `ttl = <ms>`
 * for a written value. Values pass through `cjson`: numbers keep 14
 * significant digits, and an empty table encodes as `{}`.
 *
 * @example
 * ```ts
 * import { redisTransitionPort } from "bulwark/redis";
 * // The port of a counter transition: adds input.by, expires in 60 s.
 * const counter = redisTransitionPort("example.counter", `
 *   local next = (current or 0) + input.by
 *   return { next = next, ttl = 60000, output = next }
 * `);
 * if (counter.name !== "example.counter") throw new Error("unexpected");
 * ```
 */
export interface RedisTransitionPort {
  /** The `Transition.name` it ports. */
  readonly name: string;
  /** The whole script (prelude, decoding, the port's body, the write). */
  readonly script: RedisScript;
}

/**
 * Builds a {@link RedisTransitionPort} from the body of its Lua function
 * (see there for what the body receives and returns). Register it with
 * `new RedisStore({ client, ports: [port] })`.
 *
 * @example
 * ```ts
 * import { redisTransitionPort } from "bulwark/redis";
 * const keep = redisTransitionPort("example.peek", "return { keep = true, output = current }");
 * // The whole script: decoding, the body, the write; cached by its SHA-1.
 * if (!keep.script.source.includes("keep = true") || (await keep.script.sha1()).length !== 40) throw new Error("unexpected");
 * ```
 */
export function redisTransitionPort(name: string, lua: string): RedisTransitionPort {
  if (typeof name !== "string" || name === "") throw new TypeError(`redisTransitionPort: name must be a non-empty string, got ${String(name)}`);
  if (typeof lua !== "string") throw new TypeError(`redisTransitionPort: lua must be a string, got ${typeof lua}`);
  // KEYS: key. ARGV: input json, version for a write.
  const script = new RedisScript(`${PRELUDE}
local apply = function(current, input, now)
${lua}
end
local key = KEYS[1]
local raw = redis.call('HGET', key, 'v')
local current = nil
if raw then current = cjson.decode(raw) end
local result = apply(current, cjson.decode(ARGV[1]), now_ms())
if result.delete then
  redis.call('DEL', key)
elseif not result.keep then
  local value = result.next
  if value == nil then value = cjson.null end
  local ttl = ''
  if result.ttl then ttl = string.format('%d', math.max(1, math.ceil(result.ttl))) end
  write(key, cjson.encode(value), ARGV[2], ttl)
end
local output = result.output
if output == nil then output = cjson.null end
return 'O' .. cjson.encode(output)`);
  return { name, script };
}
