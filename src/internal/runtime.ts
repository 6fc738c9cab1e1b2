/**
 * What the core may need to know about the runtime it runs on. Read when a
 * component is built, never at import.
 *
 * @module
 */

/**
 * Whether this is Cloudflare Workers, where a request is never resumed by
 * another request's code: `navigator.userAgent` is `"Cloudflare-Workers"`
 * there (the web-standard value Cloudflare documents for detecting it).
 */
export function onWorkers(): boolean {
  const navigator = (globalThis as { navigator?: { userAgent?: unknown } }).navigator;
  return navigator?.userAgent === "Cloudflare-Workers";
}
