/**
 * What the middleware of `bulwark/hono` read and write of a Hono `Context`,
 * declared structurally so that the types of this entry do not import
 * `hono` (an optional peer dependency): Hono's `Context` is one, whatever
 * its `Env`, and a middleware typed with it goes to `app.use()` as is.
 *
 * @module
 */

/** The parts of a Hono `Context` the resilience middleware use. */
export interface HonoContext {
  readonly req: {
    readonly method: string;
    readonly path: string;
    readonly raw: Request;
    header(name: string): string | undefined;
  };
  /** The response so far; after `await next()`, the handler's. */
  res: Response;
  /** What the handler threw, once Hono's error handler made it an answer. */
  readonly error: Error | undefined;
  /** What the runtime passed to `fetch` beside the request (Node's `incoming`, Bun's server, Deno's `ServeHandlerInfo`, Workers' bindings). */
  readonly env?: unknown;
  /** Sets (or, with `append`, adds to) a header of the response. */
  header(name: string, value?: string, options?: { append?: boolean }): void;
}

/**
 * A Hono `Context` as the middleware's callbacks (`key`, `skip`, `isFailure`)
 * see it unless told otherwise: what the middleware read, typed, and every
 * other member (`c.get()`, `c.var`, `c.req.param()`, `c.env.MY_BINDING`)
 * as `any`, so callbacks compile against any app without importing `hono`'s
 * types here. For full types, annotate the parameter:
 * `key: (c: Context<MyEnv>) => c.var.user`.
 */
export interface AnyHonoContext extends HonoContext {
  // deno-lint-ignore no-explicit-any
  readonly req: HonoContext["req"] & { readonly [member: string]: any };
  // deno-lint-ignore no-explicit-any
  readonly env?: any;
  // deno-lint-ignore no-explicit-any
  readonly [member: string]: any;
}

/**
 * A Hono middleware: what `app.use()` (or a route) takes. The returned
 * function is named after its factory (`rateLimit`, `timeout`, ...), as
 * Hono's own are, so stack traces and `app.routes` say which one it is.
 */
export type HonoMiddleware<C extends HonoContext = HonoContext> = (
  c: C,
  next: () => Promise<void>,
) => Promise<Response | void>;

/** Problem types (RFC 9457) of the refusals, as URNs: stable identifiers that need no web page. */
export const PROBLEM = {
  rateLimited: ["urn:bulwark:rate-limited", "Too many requests", 429],
  circuitOpen: ["urn:bulwark:circuit-open", "Service unavailable: circuit open", 503],
  timedOut: ["urn:bulwark:timeout", "Gateway timeout", 504],
  bulkheadFull: ["urn:bulwark:bulkhead-full", "Service unavailable: too many requests in progress", 503],
} as const;

/** An RFC 9457 `application/problem+json` answer. */
export function problem(which: keyof typeof PROBLEM, detail: string, headers: Record<string, string> = {}): Response {
  const [type, title, status] = PROBLEM[which];
  return new Response(JSON.stringify({ type, title, status, detail }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/**
 * A `Retry-After` value (RFC 9110: delay in whole seconds) for a wait of
 * `ms`, rounded up so a client never comes back early, and at least 1;
 * `undefined` for a wait with no end (`Infinity`).
 */
export function retryAfterSeconds(ms: number): string | undefined {
  if (!Number.isFinite(ms)) return undefined;
  return String(Math.max(1, Math.ceil(ms / 1_000)));
}
