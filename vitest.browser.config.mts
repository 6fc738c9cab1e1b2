// The chromium leg: the same test files in headless Chromium through vitest
// browser mode. Playwright cannot download browsers here; it drives the
// system's /usr/bin/chromium (`apt-get install -y chromium`).
import { existsSync } from "node:fs";
import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import { testFilesFor } from "./scripts/test_files.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) {
  throw new Error(`${CHROMIUM} not found: the chromium leg needs it (apt-get install -y chromium)`);
}

export default defineConfig({
  // One cache per leg: legs run side by side and must not rewrite each other's.
  cacheDir: "node_modules/.vite/chromium",
  // Bundled before the first test file loads: a dependency discovered
  // mid-run makes Vite reload the page under the running tests.
  optimizeDeps: { include: ["fast-check", "zod/mini"] },
  test: {
    include: testFilesFor("chromium"),
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: {
          executablePath: CHROMIUM,
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
          ],
        },
      }),
      instances: [{ browser: "chromium" }],
    },
  },
});
