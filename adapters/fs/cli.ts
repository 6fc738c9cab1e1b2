/**
 * The `bulwark` command line, dependency-free, for Node, Deno and Bun:
 *
 * ```
 * bulwark heartbeat check <file> [--max-age 30s] [--key heartbeat]
 * bulwark heartbeat show <file> [--key heartbeat]
 * ```
 *
 * `check` exits 0 when the heartbeat in the state file is at most
 * `--max-age` old (default 30 s), 1 otherwise, and prints one line saying
 * why: fit for a Kubernetes exec probe or a systemd `ExecCondition`.
 * `show` prints the state as JSON. Usage errors exit 2.
 *
 * @module
 */
import { Heartbeat } from "./heartbeat.ts";

/** Where the command line writes; the real process's streams by default. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `usage:
  bulwark heartbeat check <file> [--max-age <duration>] [--key <key>]
      exit 0 if the heartbeat in <file> is at most <duration> old (default 30s), else 1
  bulwark heartbeat show <file> [--key <key>]
      print the heartbeat state in <file> as JSON
durations: 500ms, 30s, 5m, 1h`;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in a duration such as `"30s"`, `"500ms"`, `"5m"` or `"1h"`;
 * `undefined` for anything else (a bare number is refused: seconds or
 * milliseconds would be a guess).
 *
 * @example
 * ```ts
 * import { parseDuration } from "bulwark/fs";
 * if (parseDuration("30s") !== 30_000 || parseDuration("30") !== undefined) throw new Error("durations");
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  return match ? Number(match[1]) * UNITS[match[2]!]! : undefined;
}

interface Parsed {
  readonly command: "check" | "show";
  readonly file: string;
  readonly maxAgeMs: number;
  readonly key: string;
}

function parse(args: readonly string[]): Parsed | string {
  const positional: string[] = [];
  let maxAge = "30s";
  let key = "heartbeat";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (flag === "--max-age" || flag === "--key") {
      const value = inline ?? args[++i];
      if (value === undefined) return `${flag} needs a value`;
      if (flag === "--max-age") maxAge = value;
      else key = value;
    } else if (arg.startsWith("-") && arg !== "-") return `unknown option ${arg}`;
    else positional.push(arg);
  }
  const [group, command, file, ...extra] = positional;
  if (group !== "heartbeat") return group === undefined ? "no command given" : `unknown command '${group}'`;
  if (command !== "check" && command !== "show") return `unknown heartbeat command '${command ?? ""}'`;
  if (file === undefined || file === "") return `heartbeat ${command} needs a state file`;
  if (extra.length > 0) return `unexpected argument '${extra[0]}'`;
  const maxAgeMs = parseDuration(maxAge);
  if (maxAgeMs === undefined) return `--max-age must be a duration such as 30s, 500ms, 5m or 1h: current value is '${maxAge}'`;
  if (key === "") return "--key must not be empty";
  return { command, file, maxAgeMs, key };
}

/**
 * Runs the command line with `args` (without the program name) and
 * resolves to the exit code. Never rejects: every failure is a line on
 * `err` and a non-zero code.
 *
 * @example
 * ```ts
 * import { runCli } from "bulwark/fs";
 * const lines: string[] = [];
 * const code = await runCli(["heartbeat", "check", "/nonexistent/app.heartbeat"], {
 *   out: (line) => lines.push(line),
 *   err: (line) => lines.push(line),
 * });
 * if (code !== 1 || !lines[0]?.startsWith("no heartbeat")) throw new Error(lines.join("\n"));
 * ```
 */
export async function runCli(args: readonly string[], output: CliOutput = consoleOutput): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    output.out(USAGE);
    return 0;
  }
  const parsed = parse(args);
  if (typeof parsed === "string") {
    output.err(`bulwark: ${parsed}\n${USAGE}`);
    return 2;
  }
  try {
    if (parsed.command === "show") {
      const state = await Heartbeat.readState(parsed.file, { key: parsed.key });
      if (state === undefined) {
        const checked = await Heartbeat.check(parsed.file, parsed.maxAgeMs, { key: parsed.key });
        output.err(explain(checked.reason, parsed.file));
        return 1;
      }
      output.out(JSON.stringify(state, null, 2));
      return 0;
    }
    const checked = await Heartbeat.check(parsed.file, parsed.maxAgeMs, { key: parsed.key });
    if (checked.alive) output.out(checked.reason);
    else output.err(explain(checked.reason, parsed.file));
    return checked.alive ? 0 : 1;
  } catch (error) {
    output.err(`bulwark: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

function explain(reason: string, file: string): string {
  return reason.startsWith("no heartbeat found") ? `no heartbeat found in ${file} (missing, or never written)` : reason;
}

const consoleOutput: CliOutput = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};
