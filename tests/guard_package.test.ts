// Guard: the npm package (package.json) and the JSR package (deno.json)
// publish the same entry points, built from the same sources, and every
// adapter folder is reachable as a subpath.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(ROOT, file), "utf8"));

const npm = readJson("package.json") as {
  type: string;
  sideEffects: boolean;
  engines: Record<string, string>;
  exports: Record<string, string>;
  dependencies: Record<string, string>;
};
const jsr = readJson("deno.json") as { exports: Record<string, string>; imports: Record<string, string> };

/** npm exports, without ./package.json, mapped back to their sources: `./dist/x/mod.js` -> `./x/mod.ts`. */
const npmSources = Object.fromEntries(
  Object.entries(npm.exports)
    .filter(([subpath]) => subpath !== "./package.json")
    .map(([subpath, target]) => [subpath, target.replace(/^\.\/dist\//, "./").replace(/\.js$/, ".ts")]),
);

describe("guard: package manifests", () => {
  it("exports every entry point from dist/ as ESM in the npm package", () => {
    expect(npm.type).toBe("module");
    expect(npm.sideEffects).toBe(false);
    expect(npm.engines.node).toBe(">=20");
    for (const [subpath, target] of Object.entries(npm.exports)) {
      if (subpath !== "./package.json") expect(`${subpath} -> ${target}`).toMatch(/ -> \.\/dist\/.+\.js$/);
    }
  });

  it("publishes the same subpaths from the same sources on npm and JSR", () => {
    expect(npmSources).toEqual(jsr.exports);
    for (const source of Object.values(jsr.exports)) expect(existsSync(join(ROOT, source))).toBe(true);
  });

  it("exports every adapter folder (adapters/<name>/mod.ts as ./<name>)", () => {
    const adapters = readdirSync(join(ROOT, "adapters"), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(ROOT, "adapters", entry.name, "mod.ts")))
      .map((entry) => entry.name);
    for (const name of adapters) expect(npmSources[`./${name}`]).toBe(`./adapters/${name}/mod.ts`);
  });

  it("depends at runtime on zod only, in the same range on npm and JSR", () => {
    expect(Object.keys(npm.dependencies)).toEqual(["zod"]);
    expect(jsr.imports.zod).toBe(`npm:zod@${npm.dependencies.zod}`);
  });
});
