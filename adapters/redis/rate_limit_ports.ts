/**
 * Lua ports of the distributed rate limits' transitions
 * (`RATE_LIMIT_TRANSITIONS` in the core): each decides inside Redis, on its
 * `TIME`, exactly what the TypeScript algorithm decides (the same
 * arithmetic in the same order, on doubles) and writes the same state, so a
 * `DistributedRateLimiter` over a `RedisStore` makes every decision in one
 * `EVALSHA`.
 *
 * Kept lean, since the script's time is most of a decision's: the input is
 * positional `ARGV` (no JSON to decode), the state is read with one pattern
 * (`cjson` only for a shape the port did not write), numbers are printed
 * as integers where they are (`%.17g`, every double exactly, only where
 * not), the stored strings of the numbers that did not change are written
 * back as they are, the key's expiry is kept (`SET ... KEEPTTL`) where it
 * would not move and set where it does at the instant printed in the value
 * (`SET ... PXAT`, Redis 6.2 or later), a refusal writes nothing, and the
 * reply is the decision, the server's `TIME` and the state it decided on,
 * as Redis holds them (`=` and its numbers): no number printed. The store's
 * layout is unchanged (`<version>\n<expiresAt>\n<json>`, see `scripts.ts`),
 * so `get()` reads these keys, and keys written by an earlier release (or
 * by another writer) decide as before. The client computes the rest of the
 * output (remaining, reset, retry-after) with the TypeScript transition on
 * that state at that time, which is the decision Redis made (checked: a
 * disagreement on the decision fails the call).
 *
 * @module
 */
import type { Json, Transition } from "../../src/store/store.ts";
import { RATE_LIMIT_TRANSITION_NAMES } from "../../src/rate_limit/transition_names.ts";
import { RedisScript, type RedisTransitionPort } from "./scripts.ts";

/**
 * What every port starts with: the engine's time, the key's value.
 * KEYS: key. ARGV: version for a write, then the input's numbers (limit,
 * windowMs / rate, perMs, burst), then the cost, left out when it is 1.
 *
 * What a decision costs inside Redis is mostly C calls and allocations
 * from Lua: a closure (~0.1 µs, so the helpers below are inlined rather
 * than local functions), printing a number (`string.format`, ~0.1 µs for
 * `%d`, ~0.25 µs for `%.17g`), reading one (`tonumber`, ~0.1 µs), `SET`
 * with an expiry (~0.7 µs with `PXAT`, ~0.85 with `PX`, against ~0.45 µs
 * with `KEEPTTL`), each `ARGV` (~0.09 µs for Redis to copy in). So the
 * ports print only the numbers that changed (`%d` where they are
 * integers), reuse the stored strings of the others, keep the key's expiry
 * when it would not move (`KEEPTTL`), and reply with the stored strings,
 * never printing a number for the reply. A value is built by
 * concatenation (`..`, ~0.08 µs for six pieces), not one `string.format`
 * (~0.6 µs for the GCRA's whole value).
 */
// In the Lua: `x + 0` reads a string as a number (the same conversion as
// tonumber, without its call; it fails the script on a string that is no
// number, so it reads only what a nil would fail on anyway: `tonumber`
// stays where a nil still decides; the fixed window's stored window is read
// only as digits, `+ 0` then cannot fail; the two-window counter's counts
// only as a number's characters, which JSON.stringify and the ports write,
// anything else read with cjson); each port reads the store's layout
// <version>\n<expiresAt>\n<json> with one anchored pattern from the start
// (no separate search for the first newline); `held` is the state decided
// on, for the reply, when it is not the port's own shape (its JSON); the
// port's own shape is replied as '=' and its numbers as stored,
// space-separated, concatenated into the reply itself (see `done`).
const HEAD = `
local key = KEYS[1]
local t = redis.call('TIME')
local us = t[2] + 0
local now = t[1] * 1000 + (us - us % 1000) / 1000
local packed = redis.call('GET', key)
local held = ''`;

