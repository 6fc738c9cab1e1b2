// Guard: the chromium leg runs the tests in a real Chromium page.
import { describe, expect, it } from "vitest";

describe("guard: runtime of the leg", () => {
  it("runs in Chromium, with a DOM", () => {
    expect(navigator.userAgent).toMatch(/Chrome\/\d+/);
    expect(document.createElement("div").tagName).toBe("DIV");
    expect(typeof (globalThis as { Deno?: unknown }).Deno).toBe("undefined");
  });
});
