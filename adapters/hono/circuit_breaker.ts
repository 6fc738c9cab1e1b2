import { CircuitBreaker } from "../../src/breaker/circuit_breaker.ts";
import { CircuitBreakerRegistry } from "../../src/breaker/registry.ts";
import { CircuitOpenError, ConfigError, HttpStatusError } from "../../src/errors.ts";
import { badOptions, throwIf } from "../../src/internal/arguments.ts";
import { func, lazy, name as nameSchema, satisfying, validate, optional, strictObject } from "../../src/validation.ts";
import { type AnyHonoContext, type HonoContext, type HonoMiddleware, problem, retryAfterSeconds } from "./context.ts";

/** Options of {@link circuitBreaker}: a `breaker`, or the `name` of one in a `registry`. */
export interface HonoCircuitBreakerOptions<C extends HonoContext = AnyHonoContext> {
  /** The breaker guarding the route. */
  breaker?: CircuitBreaker<unknown>;
  /** Or the name of one, taken from (or created in) `registry`. */
  name?: string;
  /** Where a named breaker lives. Default {@link breakerRegistry}, shared by this module's middleware. */
  registry?: CircuitBreakerRegistry<unknown>;
  /**
   * Whether the answer is a failure, read after the handler ran (`c.res`,
   * and `c.error` when it threw). Default: `c.res.status >= 500`.
   */
  isFailure?: (c: C) => boolean;
}

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    breaker: optional(satisfying<CircuitBreaker<unknown>>((value) => value instanceof CircuitBreaker, "a CircuitBreaker")),
    name: optional(nameSchema()),
    registry: optional(
      satisfying<CircuitBreakerRegistry<unknown>>((value) => value instanceof CircuitBreakerRegistry, "a CircuitBreakerRegistry"),
    ),
    isFailure: optional(func<(c: never) => boolean>()),
  })
);

let sharedRegistry: CircuitBreakerRegistry<unknown> | undefined;

/**
 * The registry `circuitBreaker({ name })` takes its breakers from unless
 * given another: one per process (per isolate on Workers), created on first
 * use. Hand it to {@link health} to report them.
 *
 * @example
 * ```ts
 * import { breakerRegistry, circuitBreaker } from "bulwark/hono";
 *
 * circuitBreaker({ name: "payments" });
 * if (breakerRegistry().get("payments") === undefined) throw new Error("created on the shared registry");
 * ```
 */
export function breakerRegistry(): CircuitBreakerRegistry<unknown> {
  return sharedRegistry ??= new CircuitBreakerRegistry();
}

const serverError = (c: HonoContext): boolean => c.res.status >= 500;

/**
 * Hono middleware guarding a route with a circuit breaker: each request is
 * a call of the breaker, and an answer `isFailure` judges a failure (by
 * default any 5xx, a handler that threw included) is counted as one, handed
 * to the breaker as an {@link HttpStatusError} (the handler's error as its
 * `cause`), so the breaker's own `isFailure` and `excludedErrors` still
 * filter it. The answer itself goes to the client unchanged.
 *
 * While the circuit refuses calls (open, forced open, or half-open with its
 * probes taken), the handler does not run: the answer is 503 with
 * `Retry-After`, the breaker's `remainingMs` in whole seconds rounded up (at
 * least 1; omitted while forced open), and an RFC 9457 problem document. A
 * breaker with a `fallback` that returns a `Response` answers with it
 * instead.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { CircuitBreaker } from "bulwark";
 * import { circuitBreaker } from "bulwark/hono";
 *
 * const breaker = new CircuitBreaker({ name: "inventory", maxFailures: 2, resetTimeoutMs: 30_000 });
 * const app = new Hono();
 * app.use("/inventory", circuitBreaker({ breaker }));
 * app.get("/inventory", (c) => c.text("upstream down", 502));
 *
 * await app.request("/inventory");
 * await app.request("/inventory");
 * const refused = await app.request("/inventory");
 * if (breaker.state !== "open" || refused.status !== 503 || refused.headers.get("Retry-After") !== "30") {
 *   throw new Error("two 502s open the circuit; the next request gets 503");
 * }
 * ```
 */
export function circuitBreaker<C extends HonoContext = AnyHonoContext>(
  options: HonoCircuitBreakerOptions<C>,
): HonoMiddleware<C> {
  throwIf(badOptions("circuitBreaker", options));
  const resolved = validate("circuitBreaker", optionsSchema(), options ?? {}) as HonoCircuitBreakerOptions<C>;
  if ((resolved.breaker === undefined) === (resolved.name === undefined) || (resolved.breaker !== undefined && resolved.registry !== undefined)) {
    throw new ConfigError("circuitBreaker", [{
      field: resolved.breaker === undefined ? "name" : "breaker",
      value: resolved.breaker ?? resolved.name,
      allowed: "exactly one of 'breaker' (a CircuitBreaker) and 'name' (with an optional 'registry')",
    }]);
  }
  const breaker = resolved.breaker ?? (resolved.registry ?? breakerRegistry()).getOrCreate(resolved.name!);
  const isFailure = resolved.isFailure ?? serverError;

  return async function circuitBreaker(c, next) {
    let ran = false;
    let result: unknown;
    try {
      result = await breaker.execute(async () => {
        ran = true;
        await next();
        if (isFailure(c)) throw new HttpStatusError(c.res.status, c.error === undefined ? undefined : { cause: c.error });
      });
    } catch (error) {
      // The failed answer stands: the breaker only needed to count it.
      if (error instanceof HttpStatusError && ran) return;
      if (!(error instanceof CircuitOpenError) || ran) throw error;
      const wait = retryAfterSeconds(error.remainingMs);
      return problem(
        "circuitOpen",
        `Circuit '${breaker.name}' is open${wait === undefined ? "" : `; retry in ${wait} s`}`,
        wait === undefined ? {} : { "retry-after": wait },
      );
    }
    // A breaker's fallback ran instead of the handler.
    if (!ran) return result instanceof Response ? result : problem("circuitOpen", `Circuit '${breaker.name}' is open`);
  };
}
