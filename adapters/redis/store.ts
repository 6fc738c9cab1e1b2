/**
 * {@link RedisStore}: the Store contract over a Redis client you already
 * have, every operation one Lua script (atomic, one round trip).
 *
 * @module
 */
import {
  ConfigError,
  type ConfigIssue,
  type Json,
  MAX_UPDATE_ATTEMPTS,
  type RawEntry,
  type RawOptions,
  type RawWrite,
  type RawWriteResult,
  resolveStoreAdapterOptions,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreCapabilities,
  type Transition,
  UNCHANGED,
} from "../../mod.ts";
import type { RedisScriptClient } from "./client.ts";
import {
  BUILTIN_REDIS_PORTS,
  COMMIT,
  DELETE,
  GET,
  READ_FOR_UPDATE,
  type RedisScript,
  type RedisTransitionPort,
  SET,
} from "./scripts.ts";

/** Redis' own limit on a key and on a string value: 512 MiB. */
const REDIS_MAX_BYTES = 512 * 1024 * 1024;
const TARGET = "RedisStore";
const OWN_OPTIONS = ["client", "maxKeyBytes", "maxValueBytes", "ports"] as const;

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions extends StoreAdapterOptions {
  /** The client, wrapped: {@link fromNodeRedis}, {@link fromIoRedis}, {@link fromUpstash}, or your own {@link RedisScriptClient}. */
  client: RedisScriptClient;
  /** Longest key in UTF-8 bytes, prefix included. Default 1024; at most Redis' 512 MiB. */
  maxKeyBytes?: number;
  /** Largest value in UTF-8 bytes of its JSON. Default 1 MiB; at most Redis' 512 MiB. */
  maxValueBytes?: number;
  /**
   * Lua ports of transitions, by name: {@link RedisStore.update} runs a
   * transition whose name is here (or in {@link BUILTIN_REDIS_PORTS}) inside
   * Redis, in one round trip, instead of the compare-and-set loop.
   */
  ports?: readonly RedisTransitionPort[];
}

function isClient(value: unknown): value is RedisScriptClient {
  return typeof value === "object" && value !== null &&
    typeof (value as RedisScriptClient).eval === "function" &&
    typeof (value as RedisScriptClient).evalsha === "function";
}

function checkBytes(issues: ConfigIssue[], field: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > REDIS_MAX_BYTES) {
    issues.push({ field, value, allowed: `an integer from 1 to ${REDIS_MAX_BYTES} (Redis' limit)` });
  }
}

/** Every bad field of `options`, the common ones included, in one ConfigError. */
function checkOptions(options: RedisStoreOptions | undefined): void {
  if (typeof options !== "object" || options === null) return; // the base refuses it with InvalidArgumentError
  const issues: ConfigIssue[] = [];
  if (!isClient(options.client)) {
    issues.push({
      field: "client",
      value: options.client,
      allowed: "a RedisScriptClient (an object with eval and evalsha): wrap yours with fromNodeRedis, fromIoRedis or fromUpstash",
    });
  }
  checkBytes(issues, "maxKeyBytes", options.maxKeyBytes);
  checkBytes(issues, "maxValueBytes", options.maxValueBytes);
  const ports = options.ports;
  if (
    ports !== undefined &&
    !(Array.isArray(ports) && ports.every((p) => typeof p?.name === "string" && typeof p?.script?.run === "function"))
  ) {
    issues.push({ field: "ports", value: ports, allowed: "an array of ports made by redisTransitionPort()" });
  }
  if (issues.length === 0) return;
  let common: readonly ConfigIssue[] = [];
  try {
    resolveStoreAdapterOptions(TARGET, options, OWN_OPTIONS);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    common = error.issues;
  }
  throw new ConfigError(TARGET, [...common, ...issues]);
}

function unexpected(reply: unknown): Error {
  return new Error(`unexpected reply from Redis: ${String(reply).slice(0, 80)}`);
}

