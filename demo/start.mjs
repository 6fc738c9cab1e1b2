// `npm start`: the demo gateway on this machine's Node (>= 20) with nothing
// but `npm ci` done. esbuild (a dev dependency) bundles demo/node.ts in
// memory and Node imports the bundle. Under `bun run start` (Bun runs
// package scripts with Node unless told otherwise) it hands over to Bun, so
// the demo really runs on Bun.
//
//   npm start                  http://127.0.0.1:3000/
//   PORT=8080 npm start
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const userAgent = process.env.npm_config_user_agent ?? "";
const bun = process.env.npm_execpath;
if (userAgent.startsWith("bun/") && bun) {
  const child = spawn(bun, [fileURLToPath(new URL("./bun.ts", import.meta.url))], { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const { build } = await import("esbuild");
  const { outputFiles } = await build({
    entryPoints: [fileURLToPath(new URL("./node.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "error",
  });
  const demo = await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].text).toString("base64")}`);
  await demo.main("node");
}
