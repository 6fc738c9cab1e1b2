import { Bulkhead } from "../../src/bulkhead.ts";
import type { Clock } from "../../src/clock.ts";
import { BulkheadRejectedError, ConfigError, type ConfigIssue } from "../../src/errors.ts";
import { badOptions, throwIf } from "../../src/internal/arguments.ts";
import { clock as clockSchema, durationMs, integer, lazy, satisfying, validate, optional, strictObject } from "../../src/validation.ts";
import { type HonoMiddleware, problem } from "./context.ts";

/** Options of {@link bulkhead}: a `bulkhead`, or the limits of a new one. */
export interface HonoBulkheadOptions {
  /** The bulkhead to use (to share it between routes, or to read its occupancy). Default: a new one from the options below. */
  bulkhead?: Bulkhead;
  /** Requests handled at once, `>= 1`. Default `10` (or `configure({ bulkhead })`'s). */
  maxConcurrent?: number;
  /** Requests waiting for a slot, `>= 0`. Default `0`: refused at once when full. */
  maxQueue?: number;
  /** A request waiting this long for a slot is refused, in ms. Default `0`: it waits as long as it takes. */
  queueTimeoutMs?: number;
  /** Time source of `queueTimeoutMs`. Default `systemClock`. */
  clock?: Clock;
}

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    bulkhead: optional(satisfying<Bulkhead>((value) => value instanceof Bulkhead, "a Bulkhead")),
    maxConcurrent: optional(integer(1)),
    maxQueue: optional(integer(0)),
    queueTimeoutMs: optional(durationMs(0)),
    clock: optional(clockSchema()),
  })
);

/**
 * Hono middleware bounding how many requests run at once: up to
 * `maxConcurrent` handlers run, up to `maxQueue` more wait in FIFO order for
 * a slot (at most `queueTimeoutMs`), and any other is refused with 503 and
 * an RFC 9457 problem document, without running the handler. No
 * `Retry-After`: when a slot frees depends on the requests running, which
 * nothing here can foresee. A queued request whose client goes away
 * (`c.req.raw.signal` aborts) leaves the queue.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bulkhead } from "bulwark/hono";
 *
 * let release = () => {};
 * const app = new Hono();
 * app.use("/export", bulkhead({ maxConcurrent: 1 }));
 * app.get("/export", async (c) => {
 *   await new Promise<void>((resolve) => (release = resolve));
 *   return c.text("exported");
 * });
 * const first = app.request("/export");
 * const second = await app.request("/export");
 * if (second.status !== 503) throw new Error("one at a time");
 * release();
 * if ((await first).status !== 200) throw new Error("the first one runs");
 * ```
 */
export function bulkhead(options: HonoBulkheadOptions = {}): HonoMiddleware {
  throwIf(badOptions("bulkhead", options));
  const resolved = validate("bulkhead", optionsSchema(), options) as HonoBulkheadOptions;
  const given = resolved.bulkhead;
  if (given !== undefined) {
    const clashes: ConfigIssue[] = (["maxConcurrent", "maxQueue", "queueTimeoutMs", "clock"] as const)
      .filter((field) => resolved[field] !== undefined)
      .map((field) => ({ field, value: resolved[field], allowed: "absent beside 'bulkhead' (it is the bulkhead's own option)" }));
    if (clashes.length > 0) throw new ConfigError("bulkhead", clashes);
  }
  const { bulkhead: _, ...limits } = resolved;
  const slots = given ?? new Bulkhead(limits);

  return async function bulkhead(c, next) {
    let ran = false;
    try {
      await slots.execute(() => {
        ran = true;
        return next();
      }, c.req.raw.signal);
    } catch (error) {
      if (!(error instanceof BulkheadRejectedError) || ran) throw error;
      const { maxConcurrent, maxQueue } = slots.options;
      return problem("bulkheadFull", `${maxConcurrent} requests running and ${maxQueue} waiting`);
    }
  };
}
