import { build } from "esbuild";
import { gzipSync } from "node:zlib";
const [src, ext] = process.argv.slice(2);
const r = await build({ stdin: { contents: src, resolveDir: process.cwd(), loader: "js" }, bundle: true, minify: true, format: "esm", write: false, platform: "browser",
  alias: { bulwark: "./dist/mod.js" }, external: ext ? ext.split(",") : [] });
const c = r.outputFiles[0].contents;
console.log(c.length, gzipSync(c, { level: 9 }).length);
