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

/**
 * Whether `queueMicrotask` takes a microtask turn more cheaply than a
 * settled promise's `then` here. On Bun (JavaScriptCore) it is, by 3–4 ns a
 * turn; on V8 `then` is as cheap (Deno) or much cheaper (Node, whose
 * `queueMicrotask` is a JavaScript wrapper): `bench/deadline_floor.bench.ts`
 * measures both. Bun says so in `navigator.userAgent` (`"Bun/1.4.5"`).
 */
export function microtaskTurnIsCheaper(): boolean {
  const userAgent = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent;
  return typeof userAgent === "string" && userAgent.startsWith("Bun/") && typeof queueMicrotask === "function";
}
