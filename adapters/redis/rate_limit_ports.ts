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
 * not), a refusal writes nothing, and the reply is the decision, the
 * server's `TIME` and the state it decided on, as Redis holds them: no
 * number printed. The client computes the rest of the output (remaining,
 * reset, retry-after) with the TypeScript transition on that state at that
 * time, which is the decision Redis made (checked: a disagreement on the
 * decision fails the call).
 *
 * @module
 */
import type { Json, Transition } from "../../src/store/store.ts";
import { RATE_LIMIT_TRANSITION_NAMES } from "../../src/rate_limit/transition_names.ts";
import { RedisScript, type RedisTransitionPort } from "./scripts.ts";

/**
 * What every port starts with: the engine's time, the state, the helpers.
 * KEYS: key. ARGV: version for a write, then the input's numbers
 * (cost, limit, windowMs / cost, rate, perMs, burst).
 */
const HEAD = `
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local packed = redis.call('GET', key)
-- The store's layout, <version>\\n<expiresAt>\\n<json>: the state is the JSON.
local raw = nil
if packed then raw = string.match(packed, '^[^\\n]*\\n[^\\n]*\\n(.*)$') end
local function num(x)
  if x == math.floor(x) and x > -9007199254740992 and x < 9007199254740992 then return string.format('%d', x) end
  return string.format('%.17g', x)
end
-- A state the port did not write (another shape, not an object): cjson, or a fresh one.
local function decoded()
  local ok, state = pcall(cjson.decode, raw)
  if ok and type(state) == 'table' then return state end
  return nil
end
-- The store's layout (version, expiry on the server's clock, value) and Redis' own TTL, in one SET.
local function save(value, reset)
  local ttl = math.ceil(reset)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', key, ARGV[1] .. '\\n' .. string.format('%d', now + ttl) .. '\\n' .. value, 'PX', ttl)
end
-- S, the decision (1 admitted, 0 refused), TIME's seconds and microseconds, the state decided on.
local function done(allowed)
  return 'S' .. (allowed and '1' or '0') .. t[1] .. ' ' .. t[2] .. '\\n' .. (raw or '')
end
`;

const WINDOW_INPUT = `
local cost, limit, windowMs = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])`;
const BUCKET_INPUT = `
local cost, rate, perMs, burst = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])`;

const FIXED_WINDOW = `${WINDOW_INPUT}
local window = math.floor(now / windowMs)
local count = 0
if raw then
  local sw, sc = string.match(raw, '^{"window":([^,]+),"count":([^,}]+)}$')
  if sw then sw = tonumber(sw); sc = tonumber(sc)
  else
    local state = decoded()
    if state then sw = state.window; sc = state.count end
  end
  if window == sw then count = sc end
end
if not (count + cost <= limit) then return done(false) end
save('{"window":' .. num(window) .. ',"count":' .. num(count + cost) .. '}', (window + 1) * windowMs - now)
return done(true)`;

const TOKEN_BUCKET = `${BUCKET_INPUT}
local anchor, consumed = now, 0
if raw then
  local sa, sc = string.match(raw, '^{"anchorMs":([^,]+),"consumed":([^,}]+)}$')
  if sa then anchor = tonumber(sa); consumed = tonumber(sc)
  else
    local state = decoded()
    if state then anchor = state.anchorMs; consumed = state.consumed end
  end
end
local elapsed = now - anchor
local refilled = (elapsed * rate) / perMs
local na, nc
if refilled >= consumed then
  if cost > burst then return done(false) end
  na = now; nc = cost
elseif consumed + cost - burst <= refilled then
  na = anchor; nc = consumed + cost
else
  return done(false)
end
local reset = (nc * perMs) / rate - (now - na)
if reset < 0 then reset = 0 end
save('{"anchorMs":' .. num(na) .. ',"consumed":' .. num(nc) .. '}', reset)
return done(true)`;

const GCRA = `${BUCKET_INPUT}
local interval = perMs / rate
local position = (now * rate) / perMs
local tat = position
if raw then
  local st = string.match(raw, '^{"tat":([^,}]+)}$')
  if st then tat = tonumber(st)
  else
    local state = decoded()
    if state then tat = state.tat end
  end
end
local ahead = 0
if tat > position then ahead = tat - position end
if not (ahead + cost - burst <= (position + burst) * (4 * 2 ^ -52)) then return done(false) end
local ntat
if ahead > 0 then ntat = tat + cost else ntat = position + cost end
local a = ntat - (now * rate) / perMs
local reset = 0
if a > 0 then reset = a * interval end
save('{"tat":' .. num(ntat) .. '}', reset)
return done(true)`;

