// Compiled by `npm test`'s consumer leg against the packed tarball, under
// every setup it checks (strict; NodeNext and Bundler; exactOptionalPropertyTypes;
// TypeScript 5.9 and 7): the types a strict consumer relies on (issue 14).
// Each `@ts-expect-error` fails the check if the misuse ever compiles.
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  type CircuitState,
  createResilientFetch,
  KeyedRateLimiter,
  pipeline,
  type Policy,
  rateLimitHeaders,
  type PolicyResult,
  ResiliencePipeline,
  retry,
  RetryPolicy,
  TimeoutPolicy,
} from "bulwark";
import { stateObjectClass } from "bulwark/cloudflare";

// What `DurableObject` from "cloudflare:workers" looks like to the types
// `wrangler types` generates: a brand, and a constructor of (ctx, env). The
// generated `Env` declares each binding as `DurableObjectNamespace<YourClass>`,
// which requires the class to carry the brand.
declare abstract class BrandedDurableObject<Env = unknown> {
  readonly __DURABLE_OBJECT_BRAND: never;
  constructor(ctx: { readonly id: string }, env: Env);
}
export class BulwarkStateObject extends stateObjectClass(BrandedDurableObject) {}
// Still the base: the brand, and the base's constructor (ctx, env).
const branded: BrandedDurableObject = new BulwarkStateObject({ id: "a" }, undefined);
// @ts-expect-error the base's constructor takes a ctx, not a number.
void new BulwarkStateObject(1, undefined);
// And a state object: its RPC methods.
void branded, new BulwarkStateObject({ id: "b" }, undefined).alarm;

export async function strictTypes(): Promise<void> {
  const registry = new CircuitBreakerRegistry();
  const created: Promise<number> = registry.getOrCreate("a").execute(() => 1);
  const found: Promise<number> | undefined = registry.get("a")?.execute(() => 2);
  const fetch = createResilientFetch();
  const origin: Promise<number> | undefined = fetch.registry.get("https://api.example.com")?.execute(() => 4);
  const state: CircuitState = new ResiliencePipeline({ circuitBreaker: { maxFailures: 3 } }).circuitBreaker.state;
  const own: CircuitBreaker = new ResiliencePipeline({ circuitBreaker: new CircuitBreaker() }).circuitBreaker;
  const none: undefined = new ResiliencePipeline({ retry: { maxAttempts: 2 } }).circuitBreaker;
  const remaining: number = new KeyedRateLimiter({ rate: 5, perMs: 1_000 }).available("k");

  const judged = new RetryPolicy({ retryOnResult: (response: Response) => response.status === 503 });
  const response: Response = await judged.execute(async () => new Response("ok"));
  // @ts-expect-error a number is not a Response: retryOnResult could not judge it.
  void judged.execute(async () => 1);
  // @ts-expect-error RetryPolicy<Response> cannot run every operation.
  const notAny: Policy = judged;
  const accepted: PolicyResult<typeof judged> = response;
  const layered = pipeline(new TimeoutPolicy({ timeoutMs: 1_000 }), judged);
  // @ts-expect-error the pipeline inherits the retry's result type.
  void layered.execute(async () => "text");
  const anything: Policy = new RetryPolicy();
  const decorated = retry({ retryOnResult: (value: number) => value < 0 });
  // @ts-expect-error the decorator wraps only functions returning numbers.
  void decorated(async () => "x");
  // rateLimitHeaders' fields go to `new Headers(...)` as they are (its JSDoc says so).
  const fields = rateLimitHeaders(new KeyedRateLimiter({ rate: 5, perMs: 1_000 }).consume("k"));
  const init: Record<string, string> = fields;
  const headers: Headers = new Headers(fields);
  void [created, found, origin, state, own, none, remaining, notAny, accepted, anything, init, headers];
}
