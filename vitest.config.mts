// Node legs (node20 on the machine's Node, node24 through `npx -p node@24`).
// scripts/test.mjs sets BULWARK_LEG; a bare `npx vitest run` is the node20 leg.
import { defineConfig } from "vitest/config";
import { testFilesFor } from "./scripts/test_files.mjs";

const leg = process.env.BULWARK_LEG ?? "node20";

export default defineConfig({
  // One cache per leg: legs run side by side and must not rewrite each other's.
  cacheDir: `node_modules/.vite/${leg}`,
  test: {
    include: testFilesFor(leg),
  },
});
