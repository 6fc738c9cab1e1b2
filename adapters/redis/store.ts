/**
 * {@link RedisStore}: the Store contract over a Redis client you already
 * have, every operation one Lua script (atomic, one round trip).
 *
 * @module
 */
import { optional, satisfying } from "../../src/validation.ts";
import {
  type Json,
  MAX_UPDATE_ATTEMPTS,
  type RawEntry,
  type RawOptions,
  type RawWrite,
  type RawWriteResult,
  type RawWritten,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreAdapterOptionShape,
  type StoreCapabilities,
  type Transition,
  UNCHANGED,
} from "../../mod.ts";
import type { RedisScriptClient } from "./client.ts";
import { BUILTIN_REDIS_PORTS } from "./ports.ts";
import {
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

function isPortList(value: unknown): value is readonly RedisTransitionPort[] {
  return Array.isArray(value) &&
    value.every((port) => typeof port?.name === "string" && typeof port?.script?.run === "function");
}

function isByteCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= REDIS_MAX_BYTES;
}

let ownOptions: StoreAdapterOptionShape | undefined;

/** Built on first construction, never at import. */
function redisOptions(): StoreAdapterOptionShape {
  const bytes = `an integer from 1 to ${REDIS_MAX_BYTES} (Redis' limit)`;
  return (ownOptions ??= {
    client: satisfying<RedisScriptClient>(
      isClient,
      "a RedisScriptClient (an object with eval and evalsha): wrap yours with fromNodeRedis, fromIoRedis or fromUpstash",
    ),
    maxKeyBytes: optional(satisfying<number>(isByteCount, bytes)),
    maxValueBytes: optional(satisfying<number>(isByteCount, bytes)),
    ports: optional(satisfying<readonly RedisTransitionPort[]>(isPortList, "an array of ports made by redisTransitionPort()")),
  });
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

/** `W<version>\n<expiresAt>`: the version and the expiry the server computed. */
function parseWritten(text: string): RawWritten {
  const newline = text.indexOf("\n");
  if (text[0] !== "W" || newline < 0) throw unexpected(text);
  const expires = text.slice(newline + 1);
  return { version: text.slice(1, newline), expiresAt: expires === "" ? undefined : Number(expires) };
}

/** `W...` (written), `D1` (deleted) or `C` + entry (lost). */
function parseWrite(reply: unknown): RawWriteResult {
  const text = asText(reply);
  if (text[0] === "W") return { ok: true, ...parseWritten(text) };
  if (text === "D1") return { ok: true, version: "" };
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
 * - A key is one string: a version (random per store instance plus a
 *   counter: never reused, even after a delete), its expiry and the value's
 *   JSON, read with one `GET` and written with one `SET`.
 * - TTLs are Redis' own (`SET ... PX`): the key is gone on time on the server.
 *   Every `expiresAt` (read or written) is computed from the server's
 *   `TIME`, so clients with skewed clocks agree.
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
    super("RedisStore", options, redisOptions());
    const own = this.adapterOptions as Pick<RedisStoreOptions, "client" | "maxKeyBytes" | "maxValueBytes" | "ports">;
    this.#client = own.client;
    this.capabilities = {
      atomic: true,
      consistency: "strong",
      maxKeyBytes: own.maxKeyBytes ?? 1024,
      maxValueBytes: own.maxValueBytes ?? 1024 * 1024,
      minTtlMs: 1,
      minWriteIntervalMs: 0,
      runsTransitions: false,
    };
    const ports = new Map(BUILTIN_REDIS_PORTS);
    for (const port of own.ports ?? []) ports.set(port.name, port);
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

  protected async setRaw(key: string, write: RawWrite): Promise<RawWritten> {
    return parseWritten(asText(await this.#run(SET, key, [write.json, write.version, ttlArgument(write)])));
  }

  protected async deleteRaw(key: string): Promise<boolean> {
    const reply = asText(await this.#run(DELETE, key, []));
    if (reply !== "D0" && reply !== "D1") throw unexpected(reply);
    return reply === "D1";
  }

  protected async insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    return parseWrite(await this.#run(COMMIT, key, ["", "w", write.json, write.version, ttlArgument(write)]));
  }

  protected async compareAndSetRaw(key: string, expectedVersion: string, write: RawWrite): Promise<RawWriteResult> {
    const args = [expectedVersion, "w", write.json, write.version, ttlArgument(write)];
    return parseWrite(await this.#run(COMMIT, key, args));
  }

  protected async compareAndDeleteRaw(key: string, expectedVersion: string): Promise<boolean> {
    return parseWrite(await this.#run(COMMIT, key, [expectedVersion, "d", "", "", ""])).ok;
  }

  /** A transition with a Lua port runs in Redis: one call, no race to lose (no turn to take, nothing to cancel). */
  protected override runsInOneCall(transition: Transition): boolean {
    return this.#ports.has(transition.name);
  }

  /**
   * A ported transition: one script. Otherwise a compare-and-set loop like
   * the base's, but reading the server's time with the entry, so every
   * client hands its transitions the same clock.
   */
  protected override updateRaw<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    options: RawOptions,
    cancelled: AbortSignal,
  ): Promise<O> {
    const port = this.#ports.get(transition.name);
    if (port === undefined) return this.#updateLoop(key, transition, input, options, cancelled);
    const version = this.newVersion();
    const args = port.args === undefined ? [JSON.stringify(input), version] : port.args(input, version);
    return port.script.run(this.#client, [key], args, (reply) => {
      const text = asText(reply);
      if (port.output !== undefined) return port.output(text, transition as unknown as Transition, input) as O;
      if (text[0] !== "O") throw unexpected(text);
      return JSON.parse(text.slice(1)) as O;
    });
  }

  async #updateLoop<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
    _options: RawOptions,
    cancelled: AbortSignal,
  ): Promise<O> {
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
        won = parseWrite(await this.#run(COMMIT, key, args)).ok;
      }
      if (won) return result.output;
      // Contenders spread out: the first retry is immediate, then a short jittered backoff.
      if (attempt > 0) await this.clock.sleep(Math.random() * Math.min(50, 2 ** Math.min(attempt, 6)), cancelled);
    }
    throw new Error(`update lost ${MAX_UPDATE_ATTEMPTS} compare-and-set races in a row`);
  }
}
