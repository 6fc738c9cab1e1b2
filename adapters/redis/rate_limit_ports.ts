/**
 * Lua ports of the distributed rate limits' transitions
 * (`RATE_LIMIT_TRANSITIONS` in the core): each computes, inside Redis and on
 * its `TIME`, exactly what the TypeScript algorithm computes (the same
 * arithmetic in the same order, on doubles), so a `DistributedRateLimiter`
 * over a `RedisStore` makes every decision in one `EVALSHA`.
 *
 * State and replies are written as JSON by hand with `%.17g` (every double
 * exactly), not with `cjson.encode`, which keeps 14 significant digits.
 * A refusal writes nothing, as the transitions do.
 *
 * @module
 */
import { RATE_LIMIT_TRANSITION_NAMES } from "../../src/rate_limit/transition_names.ts";
import { PRELUDE, RedisScript, type RedisTransitionPort } from "./scripts.ts";

/** What every port starts with: decoding, the engine's time, the reply. KEYS: key. ARGV: input JSON, version. */
const HEAD = `${PRELUDE}
local function num(x) return string.format('%.17g', x) end
local function positive(w) if w > 1e-6 then return w end return 1e-6 end
local function reply(allowed, remaining, retry, reset)
  return 'O{"a":' .. (allowed and 'true' or 'false') .. ',"r":' .. num(remaining) .. ',"t":' .. num(retry) .. ',"s":' .. num(reset) .. '}'
end
local key = KEYS[1]
-- The input is our own flat JSON object of numbers: read without cjson (a third of the script's time).
local input = {}
for name, value in string.gmatch(ARGV[1], '"(%a+)":([^,}]+)') do input[name] = tonumber(value) end
local raw = redis.call('HGET', key, 'v')
local state = nil
if raw then
  state = cjson.decode(raw)
  if type(state) ~= 'table' then state = nil end
end
local now = now_ms()
-- The store's format (value, version, expiry on the server's clock) in one HSET, and Redis' own TTL.
local function save(value, reset)
  local ttl = math.max(1, math.ceil(reset))
  redis.call('HSET', key, 'v', value, 'n', ARGV[2], 'x', string.format('%d', now + ttl))
  redis.call('PEXPIRE', key, ttl)
end
`;

const FIXED_WINDOW = `
local limit, windowMs, cost = input.l, input.w, input.c
local window = math.floor(now / windowMs)
local sw, sc = window, 0
if state then sw = state.window; sc = state.count end
local count = 0
if window == sw then count = sc end
if count + cost <= limit then
  local nc = count + cost
  local reset = (window + 1) * windowMs - now
  save('{"window":' .. num(window) .. ',"count":' .. num(nc) .. '}', reset)
  return reply(true, limit - nc, 0, reset)
end
local retry = -1
if cost <= limit then retry = positive((window + 1) * windowMs - now) end
local remaining = limit
if window == sw then remaining = limit - sc end
local reset = 0
if sc ~= 0 and window == sw then reset = (sw + 1) * windowMs - now end
return reply(false, remaining, retry, reset)`;

const TOKEN_BUCKET = `
local rate, perMs, burst, cost = input.r, input.p, input.b, input.c
local anchor, consumed = now, 0
if state then anchor = state.anchorMs; consumed = state.consumed end
local elapsed = now - anchor
local refilled = (elapsed * rate) / perMs
local na, nc, wait = anchor, consumed, 0
if refilled >= consumed then
  if cost > burst then wait = -1 else na = now; nc = cost end
else
  local deficit = consumed + cost - burst
  if deficit <= refilled then nc = consumed + cost
  elseif cost > burst then wait = -1
  else wait = positive((deficit * perMs) / rate - elapsed) end
end
local nref = ((now - na) * rate) / perMs
local remaining = burst
if nref < nc then remaining = burst - nc + nref end
local reset = (nc * perMs) / rate - (now - na)
if reset < 0 then reset = 0 end
if wait ~= 0 then return reply(false, remaining, wait, reset) end
save('{"anchorMs":' .. num(na) .. ',"consumed":' .. num(nc) .. '}', reset)
return reply(true, remaining, 0, reset)`;

