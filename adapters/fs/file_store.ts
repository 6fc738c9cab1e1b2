/**
 * A {@link Store} in a directory: one file per key. Works wherever `node:fs`
 * does: Node, Deno and Bun.
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { integer, optional, satisfying } from "../../src/validation.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  isLive,
  type Json,
  type RawEntry,
  type RawWrite,
  type RawWriteResult,
  StoreAdapter,
  type StoreAdapterOptions,
  type StoreAdapterOptionShape,
  type StoreCapabilities,
  type Transition,
  UNCHANGED,
} from "../../mod.ts";

/** Options of {@link FileStore}. */
export interface FileStoreOptions extends StoreAdapterOptions {
  /** The directory holding the files (created on first use). Required. */
  directory: string;
  /** Longest key, in UTF-8 bytes, prefix included. Default `1024` (file names are hashes, so any length fits). */
  maxKeyBytes?: number;
  /** Largest value, in UTF-8 bytes of its JSON. Default `1_048_576` (1 MiB). */
  maxValueBytes?: number;
  /**
   * A lock file older than this is taken to be left by a crashed process and
   * removed, in ms. Default `10_000` (far above any operation, which
   * `timeoutMs` bounds).
   */
  lockStaleMs?: number;
}

let ownOptions: StoreAdapterOptionShape | undefined;

function fileOptions(): StoreAdapterOptionShape {
  const nonEmpty = "a non-empty string (a directory path)";
  return (ownOptions ??= {
    directory: satisfying<string>((value) => typeof value === "string" && value !== "", nonEmpty),
    // integer(1)'s own message is "an integer >= 1"; lockStaleMs says its unit.
    maxKeyBytes: optional(integer(1)),
    maxValueBytes: optional(integer(1)),
    lockStaleMs: optional(satisfying<number>((value) => Number.isSafeInteger(value) && (value as number) >= 1, "an integer >= 1 (ms)")),
  });
}

