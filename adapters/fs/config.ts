/**
 * Loads process-wide defaults from a JSON file, the counterpart of the seeds'
 * `kstlib.conf.yml`. Works wherever `node:fs` does: Node, Deno and Bun.
 *
 * The file holds the object {@link configure} takes, for example:
 *
 * ```json
 * { "circuitBreaker": { "maxFailures": 3, "resetTimeoutMs": 10000 } }
 * ```
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { ConfigError, configure, type Defaults, validateDefaults } from "../../mod.ts";

/** The file name looked for by default, in the current working directory. */
export const DEFAULT_CONFIG_FILE = "bulwark.config.json";

/** Options of {@link loadConfigFile}. */
export interface LoadConfigFileOptions {
  /** When the file does not exist, keep the current defaults instead of throwing. Default `false`. */
  optional?: boolean;
}

/**
 * Reads `path` (default `bulwark.config.json`), validates it and applies it
 * with {@link configure}. Returns the defaults applied, or `undefined` when
 * the file is missing and `optional` is set. A file that is not valid JSON,
 * holds anything but an object (`null`, `[]`), or a bad value, throws
 * {@link ConfigError} naming the file and every bad field, and leaves the
 * current defaults untouched. A UTF-8 byte-order mark is skipped.
 *
 * @example
 * ```ts
 * import { loadConfigFile } from "bulwark/fs";
 * await loadConfigFile("bulwark.config.json", { optional: true });
 * ```
 */
export async function loadConfigFile(
  path: string = DEFAULT_CONFIG_FILE,
  options: LoadConfigFileOptions = {},
): Promise<Defaults | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (options.optional && (error as { code?: string }).code === "ENOENT") return undefined;
    throw error;
  }
  // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse refuses.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [{
      field: "(file)",
      value: text.length > 40 ? `${text.slice(0, 37)}...` : text,
      allowed: `valid JSON (${(error as Error).message})`,
    }]);
  }
  const defaults = validateDefaults(parsed, path);
  configure(defaults);
  return defaults;
}
