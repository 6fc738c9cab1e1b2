import { build } from "esbuild";
const r = await build({ stdin: { contents: process.argv[2], resolveDir: process.cwd(), loader: "js" }, bundle: true, minify: false, format: "esm", write: false, platform: "browser", alias: { bulwark: "./dist/mod.js" } });
process.stdout.write(r.outputFiles[0].text);