const SLIDING_WINDOW_COUNTER = `${WINDOW_INPUT}
local position = now / windowMs
local window = math.floor(position)
local sw, sp, sc = window, 0, 0
if raw then
  local mw, mp, mc = string.match(raw, '^{"window":([^,]+),"previous":([^,]+),"current":([^,}]+)}$')
  if mw then sw = tonumber(mw); sp = tonumber(mp); sc = tonumber(mc)
  else
    local state = decoded()
    if state then sw = state.window; sp = state.previous; sc = state.current end
  end
end
local previous, current = 0, 0
if window == sw then previous = sp; current = sc elseif window == sw + 1 then previous = sc end
local share = 1 - (position - window)
if not (previous * share + current + cost <= limit) then return done(false) end
-- Admitted: the state's window is this one and its current count > 0, so it ends two windows on.
local reset = (window + 2) * windowMs - now
if not (reset > 0) then reset = 0 end
save('{"window":' .. num(window) .. ',"previous":' .. num(previous) .. ',"current":' .. num(current + cost) .. '}', reset)
return done(true)`;

// The exact log: the live admission times, oldest first. Written back as a
// ring starting at 0 that holds exactly them (the TypeScript step grows it).
const SLIDING_WINDOW_LOG = `${WINDOW_INPUT}
local cutoff = now - windowMs
local live = {}
local state = nil
if raw then state = decoded() end
if state and type(state.times) == 'table' then
  local times, head, size = state.times, state.head, state.size
  local cap = #times
  for i = 0, size - 1 do
    local slot = head + i
    if slot >= cap then slot = slot - cap end
    local time = times[slot + 1]
    if time > cutoff then live[#live + 1] = time end
  end
end
local n = #live
if not (n + cost <= limit) then return done(false) end
for i = 1, cost do live[n + i] = now end
local out = {}
for i = 1, #live do out[i] = num(live[i]) end
local reset = live[#live] + windowMs - now
if not (reset > 0) then reset = 0 end
save('{"times":[' .. table.concat(out, ',') .. '],"head":0,"size":' .. #live .. '}', reset)
return done(true)`;

/** Positional ARGV: the version, then the input's numbers (JavaScript prints each double exactly). */
function argumentsOf(input: Json, version: string): string[] {
  const value = input as Record<string, number>;
  return "l" in value
    ? [version, String(value.c), String(value.l), String(value.w)]
    : [version, String(value.c), String(value.r), String(value.p), String(value.b)];
}

/**
 * A port's reply `S<0|1><seconds> <microseconds>\n<state JSON or nothing>`
 * to the transition's output: the TypeScript transition run on the state
 * Redis decided on, at Redis' time. It must decide as Redis did.
 */
function outputOf(reply: string, transition: Transition, input: Json): Json {
  const space = reply.indexOf(" ");
  const newline = reply.indexOf("\n", space);
  const flag = reply[1];
  if (reply[0] !== "S" || (flag !== "0" && flag !== "1") || space < 0 || newline < 0) {
    throw new Error(`unexpected reply from Redis: ${reply.slice(0, 80)}`);
  }
  const nowMs = Number(reply.slice(2, space)) * 1_000 + Math.floor(Number(reply.slice(space + 1, newline)) / 1_000);
  let current: Json | undefined;
  if (newline + 1 < reply.length) {
    try {
      current = JSON.parse(reply.slice(newline + 1)) as Json;
    } catch {
      current = undefined; // Not JSON: the port started fresh too.
    }
  }
  const output = transition.apply(current, input, nowMs).output as { a?: unknown } | null;
  if (typeof output !== "object" || output === null || output.a !== (flag === "1")) {
    throw new Error(`${transition.name}: Redis ${flag === "1" ? "admitted" : "refused"} but the TypeScript transition decided ${JSON.stringify(output)}`);
  }
  return output as Json;
}

function port(name: string, body: string): RedisTransitionPort {
  return { name, script: new RedisScript(HEAD + body), args: argumentsOf, output: outputOf };
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
  port(RATE_LIMIT_TRANSITION_NAMES["fixed-window"], FIXED_WINDOW),
  port(RATE_LIMIT_TRANSITION_NAMES["sliding-window"], SLIDING_WINDOW_LOG),
  port(RATE_LIMIT_TRANSITION_NAMES["sliding-window-counter"], SLIDING_WINDOW_COUNTER),
  port(RATE_LIMIT_TRANSITION_NAMES["token-bucket"], TOKEN_BUCKET),
  port(RATE_LIMIT_TRANSITION_NAMES.gcra, GCRA),
]);
