// The workerd leg: the same test files, run inside workerd by the Workers
// vitest integration, with the bindings declared in wrangler.toml plus
// UPSTREAM_URL, the real HTTP upstream started by the global setup.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { testFilesFor } from "./scripts/test_files.mjs";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: { bindings: { UPSTREAM_URL: inject("upstreamUrl") } },
    })),
  ],
  // One cache per leg: legs run side by side and must not rewrite each other's.
  cacheDir: "node_modules/.vite/workerd",
  test: {
    include: testFilesFor("workerd"),
    globalSetup: ["tests/_support/workers_global_setup.ts"],
    // All files share one isolate, as they share one process on the Deno and
    // Bun legs: a fresh isolate per file costs ~2 s of module loading each.
    isolate: false,
  },
});
