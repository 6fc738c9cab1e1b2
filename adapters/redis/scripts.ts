/**
 * The Lua scripts behind {@link RedisStore}: one per operation, so each is
 * atomic and one round trip. A key is one string, `<version>\n<expiresAt>\n<json>`
 * (the expiry in epoch ms from the server's `TIME`, empty if it never
 * expires): read with one `GET`, written with one `SET ... PX`, so Redis
 * removes it on time. (One string rather than a hash: a write is then one
 * command, not `HSET` and `PEXPIRE`.)
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
import type { Json, Transition } from "../../src/store/store.ts";
import { onWorkers } from "../../src/internal/runtime.ts";
import type { RedisScriptClient } from "./client.ts";

/** A Lua script with its SHA-1, computed once on first use. */
export class RedisScript {
  /** The Lua source. */
  readonly source: string;
  #sha1: Promise<string> | undefined;
  /** The SHA-1 once known: no await for it on every run. */
  #hex: string | undefined;
  /** The first run, while it is under way. */
  #first: Promise<unknown> | undefined;
  /** Whether a run has answered (the script is then cached on the servers used so far). */
  #ran = false;

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
  run(client: RedisScriptClient, keys: string[], args: string[]): Promise<unknown>;
  /** Runs the script and maps its reply with `then` (in the same promise step). */
  run<T>(client: RedisScriptClient, keys: string[], args: string[], then: (reply: unknown) => T): Promise<T>;
  run(client: RedisScriptClient, keys: string[], args: string[], then?: (reply: unknown) => unknown): Promise<unknown> {
    const sha1 = this.#hex;
    if (sha1 === undefined) {
      return this.sha1().then((hex) => {
        this.#hex = hex;
        return this.run(client, keys, args, then!);
      });
    }
    const first = this.#first;
    if (first !== undefined) {
      // Until the script's first run answers (and has cached it on the server),
      // the others wait for it: a cold burst costs one EVAL, not one each.
      const again = () => this.run(client, keys, args, then!);
      return first.then(again, again);
    }
    const pending = send(client, sha1, this.source, keys, args, then);
    if (!this.#ran && !onWorkers()) {
      // Not on Workers: there a request must not wait on another request's I/O.
      this.#first = pending;
      const done = () => {
        this.#first = undefined;
        this.#ran = true;
      };
      pending.then(done, done);
    }
    return pending;
  }
}

/** `EVALSHA`; `EVAL` if the server lost the script. No async frame: one promise from the client, one more only if NOSCRIPT. */
function send(
  client: RedisScriptClient,
  sha1: string,
  source: string,
  keys: string[],
  args: string[],
  then: ((reply: unknown) => unknown) | undefined,
): Promise<unknown> {
  let pending: Promise<unknown>;
  try {
    pending = client.evalsha(sha1, keys, args);
  } catch (error) {
    return Promise.reject(error);
  }
  return pending.then(then, (error: unknown) => {
    if (!isNoScript(error)) throw error;
    const again = client.eval(source, keys, args);
    return then === undefined ? again : again.then(then);
  });
}

function isNoScript(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes("NOSCRIPT");
}

/** Helpers every script starts with. */
export const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function entry(key)
  local packed = redis.call('GET', key)
  if not packed then return 'N' end
  return 'E' .. packed
end
local function write(key, value, version, ttl)
  if ttl ~= '' then
    local expires = string.format('%d', now_ms() + tonumber(ttl))
    redis.call('SET', key, version .. '\\n' .. expires .. '\\n' .. value, 'PX', ttl)
    return 'W' .. version .. '\\n' .. expires
  end
  -- SET without PX also clears an old TTL.
  redis.call('SET', key, version .. '\\n\\n' .. value)
  return 'W' .. version .. '\\n'
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
local packed = redis.call('GET', key)
if ARGV[1] == '' then
  if packed then return 'CE' .. packed end
elseif not packed then
  return 'CN'
elseif string.match(packed, '^[^\\n]*') ~= ARGV[1] then
  return 'CE' .. packed
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
  /**
   * The script's `ARGV` for `input` and the version of a write. Default
   * `[JSON.stringify(input), version]` (what {@link redisTransitionPort}'s
   * scripts read).
   */
  readonly args?: (input: Json, version: string) => string[];
  /**
   * The transition's output from the script's reply. Default: the reply is
   * `O<json>`, the output itself.
   */
  readonly output?: (reply: string, transition: Transition, input: Json) => Json;
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
local packed = redis.call('GET', key)
local current = nil
if packed then current = cjson.decode(string.match(packed, '^[^\\n]*\\n[^\\n]*\\n(.*)$')) end
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
