/**
 * The demo's settings, read from environment variables by every entry
 * (process.env, Deno.env, the Worker's `env`), so one test configuration
 * (short breaker timings) works on all of them.
 *
 * - `PORT`                       where Node, Deno and Bun listen (default 3000)
 * - `DEMO_MAX_FAILURES`          failures in a row that open a breaker (default 5)
 * - `DEMO_RESET_TIMEOUT_MS`      how long a breaker stays open (default 5000)
 * - `DEMO_POLL_MS`               the dashboard's refresh period (default 500)
 * - `DEMO_RATE_LIMIT`            requests per client per window (default 20)
 * - `DEMO_RATE_WINDOW_MS`        the rate limit's window (default 1000)
 * - `DEMO_STATE_DIR`             the file store's directory on Node, Deno, Bun (default .demo-state)
 */
import type { GatewayOptions } from "./app.ts";

type Env = Record<string, unknown>;

function numberFrom(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0: got '${String(raw)}'`);
  return value;
}

/** The port to listen on. */
export function portFrom(env: Env): number {
  return numberFrom(env, "PORT", 3000);
}

/** The state directory of the file store. */
export function stateDirFrom(env: Env): string {
  return typeof env.DEMO_STATE_DIR === "string" && env.DEMO_STATE_DIR !== "" ? env.DEMO_STATE_DIR : ".demo-state";
}

/** The gateway options every runtime takes from its environment. */
export function tuningFrom(env: Env): Required<Pick<GatewayOptions, "breaker" | "pollMs" | "clientRate">> {
  return {
    clientRate: {
      limit: Math.max(1, numberFrom(env, "DEMO_RATE_LIMIT", 20)),
      windowMs: Math.max(1, numberFrom(env, "DEMO_RATE_WINDOW_MS", 1_000)),
    },
    breaker: {
      maxFailures: numberFrom(env, "DEMO_MAX_FAILURES", 5),
      resetTimeoutMs: numberFrom(env, "DEMO_RESET_TIMEOUT_MS", 5_000),
    },
    pollMs: numberFrom(env, "DEMO_POLL_MS", 500),
  };
}
