// Node legs (node20 on the machine's Node, node24 through `npx -p node@24`).
// scripts/test.mjs sets BULWARK_LEG; a bare `npx vitest run` is the node20 leg.
import { defineConfig } from "vitest/config";
import { testFilesFor } from "./scripts/test_files.mjs";

export default defineConfig({
  test: {
    include: testFilesFor(process.env.BULWARK_LEG ?? "node20"),
  },
});