/** Lua: `x` (a local) printed exactly: `%d` for an integer, `%.17g` (every double exactly) otherwise. */
const num = (x: string) =>
  `(${x} % 1 == 0 and ${x} > -2^53 and ${x} < 2^53 and string.format('%d', ${x}) or string.format('%.17g', ${x}))`;

/** Lua: a state of a shape the port did not write, read with cjson (the reply is then its JSON); `then` uses `state`. */
const decoded = (then: string) => `
local raw = string.match(packed, '^[^\\n]*\\n[^\\n]*\\n(.*)$')
if raw then
held = raw
local ok, state = pcall(cjson.decode, raw)
if ok and type(state) == 'table' then ${then} end
end`;

/**
 * Lua: writes the store's layout (version, expiry on the server's clock, the
 * JSON `value`) in one SET, with Redis' expiry at that same instant
 * (`PXAT`, Redis 6.2 or later: the absolute time is printed once, for both;
 * `PX` would print the TTL too and have Redis read its own clock again).
 */
const save = (value: string, reset: string) => `
local ttl = math.ceil(${reset})
if ttl < 1 then ttl = 1 end
local at = string.format('%d', now + ttl)
redis.call('SET', key, ARGV[1] .. '\\n' .. at .. '\\n' .. ${value}, 'PXAT', at)`;

/**
 * Lua: writes `value` (the store's layout, its expiry the string `expires`)
 * keeping the key's TTL (`keep`: the stored expiry is that one already, as
 * with many admissions within one millisecond: a high rate), or with Redis'
 * expiry at `expires` (`PXAT`).
 */
const keepOr = (value: string) => `if keep then
redis.call('SET', key, ${value}, 'KEEPTTL')
else
redis.call('SET', key, ${value}, 'PXAT', expires)
end`;

/**
 * Lua: the reply: S, the decision (1 admitted, 0 refused), TIME's seconds
 * and microseconds, the state decided on: `=` and `numbers` (Lua
 * expressions of the stored strings, space-separated) where the port's
 * pattern read them (`read` is then not nil), else `held`.
 */
const done = (allowed: boolean, read: string, ...numbers: string[]) => {
  const head = `'${allowed ? "S1" : "S0"}' .. t[1] .. ' ' .. t[2] .. '\\n`;
  const fallback = `return ${head}' .. held`;
  return numbers.length === 0 ? fallback : `if ${read} then return ${head}=' .. ${numbers.join(" .. ' ' .. ")} end ${fallback}`;
};

// The cost is the last ARGV, absent for one unit (the usual call: one
// argument fewer for Redis to copy into the script).
const WINDOW_INPUT = `
local limit, windowMs, cost = ARGV[2] + 0, ARGV[3] + 0, 1
if ARGV[4] then cost = ARGV[4] + 0 end`;
const BUCKET_INPUT = `
local rate, perMs, burst, cost = ARGV[2] + 0, ARGV[3] + 0, ARGV[4] + 0, 1
if ARGV[5] then cost = ARGV[5] + 0 end`;

// Within one window the key's expiry (the window's end) does not move: the
// count is rewritten with KEEPTTL, beside the stored window and expiry.
const FIXED_WINDOW = `${HEAD}${WINDOW_INPUT}
local window = math.floor(now / windowMs)
local count, expires, sw, sc = 0, nil, nil, nil
if packed then
  expires, sw, sc = string.match(packed, '^[^\\n]*\\n(%d*)\\n{"window":(%d+),"count":([^,}]+)}$')
  if sw then
    if sw + 0 == window then count = sc + 0 else expires = nil end
  else${decoded("if window == state.window then count = state.count end")}
  end
end
if not (count + cost <= limit) then ${done(false, "sw", "sw", "sc")} end
local next = count + cost
if expires and expires ~= '' then
  redis.call('SET', key, ARGV[1] .. '\\n' .. expires .. '\\n{"window":' .. sw .. ',"count":' .. ${num("next")} .. '}', 'KEEPTTL')
else${save(`'{"window":' .. ${num("window")} .. ',"count":' .. ${num("next")} .. '}'`, "(window + 1) * windowMs - now")}
end
${done(true, "sw", "sw", "sc")}`;

