import type { Clock } from "../../src/clock.ts";
import { ConfigError, type ConfigIssue, InvalidArgumentError } from "../../src/errors.ts";
import { badOptions, throwIf } from "../../src/internal/arguments.ts";
import type { AlgorithmName, RateLimitDecision } from "../../src/rate_limit/algorithm.ts";
import { type RateLimitHeaderOptions, rateLimitHeaders } from "../../src/rate_limit/headers.ts";
import type { AlgorithmOptions } from "../../src/rate_limit/create.ts";
import { DistributedRateLimiter } from "../../src/rate_limit/distributed.ts";
import { KeyedRateLimiter } from "../../src/rate_limit/keyed.ts";
import type { Store } from "../../src/store/store.ts";
import { arrayOf, clock as clockSchema, durationMs, func, integer, lazy, oneOf, satisfying, validate, optional, strictObject } from "../../src/validation.ts";
import { clientAddressResolver, type TrustProxy } from "./client_address.ts";
import { type AnyHonoContext, type HonoContext, type HonoMiddleware, problem, retryAfterSeconds } from "./context.ts";

/** An in-process limiter that decides at once, per key: a {@link KeyedRateLimiter} is one. */
export interface KeyedLimiter {
  consume(key: string, cost?: number): RateLimitDecision;
}

/** A limiter that decides asynchronously, per key (one shared through a store): a `DistributedRateLimiter` is one. */
export interface AsyncKeyedLimiter {
  limit(key: string, options?: { cost?: number }): Promise<RateLimitDecision>;
}

/** Options of {@link rateLimit}. */
export interface HonoRateLimitOptions<C extends HonoContext = AnyHonoContext> {
  /**
   * The limiter deciding: a {@link KeyedRateLimiter} (its `consume`), or any
   * object with `limit(key, { cost })` resolving to a decision. Default: a
   * {@link KeyedRateLimiter} built from `algorithm`, `limit` and `windowMs`
   * (which are refused beside a `limiter`), or, with `store`, a
   * {@link DistributedRateLimiter} built from them.
   */
  limiter?: KeyedLimiter | AsyncKeyedLimiter;
  /**
   * Share the limit with every instance through this atomic {@link Store}
   * (a Durable Object, Redis, PostgreSQL, D1, Deno KV): the middleware
   * builds a {@link DistributedRateLimiter} from `algorithm`, `limit`,
   * `windowMs` and `clock`, with its defaults (a store that fails or is
   * late is answered by an in-process limiter). Not beside `limiter`; for
   * its other options build one and pass it as `limiter`.
   */
  store?: Store;
  /** `"token-bucket"` (default), `"gcra"`, `"sliding-window"` or `"fixed-window"`. */
  algorithm?: AlgorithmName;
  /** Requests (cost units) per window and key, an integer >= 1. Default `60`. */
  limit?: number;
  /** The window, in ms: a full `limit` is available again this long after it was used up. Default `60_000`. */
  windowMs?: number;
  /**
   * Whose limit a request counts against. Default: the client's address
   * (see `trustProxy`), an IPv6 address by its /64 prefix (one subscriber's
   * usual allocation); requests whose address is unknown share the key
   * `"unknown"`.
   */
  key?: (c: C) => string | Promise<string>;
  /** Requests for which it returns true pass uncounted, without header fields. Default: none. */
  skip?: (c: C) => boolean | Promise<boolean>;
  /** Units a request takes: a number > 0 or a function of the request. Default `1`. */
  cost?: number | ((c: C) => number | Promise<number>);
  /** Which proxies may name the client in `X-Forwarded-For` (see {@link TrustProxy}). Default: none, the header is ignored. */
  trustProxy?: TrustProxy;
  /** The peer's address, where {@link remoteAddress} does not know the runtime. */
  remoteAddress?: (c: C) => string | undefined;
  /** The policy's name in the `RateLimit` and `RateLimit-Policy` fields, printable ASCII. Default `"default"`. */
  policy?: string;
  /** Time source of the built limiter. Default `systemClock`. */
  clock?: Clock;
}

function isLimiter(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    (typeof (value as KeyedLimiter).consume === "function" || typeof (value as AsyncKeyedLimiter).limit === "function");
}