const GCRA = `
local rate, perMs, burst, cost = input.r, input.p, input.b, input.c
local interval = perMs / rate
local position = (now * rate) / perMs
local tat = position
if state then tat = state.tat end
local ahead = 0
if tat > position then ahead = tat - position end
local excess = ahead + cost - burst
local ntat, wait = tat, 0
if excess <= (position + burst) * (4 * 2 ^ -52) then
  if ahead > 0 then ntat = tat + cost else ntat = position + cost end
elseif cost > burst then wait = -1
else wait = positive(excess * interval) end
local a = ntat - (now * rate) / perMs
local remaining, reset = burst, 0
if a > 0 then remaining = burst - a; reset = a * interval end
if wait ~= 0 then return reply(false, remaining, wait, reset) end
save('{"tat":' .. num(ntat) .. '}', reset)
return reply(true, remaining, 0, reset)`;

const SLIDING_WINDOW_COUNTER = `
local limit, windowMs, cost = input.l, input.w, input.c
local position = now / windowMs
local window = math.floor(position)
local sw, sp, sc = window, 0, 0
if state then sw = state.window; sp = state.previous; sc = state.current end
local previous, current = 0, 0
if window == sw then previous = sp; current = sc elseif window == sw + 1 then previous = sc end
local share = 1 - (position - window)
local nw, np, nc, wait = sw, sp, sc, 0
if previous * share + current + cost <= limit then
  nw = window; np = previous; nc = current + cost
elseif cost > limit then wait = -1
else
  local dueAt
  if current + cost > limit then dueAt = (window + 1 + 1 - (limit - cost) / current) * windowMs
  else dueAt = (window + 1 - (limit - cost - current) / previous) * windowMs end
  wait = positive(dueAt - now)
end
local estimate = 0
if window == nw then estimate = np * (1 - (position - window)) + nc
elseif window == nw + 1 then estimate = nc * (1 - (position - window)) end
local remaining = limit - estimate
if not (remaining > 0) then remaining = 0 end
local ending = now
if nc > 0 then ending = (nw + 2) * windowMs elseif np > 0 then ending = (nw + 1) * windowMs end
local reset = ending - now
if not (reset > 0) then reset = 0 end
if wait ~= 0 then return reply(false, remaining, wait, reset) end
save('{"window":' .. num(nw) .. ',"previous":' .. num(np) .. ',"current":' .. num(nc) .. '}', reset)
return reply(true, remaining, 0, reset)`;

// The exact log: the live admission times, oldest first. Written back as a
// ring starting at 0 that holds exactly them (the TypeScript step grows it).
const SLIDING_WINDOW_LOG = `
local limit, windowMs, cost = input.l, input.w, input.c
local cutoff = now - windowMs
local live = {}
if state and type(state.times) == 'table' then
  local times, head, size = state.times, state.head, state.size
  local cap = #times
  for i = 0, size - 1 do
    local slot = head + i
    if slot >= cap then slot = slot - cap end
    local t = times[slot + 1]
    if t > cutoff then live[#live + 1] = t end
  end
end
local n = #live
local wait = 0
if n + cost <= limit then
  for i = 1, cost do live[n + i] = now end
elseif cost > limit then wait = -1
else wait = positive(live[n + cost - limit] + windowMs - now) end
local reset = 0
if #live > 0 then reset = live[#live] + windowMs - now end
if not (reset > 0) then reset = 0 end
if wait ~= 0 then return reply(false, limit - n, wait, reset) end
local out = {}
for i = 1, #live do out[i] = num(live[i]) end
save('{"times":[' .. table.concat(out, ',') .. '],"head":0,"size":' .. #live .. '}', reset)
return reply(true, limit - #live, 0, reset)`;

function port(name: string, body: string): RedisTransitionPort {
  return { name, script: new RedisScript(HEAD + body) };
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