const TOKEN_BUCKET = `${HEAD}${BUCKET_INPUT}
local anchor, consumed, expires, ra, rc = now, 0, nil, nil, nil
if packed then
  expires, ra, rc = string.match(packed, '^[^\\n]*\\n(%d*)\\n{"anchorMs":([^,]+),"consumed":([^,}]+)}$')
  if ra then
    anchor = ra + 0; consumed = rc + 0
  else${decoded("anchor = state.anchorMs; consumed = state.consumed")}
  end
end
local elapsed = now - anchor
local refilled = (elapsed * rate) / perMs
local na, nc
if refilled >= consumed then
  if cost > burst then ${done(false, "ra", "ra", "rc")} end
  na = now; nc = cost
elseif consumed + cost - burst <= refilled then
  na = anchor; nc = consumed + cost
else
  ${done(false, "ra", "ra", "rc")}
end
local reset = (nc * perMs) / rate - (now - na)
if reset < 0 then reset = 0 end
if na % 1 == 0 and nc % 1 == 0 and na > -2^53 and na < 2^53 and nc > -2^53 and nc < 2^53 then
  local ttl = math.ceil(reset)
  if ttl < 1 then ttl = 1 end
  local keep = expires and expires ~= '' and expires + 0 == now + ttl
  if not keep then expires = string.format('%d', now + ttl) end
  local sa = ra
  if not (ra and na == anchor) then sa = string.format('%d', na) end
  local value = ARGV[1] .. '\\n' .. expires .. '\\n{"anchorMs":' .. sa .. ',"consumed":' .. string.format('%d', nc) .. '}'
  ${keepOr("value")}
else${save(`'{"anchorMs":' .. ${num("na")} .. ',"consumed":' .. ${num("nc")} .. '}'`, "reset")}
end
${done(true, "ra", "ra", "rc")}`;

// %.17g prints every double exactly, and an integer below 10^17 as %d does.
const GCRA = `${HEAD}${BUCKET_INPUT}
local interval = perMs / rate
local position = (now * rate) / perMs
local tat, expires, rt = position, nil, nil
if packed then
  expires, rt = string.match(packed, '^[^\\n]*\\n(%d*)\\n{"tat":([^,}]+)}$')
  if rt then
    tat = rt + 0
  else${decoded("tat = state.tat")}
  end
end
local ahead = 0
if tat > position then ahead = tat - position end
if not (ahead + cost - burst <= (position + burst) * (4 * 2 ^ -52)) then ${done(false, "rt", "rt")} end
local ntat
if ahead > 0 then ntat = tat + cost else ntat = position + cost end
local a = ntat - (now * rate) / perMs
local reset = 0
if a > 0 then reset = a * interval end
local ttl = math.ceil(reset)
if ttl < 1 then ttl = 1 end
local keep = expires and expires ~= '' and expires + 0 == now + ttl
if not keep then expires = string.format('%d', now + ttl) end
local st = rt
if not (rt and ntat == tat) then st = string.format('%.17g', ntat) end
local value = ARGV[1] .. '\\n' .. expires .. '\\n{"tat":' .. st .. '}'
${keepOr("value")}
${done(true, "rt", "rt")}`;

