#!/usr/bin/env node
// The `bulwark` executable (package.json "bin"): runs under Node, Deno
// (`deno run -A npm:bulwark ...`) and Bun (`bunx bulwark ...`).
import process from "node:process";
import { runCli } from "./cli.ts";

process.exitCode = await runCli(process.argv.slice(2));
