/**
 * The registry of Lua ports every {@link RedisStore} knows.
 *
 * @module
 */
import { RATE_LIMIT_PORTS } from "./rate_limit_ports.ts";
import type { RedisTransitionPort } from "./scripts.ts";

/**
 * The ports every {@link RedisStore} knows, by transition name: the
 * distributed rate limits' ({@link RATE_LIMIT_PORTS}). A store's own
 * `ports` option adds to (and overrides) these.
 *
 * @example
 * ```ts
 * import { BUILTIN_REDIS_PORTS } from "bulwark/redis";
 * if (!BUILTIN_REDIS_PORTS.has("bulwark.rate-limit.token-bucket")) throw new Error("the token bucket runs in Redis");
 * ```
 */
export const BUILTIN_REDIS_PORTS: ReadonlyMap<string, RedisTransitionPort> = /* @__PURE__ */ new Map(
  RATE_LIMIT_PORTS.map((port) => [port.name, port]),
);
