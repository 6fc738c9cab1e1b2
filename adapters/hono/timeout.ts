import type { Clock } from "../../src/clock.ts";
import { TimeoutError } from "../../src/errors.ts";
import { badOptions, throwIf } from "../../src/internal/arguments.ts";
import type { ExecutionContext } from "../../src/policy.ts";
import { TimeoutPolicy } from "../../src/timeout.ts";
import { clock as clockSchema, durationMs, lazy, validate, optional, strictObject } from "../../src/validation.ts";
import { type HonoContext, type HonoMiddleware, problem } from "./context.ts";

/** Options of {@link timeout}. */
export interface HonoTimeoutOptions {
  /** The deadline of the handler (and the middleware after this one), in ms, `> 0`. Default `30_000` (or `configure({ timeout })`'s). */
  timeoutMs?: number;
  /** Time source. Default `systemClock`. */
  clock?: Clock;
}

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    timeoutMs: optional(durationMs(0, true)),
    clock: optional(clockSchema()),
  })
);

/** Each request's execution context under a `timeout` middleware: its signal, built on first read. */
const contexts = new WeakMap<object, ExecutionContext>();

/**
 * The `AbortSignal` of the request `c`'s handler: under {@link timeout}, one
 * that aborts with a {@link TimeoutError} at the deadline, or with the
 * request's own reason when the client goes away; elsewhere the request's
 * own signal (`c.req.raw.signal`). Pass it on to `fetch` and anything else
 * that takes one, so work for an answer nobody waits for stops. It is built
 * on first call: a handler that never asks costs no `AbortController`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { signalOf, timeout } from "bulwark/hono";
 *
 * const app = new Hono();
 * app.use("/report", timeout({ timeoutMs: 50 }));
 * let aborted: unknown;
 * app.get("/report", async (c) => {
 *   const signal = signalOf(c);
 *   await new Promise((resolve) => signal.addEventListener("abort", resolve));
 *   aborted = signal.reason;
 *   return c.text("too late");
 * });
 * const response = await app.request("/report");
 * if (response.status !== 504) throw new Error("the deadline answers 504");
 * if ((aborted as Error).name !== "TimeoutError") throw new Error("and aborts the handler's signal");
 * ```
 */
export function signalOf(c: HonoContext): AbortSignal {
  return contexts.get(c)?.signal ?? c.req.raw.signal;
}

/** Microtask turns a timed-out handler is given to settle before the 504 replaces its answer. */
const SETTLE_TURNS = 64;

/** Resolves once `promise` settles or {@link SETTLE_TURNS} turns have passed; never rejects. */
async function settledSoon(promise: Promise<unknown>): Promise<void> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  for (let turn = 0; turn < SETTLE_TURNS && !settled; turn++) await undefined;
}

/**
 * Hono middleware answering 504 (an RFC 9457 problem document) when the
 * handler has not answered within `timeoutMs`, and aborting the handler's
 * signal ({@link signalOf}) with a {@link TimeoutError} then. The answer
 * does not wait for a handler that ignores its signal (it runs on,
 * unobserved, and its late answer is dropped); the deadline's timer is
 * cleared as soon as the handler answers, and is not even armed for one
 * that answers within a few microtask turns.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { ManualClock } from "bulwark/testing";
 * import { timeout } from "bulwark/hono";
 *
 * const clock = new ManualClock();
 * const app = new Hono();
 * app.use("*", timeout({ timeoutMs: 5_000, clock }));
 * app.get("/slow", async (c) => {
 *   await clock.sleep(10_000);
 *   return c.text("done");
 * });
 * const answer = app.request("/slow");
 * await clock.advance(5_000);
 * if ((await answer).status !== 504) throw new Error("answered at the deadline");
 * ```
 */
export function timeout(options: HonoTimeoutOptions = {}): HonoMiddleware {
  throwIf(badOptions("timeout", options));
  validate("timeout", optionsSchema(), options);
  const policy = new TimeoutPolicy({ ...options, strategy: "aggressive" });
  const { timeoutMs } = policy.options;

  return async function timeout(c, next) {
    let pending: Promise<void> | undefined;
    try {
      // Under another timeout, its signal is this one's parent.
      const parent = signalOf(c);
      await policy.execute((context) => {
        contexts.set(c, context);
        return pending = next();
      }, parent);
    } catch (error) {
      // The handler's own errors are Hono's to answer: only the deadline (or the client's abort) comes out here.
      if (!(error instanceof TimeoutError)) throw error;
      // A handler that heeds its signal answers (or throws) within a few
      // turns, and Hono then writes that answer to c.res: let it, then
      // replace it, so the 504 stands whichever finished first.
      if (pending !== undefined) await settledSoon(pending);
      c.res = problem("timedOut", `No answer within ${timeoutMs} ms`);
    }
  };
}
