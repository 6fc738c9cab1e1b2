/**
 * The heartbeat on a file system (Node, Deno, Bun): `stateFile`, the
 * writer's real pid and host name, and readers that take a path.
 *
 * @module
 */
import { hostname } from "node:os";
import process from "node:process";
import {
  ConfigError,
  Heartbeat as CoreHeartbeat,
  type HeartbeatCheck,
  type HeartbeatOptions,
  type HeartbeatReadOptions,
  type HeartbeatState,
  type HeartbeatWatchdogOptions,
  type Store,
  Watchdog as CoreWatchdog,
} from "../../mod.ts";
import { StateFileStore } from "./state_file.ts";

/**
 * The store for the heartbeat state file at `path` (a {@link StateFileStore}),
 * or `storeOrFile` itself when it is already a store.
 *
 * @example
 * ```ts
 * import { heartbeatStore, StateFileStore } from "bulwark/fs";
 * if (!(heartbeatStore("/tmp/app.heartbeat") instanceof StateFileStore)) throw new Error("a file store");
 * ```
 */
export function heartbeatStore(storeOrFile: Store | string): Store {
  return typeof storeOrFile === "string" ? new StateFileStore({ path: storeOrFile }) : storeOrFile;
}

function localHostname(): string | null {
  try {
    return hostname();
  } catch {
    // Deno without --allow-sys refuses it: a beat without a host name is still a beat.
    return null;
  }
}

/** Options of the file-system {@link Heartbeat}: the core's, with `stateFile` honoured. */
export interface FileHeartbeatOptions extends HeartbeatOptions {
  /**
   * The state file: one JSON file, replaced atomically on each beat (a
   * temporary file and a rename). Its directory must exist; a path that
   * cannot be written fails `start()` with `HeartbeatError`.
   */
  stateFile?: string;
}

/**
 * The core {@link CoreHeartbeat | Heartbeat}, on a file system: `stateFile`
 * becomes a {@link StateFileStore}, each beat carries this process's `pid`
 * and host name, and the static readers take a path as well as a store.
 *
 * @example
 * ```ts
 * import { Heartbeat } from "bulwark/fs";
 * import { mkdtemp, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 *
 * const directory = await mkdtemp(join(tmpdir(), "bulwark-heartbeat-"));
 * const stateFile = join(directory, "app.heartbeat");
 * const heartbeat = new Heartbeat({ stateFile, intervalMs: 10_000, metadata: { version: "1.0" } });
 * await heartbeat.start();
 * await heartbeat.shutdown();
 * if (!(await Heartbeat.isAlive(stateFile, 30_000))) throw new Error("should be alive");
 * if ((await Heartbeat.readState(stateFile))?.pid !== process.pid) throw new Error("pid missing");
 * await rm(directory, { recursive: true, force: true });
 * ```
 */
export class Heartbeat extends CoreHeartbeat {
  /** The state file, when the heartbeat writes one. */
  readonly stateFile: string | undefined;

  constructor(options: FileHeartbeatOptions = {}) {
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      super(options);
      this.stateFile = undefined;
      return;
    }
    const { stateFile, ...rest } = options;
    if (stateFile !== undefined && (typeof stateFile !== "string" || stateFile.length === 0)) {
      throw new ConfigError("Heartbeat", [{ field: "stateFile", value: stateFile, allowed: "a non-empty string (a file path)" }]);
    }
    super({
      pid: process.pid,
      hostname: localHostname(),
      ...rest,
      ...(stateFile === undefined ? {} : { store: heartbeatStore(stateFile) }),
    });
    this.stateFile = stateFile;
  }

  /** The heartbeat in `storeOrFile`, or `undefined` if there is none or it cannot be read as one. */
  static override readState(storeOrFile: Store | string, options?: HeartbeatReadOptions): Promise<HeartbeatState | undefined> {
    return CoreHeartbeat.readState(asStore(storeOrFile), options);
  }

  /** {@link CoreHeartbeat.check} on a state file path or a store. */
  static override check(storeOrFile: Store | string, maxAgeMs?: number, options?: HeartbeatReadOptions): Promise<HeartbeatCheck> {
    return CoreHeartbeat.check(asStore(storeOrFile), maxAgeMs, options);
  }

  /** {@link CoreHeartbeat.isAlive} on a state file path or a store. */
  static override isAlive(storeOrFile: Store | string, maxAgeMs?: number, options?: HeartbeatReadOptions): Promise<boolean> {
    return CoreHeartbeat.isAlive(asStore(storeOrFile), maxAgeMs, options);
  }
}

/**
 * The core {@link CoreWatchdog | Watchdog}, whose `fromHeartbeat` also takes
 * a state file path.
 *
 * @example
 * ```ts
 * import { Watchdog } from "bulwark/fs";
 * const watchdog = Watchdog.fromHeartbeat("/var/run/worker.heartbeat", { maxAgeMs: 30_000 });
 * if (watchdog.timeoutMs !== 30_000 || watchdog.isRunning) throw new Error("not started until start()");
 * ```
 */
export class Watchdog extends CoreWatchdog {
  /** {@link CoreWatchdog.fromHeartbeat} on a state file path or a store. */
  static override fromHeartbeat(storeOrFile: Store | string, options?: HeartbeatWatchdogOptions): CoreWatchdog {
    return CoreWatchdog.fromHeartbeat(asStore(storeOrFile), options);
  }
}

/** A path becomes its state file store; anything else goes to the core, which checks it. */
function asStore(storeOrFile: Store | string): Store {
  return typeof storeOrFile === "string" ? heartbeatStore(storeOrFile) : storeOrFile;
}
