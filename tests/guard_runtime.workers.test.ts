// Guard: the workerd leg runs the tests inside workerd, not in Node.
import { describe, expect, it } from "vitest";

describe("guard: runtime of the leg", () => {
  it("runs inside workerd", () => {
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
    expect(typeof (globalThis as { WebSocketPair?: unknown }).WebSocketPair).toBe("function");
  });
});
