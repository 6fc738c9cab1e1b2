import { IdempotencyStore, idempotencyKeyProblem } from "../../src/idempotency/idempotency_store.ts";
import { badOptions, throwIf } from "../../src/internal/arguments.ts";
import type { Json, Store } from "../../src/store/store.ts";
import { type Clock, systemClock } from "../../src/clock.ts";
import type { AnyHonoContext } from "./context.ts";
import { arrayOf, boolean, clock as clockSchema, durationMs, func, integer, lazy, satisfying, validate, optional, strictObject } from "../../src/validation.ts";

/**
 * What the middleware reads of a Hono `Context`. Declared here, structurally,
 * so that the types of `bulwark/hono` do not import `hono` (an optional peer
 * dependency): Hono's `Context` is one.
 */
export interface IdempotencyContext {
  readonly req: {
    readonly method: string;
    readonly path: string;
    readonly raw: Request;
    header(name: string): string | undefined;
  };
  readonly res: Response;
  readonly error: Error | undefined;
}

/** A Hono middleware: what `app.use()` takes. */
export type IdempotencyMiddleware<C extends IdempotencyContext = IdempotencyContext> = (
  c: C,
  next: () => Promise<void>,
) => Promise<Response | void>;

/** Options of {@link idempotency}. */
export interface HonoIdempotencyOptions<C extends IdempotencyContext = AnyHonoContext> {
  /** Where records live: an {@link IdempotencyStore}, or any atomic {@link Store}. */
  store: IdempotencyStore | Store;
  /** Refuse (400) a request of `methods` without an `Idempotency-Key` header. Default `false`: it passes through. */
  required?: boolean;
  /** The methods made idempotent. Default `["POST", "PATCH"]`. */
  methods?: readonly string[];
  /** How long a response is replayed, in ms. Default: the store's `ttlMs`. */
  ttlMs?: number;
  /** How long a request in flight holds its key, in ms. Default: the store's `inProgressTtlMs`. */
  inProgressTtlMs?: number;
  /**
   * Whose key it is (a tenant, user or API key), so that one client can never
   * replay another's response. Default: one scope for all clients.
   */
  scope?: (c: C) => string | undefined | Promise<string | undefined>;
  /** Largest body fingerprinted, in bytes; a larger one is refused with 413. Default `1_048_576`. */
  maxBodyBytes?: number;
  /** Store 5xx responses too (replayed like any other). Default `false`: a 5xx releases the key, so the client may retry. */
  storeServerErrors?: boolean;
  /**
   * How long a duplicate of a request in flight waits for its answer, in ms,
   * polling the store, before the 409. Default `0`: 409 at once, as the
   * draft says; a wait answers duplicates with the replay instead.
   */
  waitMs?: number;
  /** Time source of the wait. Default `systemClock`. */
  clock?: Clock;
}

const optionsSchema = /* @__PURE__ */ lazy(() =>
  strictObject({
    store: satisfying<IdempotencyStore | Store>((value) => typeof value === "object" && value !== null, "an IdempotencyStore or a Store"),
    required: boolean(),
    methods: arrayOf<string>((item) => typeof item === "string" && item.length > 0, "an HTTP method", "an array of HTTP methods"),
    ttlMs: optional(durationMs(0, true)),
    inProgressTtlMs: optional(durationMs(0, true)),
    scope: optional(func<(c: never) => string | undefined>()),
    maxBodyBytes: integer(0),
    storeServerErrors: boolean(),
    waitMs: durationMs(0),
    clock: clockSchema(),
  })
);

/** What a replay needs of a response, as stored. */
interface StoredResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  /** The body, base64. */
  readonly body: string;
  readonly [field: string]: Json;
}

/** Problem types (RFC 9457), as URNs: stable identifiers that need no web page. */
const PROBLEM = {
  missing: ["urn:bulwark:idempotency:key-missing", "Idempotency-Key is missing", 400],
  malformed: ["urn:bulwark:idempotency:key-malformed", "Idempotency-Key is malformed", 400],
  tooLarge: ["urn:bulwark:idempotency:body-too-large", "Request body too large to fingerprint", 413],
  conflict: ["urn:bulwark:idempotency:in-progress", "A request with this Idempotency-Key is in progress", 409],
  mismatch: ["urn:bulwark:idempotency:key-reused", "Idempotency-Key reused with a different request", 422],
} as const;