/** Reads `N` or `E<version>\n<expiresAt>\n<json>` starting at `at`. */
function parseEntry(reply: string, at: number): RawEntry | undefined {
  if (reply[at] === "N" && reply.length === at + 1) return undefined;
  if (reply[at] !== "E") throw unexpected(reply);
  const end = reply.indexOf("\n", at);
  const end2 = end < 0 ? -1 : reply.indexOf("\n", end + 1);
  if (end2 < 0) throw unexpected(reply);
  const expires = reply.slice(end + 1, end2);
  return {
    version: reply.slice(at + 1, end),
    expiresAt: expires === "" ? undefined : Number(expires),
    value: JSON.parse(reply.slice(end2 + 1)) as Json,
  };
}

function asText(reply: unknown): string {
  if (typeof reply !== "string" || reply === "") throw unexpected(reply);
  return reply;
}

/** `W...` (written), `D1` (deleted) or `C` + entry (lost). */
function parseWrite(reply: unknown, version: string): RawWriteResult {
  const text = asText(reply);
  if (text[0] === "W" || text === "D1") return { ok: true, version };
  if (text[0] === "C") return { ok: false, current: parseEntry(text, 1) };
  throw unexpected(reply);
}

/** The whole TTL Redis is given, in integer ms (`PEXPIRE` takes no fractions). */
function ttlArgument(write: RawWrite): string {
  return write.nativeTtlMs === undefined ? "" : String(Math.max(1, Math.ceil(write.nativeTtlMs)));
}

/**
 * The Store contract over Redis, through the client you already have
 * (node-redis, ioredis, `@upstash/redis`, wrapped by {@link fromNodeRedis},
 * {@link fromIoRedis} or {@link fromUpstash}). It imports no client library.
 *
 * - Every operation is one Lua script: atomic, one round trip (`EVALSHA`;
 *   `EVAL` once more if the server answers `NOSCRIPT`, e.g. after a restart).
 * - A key is a hash: the value's JSON, a version (random per store instance
 *   plus a counter: never reused, even after a delete) and its expiry.
 * - TTLs are Redis' own (`PEXPIRE`): the key is gone on time on the server.
 *   The `expiresAt` you read is computed from the server's `TIME`, so
 *   clients with skewed clocks agree. (The entry that `set` resolves to
 *   carries the client's estimate.)
 * - `update()` reads the key with the server's time (one round trip), runs
 *   the transition here and writes back conditionally (a second): two round
 *   trips, and two more per lost race. A transition with a Lua port
 *   (`ports` option, {@link BUILTIN_REDIS_PORTS}) runs inside Redis instead:
 *   one round trip, never a lost race.
 * - Values and keys are checked against `maxValueBytes`/`maxKeyBytes` before
 *   any I/O (a port's writes are not: they happen inside Redis).
 *
 * @example
 * ```ts
 * import { type RedisScriptClient, RedisStore } from "bulwark/redis";
 * // Construction only; see docs/stores.md for node-redis and ioredis:
 * //   new RedisStore({ client: fromNodeRedis(await createClient().connect()) })
 * const client: RedisScriptClient = { evalsha: () => Promise.resolve("N"), eval: () => Promise.resolve("N") };
 * const store = new RedisStore({ client, prefix: "app:", timeoutMs: 500 });
 * if (store.capabilities.atomic !== true || (await store.get("missing")) !== undefined) throw new Error("unexpected");
 * ```
 */
export class RedisStore extends StoreAdapter {
  /** `"redis"` */
  readonly name: string = "redis";
  /** Atomic, strong; the configured limits; Redis' TTL granularity (1 ms). */
  readonly capabilities: StoreCapabilities;
  readonly #client: RedisScriptClient;
  readonly #ports: ReadonlyMap<string, RedisTransitionPort>;

