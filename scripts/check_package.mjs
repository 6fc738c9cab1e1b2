// Packaging checks, run by `npm test` and by `npm run check:package`:
//   build     dist/ from tsconfig.build.json, then `npm pack`
//   publint   the packed tarball, warnings as errors
//   attw      the packed tarball, esm-only profile (the package is ESM-only:
//             node10 and CommonJS-from-node16 resolution are out of scope)
//   consumer  a project that installs the tarball type-checks with
//             moduleResolution nodenext and bundler, and imports every entry
//             point at run time on this Node
//   size      bundle size of each entry in size-budget.json, from the
//             packed tarball, against its budget (scripts/size.mjs)
//   jsr       `deno publish --dry-run` (JSR's checks, including slow types)
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./lib/run.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);
const node = process.execPath;
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const tsc7 = join(root, "node_modules", "typescript7", "bin", "tsc");

/** @typedef {{ name: string, passed: number, failed: number, output: string }} Result */

const result = (name, checks) => ({
  name,
  passed: checks.filter((c) => c.code === 0).length,
  failed: checks.filter((c) => c.code !== 0).length,
  output: checks.map((c) => (c.label ? `[${c.label}] exit ${c.code}\n` : "") + c.output).join("\n"),
});

/** Builds dist/ and packs it into `workDir`; returns the result and the tarball path. */
export async function buildAndPack(workDir) {
  const build = await run(node, [join(root, "scripts", "build.mjs")], { cwd: root });
  if (build.code !== 0) return { result: result("build", [build]) };
  const pack = await run("npm", ["pack", "--json", "--pack-destination", workDir], { cwd: root });
  let tarball;
  try {
    tarball = join(workDir, JSON.parse(pack.output.slice(pack.output.indexOf("[")))[0].filename);
  } catch {
    pack.code ||= 1;
  }
  return { result: result("build", [{ ...build, output: `${build.output}${pack.code === 0 ? `packed ${tarball}\n` : pack.output}` }, pack].slice(0, pack.code === 0 ? 1 : 2)), tarball };
}

export async function publint(tarball) {
  return result("publint", [await run(bin("publint"), ["run", tarball, "--strict"], { cwd: root })]);
}

export async function attw(tarball) {
  return result("attw", [await run(bin("attw"), [tarball, "--profile", "esm-only", "--no-color", "--no-emoji"], { cwd: root })]);
}

/** Installs the tarball into a scratch project, type-checks it twice and imports it. */
export async function consumer(tarball, workDir) {
  const dir = join(workDir, "consumer");
  const modules = join(dir, "node_modules");
  mkdirSync(modules, { recursive: true });
  const unpack = await run("tar", ["xzf", tarball, "-C", modules]);
  if (unpack.code !== 0) return result("consumer", [{ ...unpack, label: "unpack" }]);
  renameSync(join(modules, "package"), join(modules, "bulwark"));
  // The runtime dependency, as npm would install it; no registry needed.
  symlinkSync(join(root, "node_modules", "zod"), join(modules, "zod"), "dir");

  const { exports } = JSON.parse(readFileSync(join(modules, "bulwark", "package.json"), "utf8"));
  const specifiers = Object.keys(exports)
    .filter((subpath) => subpath !== "./package.json")
    .map((subpath) => (subpath === "." ? "bulwark" : `bulwark/${subpath.slice(2)}`));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  writeFileSync(
    join(dir, "consumer.ts"),
    [
      `import type { Clock } from "bulwark";`,
      `import { ManualClock } from "bulwark/testing";`,
      ...specifiers.map((s, i) => `import * as entry${i} from ${JSON.stringify(s)};`),
      `const clock: Clock = new ManualClock();`,
      `export const used: readonly unknown[] = [clock, ${specifiers.map((_, i) => `entry${i}`).join(", ")}];`,
    ].join("\n"),
  );
  copyFileSync(join(root, "scripts", "consumer", "types.ts"), join(dir, "types.ts"));
  writeFileSync(
    join(dir, "consumer.mjs"),
    [
      `for (const specifier of ${JSON.stringify(specifiers)}) {`,
      `  const names = Object.keys(await import(specifier));`,
      `  if (names.length === 0) throw new Error(specifier + " exports nothing");`,
      `  console.log(specifier + ": " + names.length + " exports");`,
      `}`,
    ].join("\n"),
  );
  const compilerOptions = {
    target: "ES2022",
    lib: ["ES2023", "DOM", "ESNext.Disposable"],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  };
  // Every setup under TypeScript 5.9 and TypeScript 7.
  const typecheck = async (label, module, moduleResolution, overrides = {}) => {
    writeFileSync(
      join(dir, `tsconfig.${label}.json`),
      JSON.stringify({
        compilerOptions: { ...compilerOptions, module, moduleResolution, ...overrides },
        files: ["consumer.ts", "types.ts"],
      }),
    );
    const checks = [];
    for (const [version, compiler] of [["5.9", tsc], ["7", tsc7]]) {
      checks.push({ label: `${label} (TypeScript ${version})`, ...(await run(node, [compiler, "-p", `tsconfig.${label}.json`], { cwd: dir })) });
    }
    return checks;
  };
  return result("consumer", [
    ...await typecheck("nodenext", "NodeNext", "NodeNext"),
    ...await typecheck("bundler", "Preserve", "Bundler"),
    // A strict consumer with an older lib and no @types/node: the
    // declarations bring what they need of explicit resource management.
    ...await typecheck("es2022", "NodeNext", "NodeNext", {
      lib: ["ES2022", "DOM"],
      exactOptionalPropertyTypes: true,
    }),
    { label: "import on node", ...(await run(node, ["consumer.mjs"], { cwd: dir })) },
  ]);
}

export async function jsr() {
  return result("jsr", [await run(bin("deno"), ["publish", "--dry-run", "--allow-dirty"], { cwd: root })]);
}

/** build, publint, attw, consumer, size (in order; the last four need the tarball). */
export async function packageChecks() {
  const workDir = mkdtempSync(join(tmpdir(), "bulwark-package-"));
  try {
    const built = await buildAndPack(workDir);
    if (built.tarball === undefined) return [built.result];
    return [
      built.result,
      await publint(built.tarball),
      await attw(built.tarball),
      await consumer(built.tarball, workDir),
      // Imported here: size.mjs imports this file when run on its own.
      await (await import("./size.mjs")).sizeCheck(built.tarball, workDir),
    ];
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = [...(await packageChecks()), await jsr()];
  for (const r of results) {
    if (r.failed > 0) console.log(`── ${r.name} ──\n${r.output}`);
  }
  for (const r of results) console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed`);
  process.exitCode = results.some((r) => r.failed > 0) ? 1 : 0;
}