// Within one window the expiry (two windows on) does not move either: KEEPTTL.
const SLIDING_WINDOW_COUNTER = `${HEAD}${WINDOW_INPUT}
local position = now / windowMs
local window = math.floor(position)
local sw, sp, sc = window, 0, 0
local expires, mw, mp, mc = nil, nil, nil, nil
if packed then
  expires, mw, mp, mc = string.match(packed, '^[^\\n]*\\n(%d*)\\n{"window":([^,]+),"previous":([-%d.eE+]+),"current":([-%d.eE+]+)}$')
  if mw then
    sw = mw + 0; sp = mp + 0; sc = mc + 0
  else${decoded("sw = state.window; sp = state.previous; sc = state.current")}
  end
end
local previous, current = 0, 0
if window == sw then previous = sp; current = sc elseif window == sw + 1 then previous = sc end
local share = 1 - (position - window)
if not (previous * share + current + cost <= limit) then ${done(false, "mw", "mw", "mp", "mc")} end
local next = current + cost
if window == sw and mw and expires ~= '' then
  redis.call('SET', key, ARGV[1] .. '\\n' .. expires .. '\\n{"window":' .. mw .. ',"previous":' .. mp .. ',"current":' .. ${num("next")} .. '}', 'KEEPTTL')
  ${done(true, "mw", "mw", "mp", "mc")}
end
local reset = (window + 2) * windowMs - now
if not (reset > 0) then reset = 0 end
${save(`'{"window":' .. ${num("window")} .. ',"previous":' .. ${num("previous")} .. ',"current":' .. ${num("next")} .. '}'`, "reset")}
${done(true, "mw", "mw", "mp", "mc")}`;