function problem(which: keyof typeof PROBLEM, detail: string, headers: Record<string, string> = {}): Response {
  const [type, title, status] = PROBLEM[which];
  return new Response(JSON.stringify({ type, title, status, detail }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/** The key of an `Idempotency-Key` header: a structured-field string (RFC 8941 `sf-string`), or `undefined`. */
function parseKey(header: string): string | undefined {
  const match = /^ *"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)" *$/.exec(header);
  return match === null ? undefined : match[1]!.replace(/\\(["\\])/g, "$1");
}

/** The body, at most `max` bytes, or `undefined` when it is longer. */
async function readBody(request: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) return undefined;
  if (request.body === null) return new Uint8Array(0);
  // A clone, so the handler still reads the body; read in chunks, so a long
  // body without Content-Length is cut at the limit, never buffered whole.
  const reader = request.clone().body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      // Not awaited: cancelling one branch of a tee settles only once the
      // other branch (the handler's, never read here) is cancelled too.
      reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

async function sha256Hex(...parts: (string | Uint8Array)[]): Promise<string> {
  const encoder = new TextEncoder();
  const bytes = parts.map((part) => (typeof part === "string" ? encoder.encode(part) : part));
  const all = new Uint8Array(bytes.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of bytes) {
    all.set(part, offset);
    offset += part.byteLength;
  }
  const digest = await crypto.subtle.digest("SHA-256", all);
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Headers never replayed: per-connection, or set anew for each answer. */
const NOT_REPLAYED = new Set(["set-cookie", "connection", "keep-alive", "transfer-encoding", "date"]);

/**
 * Hono middleware making `POST` and `PATCH` (or `methods`) idempotent, after
 * the IETF `Idempotency-Key` header draft: the first request with a key runs
 * the handler and its response is stored; a repeat with the same key and
 * payload gets that response again, marked `Idempotency-Replayed: true`.
 *
 * - 400 when the header is missing (with `required`) or malformed (it is a
 *   structured-field string: `Idempotency-Key: "8e03978e"`, 1 to 255
 *   printable ASCII characters, one value);
 * - 409 while the first request is still in flight;
 * - 422 when the key is reused with another method, path or body (fingerprint:
 *   SHA-256 of them through `crypto.subtle`);
 * - 413 when the body is over `maxBodyBytes`;
 * - every refusal an RFC 9457 `application/problem+json` document, and
 *   nothing stored.
 *
 * A handler that throws, or answers 5xx (unless `storeServerErrors`),
 * releases the key so the client may retry. Keys are scoped by `scope(c)`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { MemoryIdempotencyStore } from "bulwark";
 * import { idempotency } from "bulwark/hono";
 *
 * let orders = 0;
 * const app = new Hono();
 * app.use("/orders", idempotency({ store: new MemoryIdempotencyStore(), required: true }));
 * app.post("/orders", (c) => c.json({ order: ++orders }, 201));
 *
 * const post = () =>
 *   app.request("/orders", { method: "POST", headers: { "Idempotency-Key": '"order-1"' }, body: "{}" });
 * const first = await post();
 * const replay = await post();
 * if (orders !== 1 || replay.status !== 201 || replay.headers.get("Idempotency-Replayed") !== "true") {
 *   throw new Error("the handler runs once; the repeat is replayed");
 * }
 * if ((await first.json()).order !== (await replay.json()).order) throw new Error("the same answer");
 * ```
 */
export function idempotency<C extends IdempotencyContext = AnyHonoContext>(
  options: HonoIdempotencyOptions<C>,
): IdempotencyMiddleware<C> {
  throwIf(badOptions("idempotency", options));
  const resolved = validate("idempotency", optionsSchema(), {
    required: false,
    methods: ["POST", "PATCH"],
    maxBodyBytes: 1_048_576,
    storeServerErrors: false,
    waitMs: 0,
    clock: systemClock,
    ...options,
  });
  const records = resolved.store instanceof IdempotencyStore
    ? resolved.store
    : new IdempotencyStore({ store: resolved.store as Store });
  const methods = new Set(resolved.methods.map((method) => method.toUpperCase()));
  const scopeOf = resolved.scope as HonoIdempotencyOptions<C>["scope"];

  return async (c, next) => {
    const method = c.req.method.toUpperCase();
    if (!methods.has(method)) return await next();
    const header = c.req.header("idempotency-key");
    if (header === undefined) {
      if (!resolved.required) return await next();
      return problem("missing", `${method} ${c.req.path} requires an Idempotency-Key header`);
    }
    const key = parseKey(header);
    const keyProblem = key === undefined ? "not one structured-field string" : idempotencyKeyProblem(key);
    if (keyProblem !== undefined) {
      return problem("malformed", `Idempotency-Key must be one quoted string of 1 to 255 printable ASCII characters (${keyProblem})`);
    }
    const body = await readBody(c.req.raw, resolved.maxBodyBytes);
    if (body === undefined) return problem("tooLarge", `The body is over ${resolved.maxBodyBytes} bytes`);
    const fingerprint = await sha256Hex(`${method} ${c.req.path}\n`, body);
    const scope = await scopeOf?.(c);
    // A scoped key is hashed with its scope: one fixed length, whatever the scope.
    const storeKey = scope === undefined ? key! : `s:${await sha256Hex(scope, "\n", key!)}`;
    const acquire = () =>
      records.acquire(storeKey, {
        fingerprint,
        ...(resolved.inProgressTtlMs === undefined ? {} : { inProgressTtlMs: resolved.inProgressTtlMs }),
      });
    let claim = await acquire();
    // With waitMs, a duplicate polls the store with its own timers (on
    // Workers no request may be woken by another's code) until the first
    // answer is stored, its claim lapses, or waitMs passes.
    for (let waited = 0, delay = 25; claim.outcome === "in-progress" && waited < resolved.waitMs; delay = Math.min(delay * 2, 1_000)) {
      const step = Math.min(delay, resolved.waitMs - waited);
      await resolved.clock.sleep(step, c.req.raw.signal);
      waited += step;
      claim = await acquire();
    }
    switch (claim.outcome) {
      case "fingerprint-mismatch":
        return problem("mismatch", "This Idempotency-Key was used with another method, path or body");
      case "in-progress":
        return problem("conflict", "The first request with this Idempotency-Key is still being processed; retry later", {
          "retry-after": "1",
        });
      case "completed": {
        const stored = claim.record.result as StoredResponse | undefined;
        if (stored === undefined) return problem("conflict", "The stored response is unavailable; retry later");
        const headers = new Headers(stored.headers as [string, string][]);
        headers.set("idempotency-replayed", "true");
        const nullBody = stored.status === 204 || stored.status === 205 || stored.status === 304;
        return new Response(nullBody ? null : fromBase64(stored.body) as Uint8Array<ArrayBuffer>, { status: stored.status, headers });
      }
    }
    const token = claim.token;
    try {
      await next();
    } catch (error) {
      await records.release(storeKey, token).catch(() => false);
      throw error;
    }
    const response = c.res;
    if (c.error !== undefined || (response.status >= 500 && !resolved.storeServerErrors)) {
      await records.release(storeKey, token).catch(() => false);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await response.clone().arrayBuffer());
    } catch (error) {
      // A body that broke on the way (a stream that errored) is no answer to
      // replay: free the key, as for a handler that threw.
      await records.release(storeKey, token).catch(() => false);
      throw error;
    }
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => {
      if (!NOT_REPLAYED.has(name.toLowerCase())) headers.push([name, value]);
    });
    const stored: StoredResponse = { status: response.status, headers, body: toBase64(bytes) };
    // A response the store cannot hold (over its value limit, or the store
    // down) is still answered; its claim lapses after inProgressTtlMs.
    await records.complete(storeKey, token, stored, {
      ...(resolved.ttlMs === undefined ? {} : { ttlMs: resolved.ttlMs }),
    }).catch(() => false);
  };
}
