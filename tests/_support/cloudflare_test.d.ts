// The bindings the workerd leg's tests read from `cloudflare:test`
// (declared in wrangler.toml, or added by vitest.workers.config.mts).
declare module "cloudflare:test" {
  export const env: {
    /** Base URL of the flaky HTTP upstream run by the workerd leg's config. */
    readonly UPSTREAM_URL: string;
  };
  /** The test Worker itself (tests/_support/worker.ts), called as a separate request. */
  export const SELF: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };
}