function errorCode(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * A store in a directory, one file per key, for state on one host: a
 * heartbeat, a breaker's state that survives a restart, idempotency records
 * of a single server.
 *
 * - File names are the SHA-256 of the full key, so any key is a safe name,
 *   on any file system, case-insensitive ones included.
 * - Every write goes to a temporary file, then `rename`s over the key's file:
 *   a reader (in this process or another) sees the old value or the new one,
 *   never a torn one.
 * - Writes take the key's lock file (created with `O_EXCL`, removed after),
 *   so `insertIfAbsent`, `compareAndSet` and `update` are atomic across every
 *   process of the host that shares the directory: `atomic: true`, strong
 *   consistency. `update` runs its transition while holding the lock (one
 *   read, one write, no retry loop). The limits of that claim: a local file system (network file
 *   systems may not honour `O_EXCL`), and a process that crashes while
 *   holding a lock leaves it for `lockStaleMs`, after which it is broken.
 * - TTL is kept in the file and checked on read; expired files stay until
 *   rewritten, deleted, or removed by {@link FileStore.sweep}.
 * - Waiting for a lock backs off on the store's `clock`; use the system
 *   clock (the default) unless you drive time by hand.
 *
 * @example
 * ```ts
 * import { FileStore } from "bulwark/fs";
 * import { mkdtemp, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 *
 * const directory = await mkdtemp(join(tmpdir(), "bulwark-store-"));
 * const store = new FileStore({ directory });
 * await store.set("heartbeat", { at: Date.now() });
 * const claimed = await store.insertIfAbsent("heartbeat", { at: 0 });
 * if (claimed.ok) throw new Error("the key exists");
 * await rm(directory, { recursive: true, force: true });
 * ```
 */
export class FileStore extends StoreAdapter {
  /** `"file"`. */
  readonly name: string = "file";
  /** Atomic and strong on one host; the limits configured. */
  readonly capabilities: StoreCapabilities;
  /** Where the files are. */
  readonly directory: string;
  readonly #lockStaleMs: number;
  #ready: Promise<unknown> | undefined;
  // Writers of one key in this process queue here, so only one at a time contends for the lock file.
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: FileStoreOptions) {
    super("FileStore", options, fileOptions());
    const own = this.adapterOptions as Pick<FileStoreOptions, "directory" | "maxKeyBytes" | "maxValueBytes" | "lockStaleMs">;
    this.directory = own.directory;
    this.#lockStaleMs = own.lockStaleMs ?? 10_000;
    this.capabilities = {
      atomic: true,
      consistency: "strong",
      maxKeyBytes: own.maxKeyBytes ?? 1024,
      maxValueBytes: own.maxValueBytes ?? 1_048_576,
      minTtlMs: 0,
      minWriteIntervalMs: 0,
      // A transition runs while the key's lock is held: one read and one write, no retry loop.
      runsTransitions: true,
    };
  }

  /**
   * Deletes every expired entry's file; resolves to how many. Call it now
   * and then (expired entries are otherwise removed only when rewritten or
   * deleted).
   *
   * @example
   * ```ts
   * import { FileStore } from "bulwark/fs";
   * import { mkdtemp, rm } from "node:fs/promises";
   * import { tmpdir } from "node:os";
   * import { join } from "node:path";
   *
   * const directory = await mkdtemp(join(tmpdir(), "bulwark-sweep-"));
   * const store = new FileStore({ directory });
   * await store.set("brief", 1, { ttlMs: 1 });
   * await new Promise((resolve) => setTimeout(resolve, 5));
   * if ((await store.sweep()) !== 1) throw new Error("should remove the expired file");
   * await rm(directory, { recursive: true, force: true });
   * ```
   */
  async sweep(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const path = join(this.directory, name);
      const removedOne = await this.#exclusive(path, async () => {
        const found = await this.#read(path);
        if (found === undefined || isLive(found, this.clock.wallNow())) return false;
        await unlink(path).catch(() => {});
        return true;
      });
      if (removedOne) removed++;
    }
    return removed;
  }

  protected getRaw(key: string): Promise<RawEntry | undefined> {
    return this.#read(this.#path(key));
  }

  protected setRaw(key: string, write: RawWrite): Promise<string> {
    const path = this.#path(key);
    return this.#exclusive(path, async () => {
      await this.#replace(path, write);
      return write.version;
    });
  }

  protected deleteRaw(key: string, _options: unknown, nowMs: number): Promise<boolean> {
    const path = this.#path(key);
    return this.#exclusive(path, async () => {
      const found = await this.#read(path);
      if (found === undefined) return false;
      await unlink(path);
      return isLive(found, nowMs);
    });
  }

  protected insertRaw(key: string, write: RawWrite): Promise<RawWriteResult> {
    const path = this.#path(key);
    return this.#exclusive(path, async (): Promise<RawWriteResult> => {
      const found = await this.#read(path);
      if (found !== undefined && isLive(found, write.nowMs)) return { ok: false, current: found };
      await this.#replace(path, write);
      return { ok: true, version: write.version };
    });
  }

  protected compareAndSetRaw(key: string, expectedVersion: string, write: RawWrite): Promise<RawWriteResult> {
    const path = this.#path(key);
    return this.#exclusive(path, async (): Promise<RawWriteResult> => {
      const found = await this.#read(path);
      if (found === undefined || found.version !== expectedVersion || !isLive(found, write.nowMs)) {
        return { ok: false, current: found };
      }
      await this.#replace(path, write);
      return { ok: true, version: write.version };
    });
  }

  protected compareAndDeleteRaw(key: string, expectedVersion: string): Promise<boolean> {
    const path = this.#path(key);
    return this.#exclusive(path, async () => {
      const found = await this.#read(path);
      if (found?.version !== expectedVersion) return false;
      await unlink(path);
      return true;
    });
  }

  protected override updateRaw<I extends Json, O extends Json>(
    key: string,
    transition: Transition<I, O>,
    input: I,
  ): Promise<O> {
    const path = this.#path(key);
    return this.#exclusive(path, async () => {
      const nowMs = this.clock.wallNow();
      const found = await this.#read(path);
      const current = found !== undefined && isLive(found, nowMs) ? found : undefined;
      const result = this.applyTransition(transition, current?.value, input, nowMs);
      if (result.next === UNCHANGED) return result.output;
      if (result.next === undefined) {
        if (found !== undefined) await unlink(path);
      } else {
        await this.#replace(path, this.prepareWrite(result.json!, result.next, result.ttlMs, nowMs));
      }
      return result.output;
    });
  }

  #path(key: string): string {
    return join(this.directory, `${createHash("sha256").update(key).digest("hex")}.json`);
  }

  async #read(path: string): Promise<RawEntry | undefined> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined;
      throw error;
    }
    return decodeEnvelope(text);
  }

  /** Writes a temporary file beside `path` and renames it over `path`: readers see all of it or none. */
  async #replace(path: string, write: RawWrite): Promise<void> {
    const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFile(temporary, encodeEnvelope(write.json, write.version, write.expiresAt), { flag: "wx" });
      await rename(temporary, path);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
  }

  /** Runs `work` holding the lock of `path`: first in this process's queue for it, then its lock file. */
  #exclusive<T>(path: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(path) ?? Promise.resolve();
    const run = previous.then(async () => {
      await (this.#ready ??= mkdir(this.directory, { recursive: true }));
      const release = await this.#lock(`${path}.lock`);
      try {
        return await work();
      } finally {
        await release();
      }
    });
    const settled = run.then(() => {}, () => {});
    this.#queues.set(path, settled);
    void settled.then(() => {
      if (this.#queues.get(path) === settled) this.#queues.delete(path);
    });
    return run;
  }

  /** Takes the lock file (exclusive create), waiting with backoff at most `timeoutMs`; resolves to its release. */
  async #lock(lockPath: string): Promise<() => Promise<void>> {
    // The operation's own timeout (the base's timer) fires first, even on a
    // stalled event loop; this only ends the wait behind it.
    const patienceMs = 2 * this.timeoutMs + 1_000;
    const deadline = this.clock.now() + patienceMs;
    const token = randomBytes(8).toString("hex");
    for (let attempt = 0;; attempt++) {
      try {
        const handle = await open(lockPath, "wx");
        try {
          await handle.writeFile(token);
        } finally {
          await handle.close();
        }
        return () => unlink(lockPath).catch(() => {});
      } catch (error) {
        if (errorCode(error) !== "EEXIST") throw error;
      }
      try {
        const { mtimeMs } = await stat(lockPath);
        // Left by a process that crashed while holding it: no live holder keeps a lock this long.
        if (Date.now() - mtimeMs > this.#lockStaleMs) {
          await unlink(lockPath).catch(() => {});
          continue;
        }
      } catch (error) {
        if (errorCode(error) === "ENOENT") continue;
        throw error;
      }
      if (this.clock.now() >= deadline) throw new Error(`lock ${lockPath} still held after ${patienceMs} ms`);
      await this.clock.sleep(Math.random() * Math.min(20, 1 + attempt));
    }
  }
}