// The exact log: the live admission times, oldest first. Written back as a
// ring starting at 0 that holds exactly them (the TypeScript step grows it).
const SLIDING_WINDOW_LOG = `${HEAD}${WINDOW_INPUT}
local cutoff = now - windowMs
local live = {}
if packed then${decoded(`if type(state.times) == 'table' then
    local times, head, size = state.times, state.head, state.size
    local cap = #times
    for i = 0, size - 1 do
      local slot = head + i
      if slot >= cap then slot = slot - cap end
      local time = times[slot + 1]
      if time > cutoff then live[#live + 1] = time end
    end
  end`)}
end
local n = #live
if not (n + cost <= limit) then ${done(false, "false")} end
for i = 1, cost do live[n + i] = now end
local out = {}
for i = 1, #live do local x = live[i]; out[i] = ${num("x")} end
local reset = live[#live] + windowMs - now
if not (reset > 0) then reset = 0 end
${save(`'{"times":[' .. table.concat(out, ',') .. '],"head":0,"size":' .. #live .. '}'`, "reset")}
${done(true, "false")}`;

/**
 * Positional ARGV: the version, the algorithm's numbers, then the cost,
 * left out when it is 1 (JavaScript prints each double exactly). A limiter
 * hands the same input object to every one-unit call, so the last input's
 * numbers are kept printed.
 */
function argumentsOf(): (input: Json, version: string) => string[] {
  let last: Json | undefined;
  let printed: string[] = [];
  return (input, version) => {
    if (input !== last) {
      const value = input as Record<string, number>;
      printed = "l" in value ? [String(value.l), String(value.w)] : [String(value.r), String(value.p), String(value.b)];
      if (value.c !== 1) printed.push(String(value.c));
      last = input;
    }
    switch (printed.length) {
      case 2:
        return [version, printed[0]!, printed[1]!];
      case 3:
        return [version, printed[0]!, printed[1]!, printed[2]!];
      default:
        return [version, ...printed];
    }
  };
}

/** The state from the numbers a port replied with (`=<n> <n> ...`, as Redis holds them); indexed, not destructured (no iterator per call). */
type StateOf = (numbers: readonly number[]) => Json;

/**
 * The numbers of the reply being read: one array for every reply, none
 * allocated per call. A {@link StateOf} copies them into the state it
 * builds and never keeps the array (the next reply overwrites it).
 */
const scratch: number[] = [0, 0, 0];

/**
 * The number printed in `text` from `from` to `to`: a run of at most 15
 * digits (exact in a double) read digit by digit, without a substring;
 * anything else (a sign, a fraction, an exponent, more digits) through
 * `Number`, which reads them all.
 */
function numberAt(text: string, from: number, to: number): number {
  if (to > from && to - from <= 15) {
    let value = 0;
    let i = from;
    for (; i < to; i++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (i === to) return value;
  }
  return Number(text.slice(from, to));
}

/**
 * The state the port decided on, from its reply after the newline at
 * `from`: nothing (fresh), `=` and the state's numbers, or the stored JSON
 * (a shape the port did not write; not JSON: the port started fresh too).
 */
function stateOf(reply: string, from: number, build: StateOf | undefined): Json | undefined {
  if (from >= reply.length) return undefined;
  if (reply.charCodeAt(from) === 61 && build !== undefined) {
    // One pass: digits summed as they come (exact up to 15 of them), anything else through Number.
    const end = reply.length;
    let count = 0;
    let start = from + 1;
    let value = 0;
    let plain = true;
    for (let i = start; i <= end; i++) {
      const code = i === end ? 32 : reply.charCodeAt(i);
      if (code === 32) {
        scratch[count++] = plain && i > start && i - start <= 15 ? value : Number(reply.slice(start, i));
        start = i + 1;
        value = 0;
        plain = true;
      } else if (code >= 48 && code <= 57) value = value * 10 + (code - 48);
      else plain = false;
    }
    return build(scratch);
  }
  try {
    return JSON.parse(reply.slice(from)) as Json;
  } catch {
    return undefined;
  }
}

/**
 * The reply `S<0|1><seconds> <microseconds>\n<state>` to the transition's
 * output: the TypeScript transition run on the state Redis decided on, at
 * Redis' time. It must decide as Redis did.
 */
function outputOf(build: StateOf | undefined) {
  return (reply: string, transition: Transition, input: Json): Json => {
    const space = reply.indexOf(" ");
    const newline = reply.indexOf("\n", space);
    const flag = reply.charCodeAt(1);
    if (reply.charCodeAt(0) !== 83 || (flag !== 48 && flag !== 49) || space < 0 || newline < 0) {
      throw new Error(`unexpected reply from Redis: ${reply.slice(0, 80)}`);
    }
    const nowMs = numberAt(reply, 2, space) * 1_000 + Math.floor(numberAt(reply, space + 1, newline) / 1_000);
    const output = transition.apply(stateOf(reply, newline + 1, build), input, nowMs).output as { a?: unknown } | null;
    if (typeof output !== "object" || output === null || output.a !== (flag === 49)) {
      throw new Error(`${transition.name}: Redis ${flag === 49 ? "admitted" : "refused"} but the TypeScript transition decided ${JSON.stringify(output)}`);
    }
    return output as Json;
  };
}

function port(name: string, body: string, build?: StateOf): RedisTransitionPort {
  return { name, script: new RedisScript(body), args: argumentsOf(), output: outputOf(build) };
}

/**
 * The Lua ports of the rate-limit transitions, by transition name; part of
 * {@link BUILTIN_REDIS_PORTS}, so every `RedisStore` runs them.
 *
 * @example
 * ```ts
 * import { RATE_LIMIT_PORTS } from "bulwark/redis";
 * if (!RATE_LIMIT_PORTS.some((port) => port.name === "bulwark.rate-limit.gcra")) throw new Error("GCRA is ported");
 * ```
 */
export const RATE_LIMIT_PORTS: readonly RedisTransitionPort[] = /* @__PURE__ */ Object.freeze([
  port(RATE_LIMIT_TRANSITION_NAMES["fixed-window"], FIXED_WINDOW, (n) => ({ window: n[0]!, count: n[1]! })),
  port(RATE_LIMIT_TRANSITION_NAMES["sliding-window"], SLIDING_WINDOW_LOG),
  port(
    RATE_LIMIT_TRANSITION_NAMES["sliding-window-counter"],
    SLIDING_WINDOW_COUNTER,
    (n) => ({ window: n[0]!, previous: n[1]!, current: n[2]! }),
  ),
  port(RATE_LIMIT_TRANSITION_NAMES["token-bucket"], TOKEN_BUCKET, (n) => ({ anchorMs: n[0]!, consumed: n[1]! })),
  port(RATE_LIMIT_TRANSITION_NAMES.gcra, GCRA, (n) => ({ tat: n[0]! })),
]);
