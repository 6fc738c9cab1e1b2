/**
 * What a heartbeat writes, and how a reader judges it.
 *
 * @module
 */
import type { Json, Store } from "../store/store.ts";

/**
 * One beat, as stored: the seeds' `HeartbeatState`.
 *
 * @example
 * ```ts
 * import { parseHeartbeatState } from "bulwark";
 * const state = parseHeartbeatState({ timestamp: "2026-01-12T10:00:00.000Z", pid: 1234, hostname: "myhost", metadata: {} });
 * if (typeof state === "string" || state.pid !== 1234) throw new Error("should parse");
 * ```
 */
export interface HeartbeatState {
  /** When the beat was written: ISO 8601, UTC (`"2026-01-12T10:00:00.000Z"`). */
  readonly timestamp: string;
  /** The writer's process id, or `null` where the runtime has none (browsers, Workers). */
  readonly pid: number | null;
  /** The writer's host name, or `null` where the runtime has none. */
  readonly hostname: string | null;
  /** The heartbeat's `metadata` option, as given. */
  readonly metadata: { readonly [key: string]: Json };
}

/** What {@link Heartbeat.check} concluded. */
export interface HeartbeatCheck {
  /** True when a readable beat is at most `maxAgeMs` old. */
  readonly alive: boolean;
  /** One line saying why, e.g. `"alive: last beat 2.0 s ago (max 30.0 s)"`. */
  readonly reason: string;
  /** The beat read, if one was readable. */
  readonly state?: HeartbeatState;
  /** Its age in ms (by `timestamp`), if one was readable. */
  readonly ageMs?: number;
}

function isJsonObject(value: unknown): value is { readonly [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `value` as a {@link HeartbeatState}, or a string saying what is wrong with
 * it. Never throws.
 *
 * @example
 * ```ts
 * import { parseHeartbeatState } from "bulwark";
 * const problem = parseHeartbeatState("garbage");
 * if (typeof problem !== "string") throw new Error("should refuse");
 * ```
 */
export function parseHeartbeatState(value: unknown): HeartbeatState | string {
  if (!isJsonObject(value)) return "not a heartbeat state (expected an object)";
  const { timestamp, pid, hostname, metadata } = value as Record<string, unknown>;
  if (typeof timestamp !== "string" || Number.isNaN(Date.parse(timestamp))) {
    return `not a heartbeat state ('timestamp' must be an ISO 8601 date: current value is ${JSON.stringify(timestamp)})`;
  }
  if (pid !== null && pid !== undefined && (typeof pid !== "number" || !Number.isInteger(pid))) {
    return `not a heartbeat state ('pid' must be an integer or null)`;
  }
  if (hostname !== null && hostname !== undefined && typeof hostname !== "string") {
    return `not a heartbeat state ('hostname' must be a string or null)`;
  }
  if (metadata !== undefined && !isJsonObject(metadata)) return `not a heartbeat state ('metadata' must be an object)`;
  return {
    timestamp,
    pid: (pid as number | null | undefined) ?? null,
    hostname: (hostname as string | null | undefined) ?? null,
    metadata: (metadata as HeartbeatState["metadata"] | undefined) ?? {},
  };
}

function seconds(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Reads `key` from `store` and judges it against `maxAgeMs` at wall time `nowMs`. Never rejects. */
export async function checkHeartbeat(store: Store, maxAgeMs: number, nowMs: number, key: string): Promise<HeartbeatCheck> {
  let entry;
  try {
    entry = await store.get(key);
  } catch (error) {
    return { alive: false, reason: `unreadable heartbeat: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (entry === undefined) return { alive: false, reason: `no heartbeat found (key '${key}' in store '${store.name}')` };
  const state = parseHeartbeatState(entry.value);
  if (typeof state === "string") return { alive: false, reason: `unreadable heartbeat: ${state}` };
  const ageMs = Math.max(0, nowMs - Date.parse(state.timestamp));
  const alive = ageMs <= maxAgeMs;
  return {
    alive,
    reason: `${alive ? "alive" : "stale"}: last beat ${seconds(ageMs)} ago at ${state.timestamp} (max ${seconds(maxAgeMs)})` +
      (state.pid === null ? "" : `, pid ${state.pid}`) + (state.hostname === null ? "" : ` on ${state.hostname}`),
    state,
    ageMs,
  };
}