function isTrustProxy(value: unknown): boolean {
  if (typeof value === "function") return true;
  if (typeof value === "number") return Number.isInteger(value) && value >= 1;
  return Array.isArray(value) && value.every((item) => typeof item === "string" && item.length > 0);
}

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    limiter: optional(satisfying<KeyedLimiter>(isLimiter, "a KeyedRateLimiter, or an object with consume(key, cost) or limit(key, { cost })")),
    store: optional(satisfying<Store>(
      (value) => typeof value === "object" && value !== null && typeof (value as Store).update === "function",
      "an atomic Store (DurableObjectStore, RedisStore, PostgresStore, D1Store, DenoKvStore, MemoryStore, ...)",
    )),
    algorithm: optional(oneOf(["token-bucket", "gcra", "sliding-window", "fixed-window"])),
    limit: optional(integer(1)),
    windowMs: optional(durationMs(0, true)),
    key: optional(func<(c: never) => string>()),
    skip: optional(func<(c: never) => boolean>()),
    cost: optional(satisfying<number | ((c: never) => number)>(
      (value) => typeof value === "function" || (typeof value === "number" && Number.isFinite(value) && value > 0),
      "a finite number > 0 or a function of the request",
    )),
    trustProxy: optional(satisfying<TrustProxy>(isTrustProxy, "an integer >= 1 (proxies in front), an array of proxy addresses, or a function")),
    remoteAddress: optional(func<(c: never) => string | undefined>()),
    policy: optional(satisfying<string>(
      (value) => typeof value === "string" && value.length > 0 && /^[\x20-\x7e]*$/.test(value),
      "a non-empty printable-ASCII string",
    )),
    clock: optional(clockSchema()),
  })
);

/** Requests whose client address is unknown count against this one key. */
const UNKNOWN_CLIENT = "unknown";

/** An IPv6 address as its /64 prefix (`2001:db8:0:1::/64`); other addresses as they are. */
function addressKey(address: string): string {
  if (!address.includes(":")) return address;
  const bare = address.replace(/%.*$/, "");
  const [head = "", tail] = bare.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded dotted IPv4 address fills two groups.
  const width = (groups: string[]) => groups.reduce((sum, group) => sum + (group.includes(".") ? 2 : 1), 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - width(left) - width(right))).fill("0"), ...right];
  const prefix = groups.slice(0, 4).map((group) => (group.includes(".") ? group : Number.parseInt(group, 16).toString(16)));
  return `${prefix.join(":")}::/64`;
}

/**
 * Hono middleware limiting the rate of requests per client (or per
 * `key(c)`), answering every request it counts with the IETF `RateLimit`
 * and `RateLimit-Policy` header fields (draft-ietf-httpapi-ratelimit-headers:
 * `RateLimit: "default";r=59;t=1`), and refusing a request over the limit
 * with 429, `Retry-After` (whole seconds, rounded up; omitted when the cost
 * can never be admitted) and an RFC 9457 problem document.
 *
 * The client is the address the runtime reports (see {@link remoteAddress});
 * `X-Forwarded-For` is read only when `trustProxy` says which proxies may
 * write it. Where no address is known (`app.request()`, a runtime not
 * recognised), all requests share one key: pass `key` or `remoteAddress`.
 * A limiter that rejects (its store down) makes the request fail, answered
 * by Hono's error handler.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { rateLimit } from "bulwark/hono";
 *
 * const app = new Hono();
 * app.use("/api/*", rateLimit({ limit: 2, windowMs: 60_000, key: (c) => c.req.header("x-api-key") ?? "anonymous" }));
 * app.get("/api/items", (c) => c.json([]));
 *
 * const call = () => app.request("/api/items", { headers: { "x-api-key": "k1" } });
 * const first = await call();
 * if (first.headers.get("RateLimit") !== '"default";r=1;t=30') throw new Error(String(first.headers.get("RateLimit")));
 * await call();
 * const third = await call();
 * if (third.status !== 429 || third.headers.get("Retry-After") !== "30") throw new Error("the third is refused");
 * ```
 */
