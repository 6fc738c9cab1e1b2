/**
 * A {@link Store} in one named file: the heartbeat's state file, which a
 * Kubernetes probe, systemd or `bulwark heartbeat check <file>` reads by
 * path. Works wherever `node:fs` does: Node, Deno and Bun.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import {
  type Json,
  type RawEntry,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreAdapterOptionShape,
  type StoreCapabilities,
} from "../../mod.ts";
import { satisfying } from "../../src/validation.ts";

/** Options of {@link StateFileStore}. */
export interface StateFileStoreOptions extends StoreAdapterOptions {
  /** The file (its directory must exist). Required. */
  path: string;
}

/** Marks a file as one of ours, so that a store never writes over a file it did not create. */
const FORMAT = "bulwark-state-file/1";

interface FileEntry {
  readonly version: string;
  readonly expiresAt: number | null;
  readonly value: Json;
}

type Entries = Record<string, FileEntry>;

let ownOptions: StoreAdapterOptionShape | undefined;

function fileOptions(): StoreAdapterOptionShape {
  const allowed = "a non-empty string (a file path)";
  return (ownOptions ??= { path: satisfying<string>((value) => typeof value === "string" && value !== "", allowed) });
}

function errorCode(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * A store whose keys all live in one JSON file, for a little state that a
 * person or another program finds by its path: above all the heartbeat's
 * `stateFile`. (For many keys, or writes from many processes, use
 * `FileStore`: one file per key, with locks.)
 *
 * - Every write goes to a temporary file beside it, then `rename`s over it:
 *   a reader sees the old content or the new, never a torn file.
 * - Writes of this store are serialized in this process; across processes
 *   the last writer wins, so conditional writes are not atomic there
 *   (`atomic: false`). One writer per file, as a heartbeat is.
 * - It never writes over a file it did not create (one that is not its JSON
 *   format): such a file, or a directory at `path`, fails every operation
 *   with a `StoreError` that says so.
 *
 * @example
 * ```ts
 * import { StateFileStore } from "bulwark/fs";
 * import { mkdtemp, readFile, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 *
 * const directory = await mkdtemp(join(tmpdir(), "bulwark-state-"));
 * const store = new StateFileStore({ path: join(directory, "app.state") });
 * await store.set("greeting", "hello");
 * if ((await store.get("greeting"))?.value !== "hello") throw new Error("not stored");
 * if (!(await readFile(join(directory, "app.state"), "utf8")).includes("hello")) throw new Error("not in the file");
 * await rm(directory, { recursive: true, force: true });
 * ```
 */
export class StateFileStore extends StoreAdapter {
  /** `"state-file"`. */
  readonly name: string = "state-file";
  /** Strong on one host; not atomic across processes. */
  readonly capabilities: StoreCapabilities = {
    atomic: false,
    consistency: "strong",
    maxKeyBytes: 1024,
    maxValueBytes: 1_048_576,
    minTtlMs: 0,
    minWriteIntervalMs: 0,
    runsTransitions: false,
  };
  /** The file. */
  readonly path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: StateFileStoreOptions) {
    super("StateFileStore", options, fileOptions());
    this.path = (this.adapterOptions as { path: string }).path;
  }

  protected async getRaw(key: string): Promise<RawEntry | undefined> {
    return toRaw((await this.#load())[key]);
  }

  protected setRaw(key: string, write: RawWrite): Promise<string> {
    return this.#modify((entries) => {
      entries[key] = fromWrite(write);
      return write.version;
    });
  }

  protected deleteRaw(key: string, _options: unknown, nowMs: number): Promise<boolean> {
    return this.#modify((entries) => {
      const found = entries[key];
      if (found === undefined) return false;
      delete entries[key];
      return found.expiresAt === null || found.expiresAt > nowMs;
    });
  }

  protected insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    return this.#modify((entries): RawWriteResult => {
      const found = entries[key];
      if (found !== undefined && (found.expiresAt === null || found.expiresAt > write.nowMs)) {
        return { ok: false, current: toRaw(found) };
      }
      entries[key] = fromWrite(write);
      return { ok: true, version: write.version };
    });
  }

  protected compareAndSetRaw(key: string, expectedVersion: string, write: RawWrite): Promise<RawWriteResult> {
    return this.#modify((entries): RawWriteResult => {
      const found = entries[key];
      const live = found !== undefined && (found.expiresAt === null || found.expiresAt > write.nowMs);
      if (!live || found.version !== expectedVersion) return { ok: false, current: toRaw(found) };
      entries[key] = fromWrite(write);
      return { ok: true, version: write.version };
    });
  }

  protected compareAndDeleteRaw(key: string, expectedVersion: string): Promise<boolean> {
    return this.#modify((entries) => {
      if (entries[key]?.version !== expectedVersion) return false;
      delete entries[key];
      return true;
    });
  }

  /** Reads the file: `{}` if it does not exist; throws a clear error for a directory or a foreign file. */
  async #load(): Promise<Entries> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT") return Object.create(null) as Entries;
      if (code === "EISDIR") throw new Error(`${this.path} is a directory, not a state file`);
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${this.path} is not a state file (not JSON: ${JSON.stringify(text.slice(0, 40))}); not touching it`);
    }
    const record = parsed as { format?: unknown; entries?: unknown } | null;
    if (
      typeof record !== "object" || record === null || record.format !== FORMAT ||
      typeof record.entries !== "object" || record.entries === null
    ) {
      throw new Error(`${this.path} is not a state file (no "format": "${FORMAT}"); not touching it`);
    }
    // Without a prototype: a key such as "constructor" or "__proto__" (a
    // store without prefix) is an entry like any other, never a member of Object.
    return Object.assign(Object.create(null) as Entries, record.entries);
  }

  /** Runs `change` on the file's entries and writes them back through a temporary file and a rename, one change at a time. */
  #modify<T>(change: (entries: Entries) => T): Promise<T> {
    const run = this.#queue.then(async () => {
      const entries = await this.#load();
      const result = change(entries);
      const temporary = `${this.path}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await writeFile(temporary, `${JSON.stringify({ format: FORMAT, entries }, null, 2)}\n`, { flag: "wx" });
        await rename(temporary, this.path);
      } catch (error) {
        await unlink(temporary).catch(() => {});
        if (errorCode(error) === "EISDIR" || errorCode(error) === "ENOTDIR") {
          throw new Error(`${this.path} is a directory, not a state file`, { cause: error });
        }
        throw error;
      }
      return result;
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}

function toRaw(entry: FileEntry | undefined): RawEntry | undefined {
  return entry === undefined
    ? undefined
    : { value: entry.value, version: entry.version, expiresAt: entry.expiresAt ?? undefined };
}

function fromWrite(write: RawWrite): FileEntry {
  return { version: write.version, expiresAt: write.expiresAt ?? null, value: write.value };
}
