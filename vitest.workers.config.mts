// The workerd leg: the same test files, run inside workerd by the Workers
// vitest integration, with the bindings declared in wrangler.toml.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { testFilesFor } from "./scripts/test_files.mjs";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  // One cache per leg: legs run side by side and must not rewrite each other's.
  cacheDir: "node_modules/.vite/workerd",
  test: {
    include: testFilesFor("workerd"),
  },
});
