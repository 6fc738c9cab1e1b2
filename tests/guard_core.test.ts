// Guard: the core (mod.ts and src/) touches no runtime-specific global or
// module, so it runs unchanged on Node, Deno, Bun, browsers and Workers.
// Reads the sources with the TypeScript parser, so comments, strings and
// property names (`options.process`) are not mistaken for references.
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const FORBIDDEN_GLOBALS = new Set(["process", "Deno", "Bun", "Buffer", "require", "global", "__dirname", "__filename"]);
const GLOBAL_OBJECTS = new Set(["globalThis", "self", "window"]);
const NODE_BUILTINS = new Set(builtinModules);
/** The core's only runtime dependency (package.json "dependencies"). */
const ALLOWED_PACKAGES = new Set(["zod"]);

/** Declarations whose `name` is a property key, not a reference. */
const PROPERTY_NAMES = new Set<ts.SyntaxKind>([
  ts.SyntaxKind.PropertyAssignment,
  ts.SyntaxKind.PropertyDeclaration,
  ts.SyntaxKind.PropertySignature,
  ts.SyntaxKind.MethodDeclaration,
  ts.SyntaxKind.MethodSignature,
  ts.SyntaxKind.GetAccessor,
  ts.SyntaxKind.SetAccessor,
  ts.SyntaxKind.EnumMember,
  ts.SyntaxKind.PropertyAccessExpression,
  ts.SyntaxKind.QualifiedName,
]);

function moduleSpecifierProblem(specifier: string): string | undefined {
  if (specifier.startsWith(".")) return undefined;
  if (specifier.startsWith("node:") || NODE_BUILTINS.has(specifier.split("/")[0]!)) {
    return `imports the Node module '${specifier}'`;
  }
  const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!;
  return ALLOWED_PACKAGES.has(name) ? undefined : `imports '${specifier}' (the core may import only relative files and zod)`;
}

/** Every runtime-specific reference in one source file, as `file:line:col message`. */
export function findViolations(file: string, source: string): string[] {
  const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const report = (node: ts.Node, message: string): void => {
    const { line, character } = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile));
    found.push(`${file}:${line + 1}:${character + 1} ${message}`);
  };
  const isGlobalObject = (node: ts.Expression): boolean => ts.isIdentifier(node) && GLOBAL_OBJECTS.has(node.text);

  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.has(node.text)) {
      const parent = node.parent;
      const isPropertyName = PROPERTY_NAMES.has(parent.kind) && (parent as { name?: ts.Node }).name === node;
      const viaGlobalObject = ts.isPropertyAccessExpression(parent) && isGlobalObject(parent.expression);
      if (!isPropertyName || viaGlobalObject) report(node, `references '${node.text}'`);
    } else if (
      ts.isElementAccessExpression(node) &&
      isGlobalObject(node.expression) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      FORBIDDEN_GLOBALS.has(node.argumentExpression.text)
    ) {
      report(node, `references '${node.argumentExpression.text}'`);
    } else if (ts.isStringLiteralLike(node)) {
      const parent = node.parent;
      const isSpecifier =
        ((ts.isImportDeclaration(parent) || ts.isExportDeclaration(parent)) && parent.moduleSpecifier === node) ||
        (ts.isCallExpression(parent) &&
          (parent.expression.kind === ts.SyntaxKind.ImportKeyword ||
            (ts.isIdentifier(parent.expression) && parent.expression.text === "require"))) ||
        ts.isExternalModuleReference(parent) ||
        (ts.isLiteralTypeNode(parent) && ts.isImportTypeNode(parent.parent));
      const problem = isSpecifier ? moduleSpecifierProblem(node.text) : undefined;
      if (problem !== undefined) report(node, problem);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return found;
}

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** mod.ts and every script under src/, relative to the repository root. */
function coreFiles(): string[] {
  const files = ["mod.ts"];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.[cm]?[jt]s$/.test(entry.name)) files.push(relative(ROOT, path));
    }
  };
  walk(join(ROOT, "src"));
  return files;
}

describe("guard: the core is runtime-agnostic", () => {
  it("has no reference to process, Deno, Bun, Buffer, require or a Node module in mod.ts and src/", () => {
    const files = coreFiles();
    expect(files.length).toBeGreaterThan(5);
    const violations = files.flatMap((file) => findViolations(file, readFileSync(join(ROOT, file), "utf8")));
    expect(violations).toEqual([]);
    // It parses every core file (2.6 s alone on the shared machine; over 5 s under a full run's load).
  }, 30_000);

  it("catches each kind of violation", () => {
    const source = [
      `import { readFile } from "node:fs/promises";`,
      `import { EventEmitter } from "events";`,
      `export * from "cockatiel";`,
      `const env = process.env.HOME;`,
      `const isDeno = typeof Deno !== "undefined";`,
      `const bun = globalThis.Bun;`,
      `const bytes = Buffer.from("x");`,
      `const fs = require("fs");`,
      `const late = await import("node:os");`,
      `const sneaky = globalThis["process"];`,
      `type T = import("node:http").Server;`,
    ].join("\n");
    expect(findViolations("bad.ts", source)).toEqual([
      "bad.ts:1:26 imports the Node module 'node:fs/promises'",
      "bad.ts:2:30 imports the Node module 'events'",
      "bad.ts:3:15 imports 'cockatiel' (the core may import only relative files and zod)",
      "bad.ts:4:13 references 'process'",
      "bad.ts:5:23 references 'Deno'",
      "bad.ts:6:24 references 'Bun'",
      "bad.ts:7:15 references 'Buffer'",
      "bad.ts:8:12 references 'require'",
      "bad.ts:8:20 imports the Node module 'fs'",
      "bad.ts:9:27 imports the Node module 'node:os'",
      "bad.ts:10:16 references 'process'",
      "bad.ts:11:17 imports the Node module 'node:http'",
    ]);
  });

  it("ignores comments, strings and property names", () => {
    const source = [
      `// process-wide defaults; Deno and Bun run this too; never require("fs")`,
      `/** Works without Buffer or node:crypto. */`,
      `import { z } from "zod";`,
      `import { clock } from "./clock.ts";`,
      `const message = "the process is not a Buffer";`,
      `const options = { process: 1, Deno: 2 };`,
      `interface Meta { readonly Bun: string; require(): void }`,
      `const step = options.process + options.Deno;`,
    ].join("\n");
    expect(findViolations("good.ts", source)).toEqual([]);
  });
});
