/** The runtime as tests of defaults read from it see it. */

/** Runs `body` with `navigator.userAgent` reading `userAgent`; false if the runtime will not let the test change it. */
export function withUserAgent(userAgent: string, body: () => void): boolean {
  const previous = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  try {
    Object.defineProperty(globalThis, "navigator", { value: { userAgent }, configurable: true, writable: true });
  } catch {
    return false;
  }
  try {
    body();
  } finally {
    if (previous === undefined) delete (globalThis as { navigator?: unknown }).navigator;
    else Object.defineProperty(globalThis, "navigator", previous);
  }
  return true;
}

/** True when `navigator.userAgent` reads "Cloudflare-Workers": in workerd, or inside {@link withUserAgent}. */
export function onWorkersNow(): boolean {
  return (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === "Cloudflare-Workers";
}
