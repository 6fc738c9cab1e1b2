// The bindings the workerd leg's tests read from `cloudflare:test`
// (declared in wrangler.toml, or added by vitest.workers.config.mts), and
// the parts of `cloudflare:workers` the test Worker uses. Written out here
// rather than taken from @cloudflare/workers-types, like the adapters'
// own binding interfaces (adapters/cloudflare/bindings.ts).
// (No top-level import: that would turn these declarations into augmentations.)
type KvNamespaceLike = import("../../adapters/cloudflare/bindings.ts").KvNamespaceLike;
type DurableObjectNamespaceLike = import("../../adapters/cloudflare/bindings.ts").DurableObjectNamespaceLike;
type D1DatabaseLike = import("../../adapters/cloudflare/bindings.ts").D1DatabaseLike;

interface TestEnv {
  /** Base URL of the flaky HTTP upstream run by the workerd leg's config. */
  readonly UPSTREAM_URL: string;
  /** Workers KV namespace for KvStore. */
  readonly STATE_KV: KvNamespaceLike & { list(options?: { prefix?: string }): Promise<{ keys: { name: string }[] }> };
  /** Durable Object namespace of BulwarkStateObject, for DurableObjectStore. */
  readonly STATE_OBJECTS: DurableObjectNamespaceLike;
  /** D1 database for D1Store. */
  readonly STATE_DB: D1DatabaseLike;
  /** Durable Object namespace of HeartbeatObject (an alarm-driven Heartbeat). */
  readonly HEARTBEAT_OBJECTS: DurableObjectNamespaceLike;
}

declare module "cloudflare:test" {
  export const env: TestEnv;
  /** The test Worker itself (tests/_support/worker.ts), called as a separate request. */
  export const SELF: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };
  /** Runs the object's alarm now, if one is scheduled; whether one ran. */
  export function runDurableObjectAlarm(stub: object): Promise<boolean>;
}

declare module "cloudflare:workers" {
  /** The base class that makes a Durable Object's methods callable over RPC. */
  export abstract class DurableObject {
    constructor(ctx: never, env: never);
  }
  /** The Worker's bindings, importable at module scope (read them in handlers only). */
  export const env: TestEnv;
  /** Extends the current request until `promise` settles (the module form of `ctx.waitUntil`). */
  export function waitUntil(promise: Promise<unknown>): void;
}
