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
