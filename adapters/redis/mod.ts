/**
 * `bulwark/redis`: {@link RedisStore}, the Store contract over the Redis
 * client you already have (node-redis, ioredis, `@upstash/redis`), every
 * operation one Lua script; plus the registry of Lua ports of transitions.
 * Imports no client library and nothing Node-specific.
 *
 * @module
 */
export * from "./client.ts";
export { BUILTIN_REDIS_PORTS } from "./ports.ts";
export { RATE_LIMIT_PORTS } from "./rate_limit_ports.ts";
export { RedisScript, redisTransitionPort, type RedisTransitionPort } from "./scripts.ts";
export * from "./store.ts";