  /** Throws `ConfigError` naming every bad option. */
  constructor(options: RedisStoreOptions) {
    checkOptions(options);
    super(TARGET, options, OWN_OPTIONS);
    this.#client = options.client;
    this.capabilities = {
      atomic: true,
      consistency: "strong",
      maxKeyBytes: options.maxKeyBytes ?? 1024,
      maxValueBytes: options.maxValueBytes ?? 1024 * 1024,
      minTtlMs: 1,
      minWriteIntervalMs: 0,
      runsTransitions: false,
    };
    const ports = new Map(BUILTIN_REDIS_PORTS);
    for (const port of options.ports ?? []) ports.set(port.name, port);
    this.#ports = ports;
  }

  /** Whether {@link RedisStore.update} runs the transition named `name` inside Redis (one round trip). */
  hasPort(name: string): boolean {
    return this.#ports.has(name);
  }

  #run(script: RedisScript, key: string, args: string[]): Promise<unknown> {
    return script.run(this.#client, [key], args);
  }

  protected async getRaw(key: string): Promise<RawEntry | undefined> {
    return parseEntry(asText(await this.#run(GET, key, [])), 0);
  }

  protected async setRaw(key: string, write: RawWrite): Promise<string> {
    const reply = asText(await this.#run(SET, key, [write.json, write.version, ttlArgument(write)]));
    if (reply[0] !== "W") throw unexpected(reply);
    return write.version;
  }

  protected async deleteRaw(key: string): Promise<boolean> {
    const reply = asText(await this.#run(DELETE, key, []));
    if (reply !== "D0" && reply !== "D1") throw unexpected(reply);
    return reply === "D1";
  }

  protected async insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    return parseWrite(await this.#run(COMMIT, key, ["", "w", write.json, write.version, ttlArgument(write)]), write.version);
  }

  protected async compareAndSetRaw(key: string, expectedVersion: string, write: RawWrite): Promise<RawWriteResult> {
    const args = [expectedVersion, "w", write.json, write.version, ttlArgument(write)];
    return parseWrite(await this.#run(COMMIT, key, args), write.version);
  }

  protected async compareAndDeleteRaw(key: string, expectedVersion: string): Promise<boolean> {
    return parseWrite(await this.#run(COMMIT, key, [expectedVersion, "d", "", "", ""]), "").ok;
  }

  /**
   * A ported transition: one script. Otherwise a compare-and-set loop like
   * the base's, but reading the server's time with the entry, so every
   * client hands its transitions the same clock.
   */
  protected override async updateRaw<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    _options: RawOptions,
    cancelled: AbortSignal,
  ): Promise<O> {
    const port = this.#ports.get(transition.name);
    if (port !== undefined) {
      const reply = asText(await this.#run(port.script, key, [JSON.stringify(input), this.newVersion()]));
      if (reply[0] !== "O") throw unexpected(reply);
      return JSON.parse(reply.slice(1)) as O;
    }
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      if (cancelled.aborted) throw cancelled.reason;
      const read = asText(await this.#run(READ_FOR_UPDATE, key, []));
      const newline = read.indexOf("\n");
      if (read[0] !== "T" || newline < 0) throw unexpected(read);
      const nowMs = Number(read.slice(1, newline));
      const current = parseEntry(read, newline + 1);
      const result = this.applyTransition(transition, current?.value, input, nowMs);
      if (result.next === UNCHANGED) return result.output;
      let won: boolean;
      if (result.next === undefined) {
        won = current === undefined || await this.compareAndDeleteRaw(key, current.version);
      } else {
        const write = this.prepareWrite(result.json!, result.next, result.ttlMs, nowMs);
        const args = [current?.version ?? "", "w", write.json, write.version, ttlArgument(write)];
        won = parseWrite(await this.#run(COMMIT, key, args), write.version).ok;
      }
      if (won) return result.output;
      // Contenders spread out: the first retry is immediate, then a short jittered backoff.
      if (attempt > 0) await this.clock.sleep(Math.random() * Math.min(50, 2 ** Math.min(attempt, 6)), cancelled);
    }
    throw new Error(`update lost ${MAX_UPDATE_ATTEMPTS} compare-and-set races in a row`);
  }
}