export function rateLimit<C extends HonoContext = AnyHonoContext>(
  options: HonoRateLimitOptions<C> = {},
): HonoMiddleware<C> {
  throwIf(badOptions("rateLimit", options));
  const resolved = validate("rateLimit", optionsSchema(), options) as HonoRateLimitOptions<C>;
  if (resolved.limiter !== undefined) {
    const clashes: ConfigIssue[] = (["algorithm", "limit", "windowMs", "clock", "store"] as const)
      .filter((field) => resolved[field] !== undefined)
      .map((field) => ({ field, value: resolved[field], allowed: "absent beside 'limiter' (it is the limiter's own option)" }));
    if (clashes.length > 0) throw new ConfigError("rateLimit", clashes);
  }
  const limiter = resolved.limiter ?? (resolved.store === undefined ? buildLimiter(resolved) : buildShared(resolved, resolved.store));
  const consume = typeof (limiter as KeyedLimiter).consume === "function" ? (limiter as KeyedLimiter) : undefined;
  const headerOptions: RateLimitHeaderOptions = resolved.policy === undefined ? {} : { policy: resolved.policy };
  const address = clientAddressResolver(resolved as { trustProxy?: TrustProxy; remoteAddress?: (c: HonoContext) => string | undefined });
  const keyOf = resolved.key ?? ((c: C) => {
    const client = address(c);
    return client === undefined ? UNKNOWN_CLIENT : addressKey(client);
  });
  const { skip, cost = 1 } = resolved;

  return async function rateLimit(c, next) {
    if (skip !== undefined && await skip(c)) return await next();
    const key = await keyOf(c);
    if (typeof key !== "string") throw new InvalidArgumentError("rateLimit", "key(c)", key, "a string");
    const units = typeof cost === "number" ? cost : await cost(c);
    // A shared limiter refuses a cost over its limit as a misuse, as a
    // KeyedRateLimiter does (decideNow): answered here, the store not asked.
    const never = consume === undefined && limiter instanceof DistributedRateLimiter && units > limiter.algorithm.limit;
    const decision = never
      ? refusedForGood((limiter as DistributedRateLimiter).algorithm, units)
      : consume !== undefined
      ? decideNow(consume, key, units)
      : await (limiter as AsyncKeyedLimiter).limit(key, { cost: units });
    const fields = rateLimitHeaders(decision, headerOptions);
    // The units left are not known without a round trip: the policy only.
    if (never) delete (fields as Partial<typeof fields>).RateLimit;
    if (!decision.allowed) {
      const wait = retryAfterSeconds(decision.retryAfterMs);
      return problem(
        "rateLimited",
        wait === undefined ? `A cost of ${units} is over the limit of ${decision.limit}` : `Rate limit exceeded; retry in ${wait} s`,
        fields as unknown as Record<string, string>,
      );
    }
    await next();
    // Appended: the fields are lists, one item per policy, when limits are stacked.
    c.header("RateLimit-Policy", fields["RateLimit-Policy"], { append: true });
    c.header("RateLimit", fields.RateLimit, { append: true });
  };
}

/**
 * The limiter's decision. A {@link KeyedRateLimiter} refuses a cost over its
 * limit as a misuse; a request is answered instead, 429 without
 * `Retry-After`, as it can never be admitted.
 */
function decideNow(limiter: KeyedLimiter, key: string, cost: number): RateLimitDecision {
  if (!(limiter instanceof KeyedRateLimiter) || typeof cost !== "number" || !(cost > limiter.algorithm.limit)) {
    return limiter.consume(key, cost);
  }
  const algorithm = limiter.algorithm;
  return refusedForGood(algorithm, cost, limiter.available(key), limiter.timeUntilAvailable(key, algorithm.limit));
}

/** A refusal of a cost over the limit: it can never be admitted, so no `retryAfterMs`. */
function refusedForGood(
  { limit, windowMs }: { readonly limit: number; readonly windowMs: number },
  cost: number,
  remaining = 0,
  resetMs = 0,
): RateLimitDecision {
  return { allowed: false, cost, limit, windowMs, remaining, retryAfterMs: Infinity, resetMs };
}

/**
 * The limiter's algorithm options from the middleware's three: `limit` per
 * `windowMs` is a bucket of `limit` refilled over `windowMs`, or a window
 * of `limit` requests.
 */
function algorithmOptions(options: HonoRateLimitOptions<never>): AlgorithmOptions {
  const algorithm = options.algorithm ?? "token-bucket";
  const limit = options.limit ?? 60;
  const windowMs = options.windowMs ?? 60_000;
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  return algorithm === "token-bucket" || algorithm === "gcra"
    ? { algorithm, rate: limit, perMs: windowMs, burst: limit, ...clock }
    : { algorithm, limit, windowMs, ...clock };
}

/**
 * The {@link DistributedRateLimiter} of `store`, with the same algorithm
 * options as {@link buildLimiter}'s. Named after the policy and the limit
 * (its keys are `rl:<name>:<client>`), so that every instance of one
 * middleware shares a count while stacked limits of other settings keep
 * their own, as in memory: under the default name, a login limit of 5 and a
 * global one of 100 would drain one bucket.
 */
function buildShared(options: HonoRateLimitOptions<never>, store: Store): DistributedRateLimiter {
  const algorithm = algorithmOptions(options);
  const name = `${options.policy ?? "default"}:${algorithm.algorithm}:${options.limit ?? 60}:${options.windowMs ?? 60_000}`;
  return new DistributedRateLimiter({ store, name, ...algorithm });
}

function buildLimiter(options: HonoRateLimitOptions<never>): KeyedRateLimiter {
  return new KeyedRateLimiter(algorithmOptions(options));
}
