/**
 * The demo's built-in flaky upstream: two services ("inventory" and
 * "payments") whose error rate and latency change while the gateway runs
 * (`POST /api/upstream`, or the dashboard's sliders). Served by the same app
 * under `/upstream/<service>/...`, so it can be called with curl too.
 */
import { Hono } from "hono";

/** How one service misbehaves. */
export interface UpstreamSettings {
  /** Share of requests answered with 503, from 0 to 1. */
  errorRate: number;
  /** Delay before each answer, in ms. */
  latencyMs: number;
}

export const SERVICES = ["inventory", "payments"] as const;
export type Service = (typeof SERVICES)[number];

export function isService(name: string): name is Service {
  return (SERVICES as readonly string[]).includes(name);
}

/** The settings of every service, changed in place; `served` counts answers by status. */
export class FlakyUpstream {
  readonly settings: Record<Service, UpstreamSettings> = {
    inventory: { errorRate: 0, latencyMs: 20 },
    payments: { errorRate: 0, latencyMs: 40 },
  };
  readonly served: Record<Service, { ok: number; failed: number }> = {
    inventory: { ok: 0, failed: 0 },
    payments: { ok: 0, failed: 0 },
  };

  /** Applies a partial change; answers with an error message for a bad one, changing nothing. */
  change(service: string, input: Partial<Record<keyof UpstreamSettings, unknown>>): string | undefined {
    if (!isService(service)) return `unknown service '${service}': one of ${SERVICES.join(", ")}`;
    const { errorRate, latencyMs } = input;
    if (errorRate !== undefined && !(typeof errorRate === "number" && errorRate >= 0 && errorRate <= 1)) {
      return `errorRate must be a number from 0 to 1: got ${JSON.stringify(errorRate)}`;
    }
    if (latencyMs !== undefined && !(typeof latencyMs === "number" && latencyMs >= 0 && latencyMs <= 30_000)) {
      return `latencyMs must be a number of ms from 0 to 30000: got ${JSON.stringify(latencyMs)}`;
    }
    if (errorRate !== undefined) this.settings[service].errorRate = errorRate;
    if (latencyMs !== undefined) this.settings[service].latencyMs = latencyMs;
    return undefined;
  }

  /** The upstream's routes: `GET|POST /upstream/<service>/*`. */
  routes(): Hono {
    const app = new Hono();
    app.all("/:service/*", async (c) => {
      const service = c.req.param("service");
      if (!isService(service)) return c.json({ error: `no service '${service}'` }, 404);
      const { errorRate, latencyMs } = this.settings[service];
      if (latencyMs > 0) await delay(latencyMs, c.req.raw.signal);
      if (Math.random() < errorRate) {
        this.served[service].failed++;
        return c.json({ error: `${service} is failing (error rate ${errorRate})` }, 503);
      }
      this.served[service].ok++;
      const body = c.req.method === "POST" ? await c.req.text() : undefined;
      return c.json({ service, path: c.req.path, ok: true, ...(body ? { received: body.length } : {}) });
    });
    return app;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller gave up: nothing to answer). */
function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
