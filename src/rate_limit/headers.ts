/**
 * HTTP response header fields for a rate-limit decision, per
 * draft-ietf-httpapi-ratelimit-headers-10 (the latest revision, 2025), which
 * defines two Structured Fields (RFC 9651), each a List of Items named by a
 * quota policy:
 *
 * - `RateLimit-Policy: "default";q=100;w=60`: the policy, a quota `q` of
 *   units per window `w` (seconds), optional quota unit `qu` and partition
 *   key `pk`;
 * - `RateLimit: "default";r=50;t=30`: the service limit now, `r` units
 *   remaining and `t` seconds until the quota is fully available again.
 *
 * Plus `Retry-After` (RFC 9110, delay in seconds) when the request was
 * refused. Seconds are rounded up, so a client never retries early; a
 * sub-second window is advertised as `w=1`.
 *
 * @module
 */
import type { RateLimitDecision } from "./algorithm.ts";

/** Options of {@link rateLimitHeaders}. */
export interface RateLimitHeaderOptions {
  /** The policy's name, a printable-ASCII string. Default `"default"`. */
  policy?: string;
  /** What the quota counts (`qu`); omitted when `"requests"`, the draft's default. */
  quotaUnit?: "requests" | "content-bytes" | "concurrent-requests";
  /** Identifies the client's quota partition (`pk`), e.g. a hash of the user or API key. */
  partitionKey?: string | Uint8Array;
}

/**
 * The header fields {@link rateLimitHeaders} returns. `Retry-After` only on
 * refusal. A type, not an interface, so it is a `Record<string, string>` to
 * TypeScript and goes to `new Headers(...)` (`HeadersInit`) as it is.
 */
export type RateLimitHeaderFields = {
  "RateLimit-Policy": string;
  RateLimit: string;
  "Retry-After"?: string;
};

function sfString(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) {
      throw new TypeError(`policy must be printable ASCII for a Structured Field string: current value is ${JSON.stringify(value)}`);
    }
  }
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

function sfByteSequence(value: string | Uint8Array): string {
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `:${btoa(binary)}:`;
}

function seconds(ms: number): number {
  return Math.ceil(Math.max(0, ms) / 1_000);
}

/**
 * Turns a decision (from `consume`, or `decide` on a pure algorithm) into
 * the `RateLimit-Policy`, `RateLimit` and, when refused, `Retry-After`
 * header fields. Pass the result to `new Headers(...)` or set each field.
 *
 * @example
 * ```ts
 * import { RateLimiter, rateLimitHeaders } from "bulwark";
 * const limiter = new RateLimiter({ rate: 100, perMs: 60_000 });
 * const headers = rateLimitHeaders(limiter.consume());
 * if (headers["RateLimit-Policy"] !== '"default";q=100;w=60') throw new Error(headers["RateLimit-Policy"]);
 * if (headers.RateLimit !== '"default";r=99;t=1') throw new Error(headers.RateLimit);
 * ```
 */
export function rateLimitHeaders(
  decision: RateLimitDecision,
  options: RateLimitHeaderOptions = {},
): RateLimitHeaderFields {
  const name = sfString(options.policy ?? "default");
  const pk = options.partitionKey === undefined ? "" : `;pk=${sfByteSequence(options.partitionKey)}`;
  const qu = options.quotaUnit === undefined || options.quotaUnit === "requests"
    ? ""
    : `;qu=${sfString(options.quotaUnit)}`;
  const quota = Math.floor(decision.limit);
  const window = Math.max(1, seconds(decision.windowMs));
  const remaining = Math.max(0, Math.floor(decision.remaining));
  const fields: RateLimitHeaderFields = {
    "RateLimit-Policy": `${name};q=${quota}${qu};w=${window}${pk}`,
    RateLimit: `${name};r=${remaining};t=${seconds(decision.resetMs)}${pk}`,
  };
  if (!decision.allowed && Number.isFinite(decision.retryAfterMs)) {
    fields["Retry-After"] = String(Math.max(1, seconds(decision.retryAfterMs)));
  }
  return fields;
}
