/**
 * What the core needs to know about the runtime it runs on, read from
 * web-standard globals only, and only when asked (never at import).
 *
 * @module
 */

/**
 * True on Cloudflare Workers, which documents `navigator.userAgent ===
 * "Cloudflare-Workers"`. There, a request must never wait on a promise that
 * another request's code settles (workerd cancels it as hung, or refuses its
 * I/O): components that would hand work from one caller to the next choose
 * a design where each caller wakes itself.
 */
export function onCloudflareWorkers(): boolean {
  const navigator = (globalThis as { navigator?: { userAgent?: unknown } }).navigator;
  return navigator?.userAgent === "Cloudflare-Workers";
}
