// Runs breaker_demo.ts on any Node >= 20 with nothing but `npm ci` done:
// esbuild (a dev dependency) bundles it in memory, and Node imports the
// bundle. Node >= 22.18 can also run the .ts file directly.
//
//   node examples/breaker_demo.mjs
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const { outputFiles } = await build({
  entryPoints: [fileURLToPath(new URL("./breaker_demo.ts", import.meta.url))],
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  write: false,
  logLevel: "error",
});
await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].text).toString("base64")}`);
