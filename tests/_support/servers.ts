// Private database servers for the adapter tests: a `redis-server` and a
// PostgreSQL cluster, each in its own temp dir on a free loopback port,
// started once per test file and removed afterwards, even when a test
// fails. Works as root (CI: PostgreSQL refuses root, so the cluster belongs
// to `nobody`) and as a normal user. Runs on Node, Deno and Bun (node: APIs).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const HOST = "127.0.0.1";

/** A free TCP port on loopback (asked of the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, binary))) return join(dir, binary);
  }
  return undefined;
}

function missing(binary: string, aptPackage: string): Error {
  return new Error(
    `${binary} not found: the store adapter tests start their own server. ` +
      `Install it with \`apt-get install -y ${aptPackage}\` (.ci/run does this on CI).`,
  );
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** A temp dir the server's user owns (`nobody` when we are root). */
function serverDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (isRoot) {
    const nobody = spawnSync("id", ["-u", "nobody"], { encoding: "utf8" });
    const group = spawnSync("id", ["-g", "nobody"], { encoding: "utf8" });
    chownSync(dir, Number(nobody.stdout.trim()), Number(group.stdout.trim()));
  }
  return dir;
}

/** `command args` as run by the server's user. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", "nobody", "--", command, ...args]] : [command, args];
}

/** Runs `command` as the server's user; throws with its output on failure. */
function runAsServerUser(command: string, args: string[]): string {
  const done = spawnSync(...asServerUser(command, args), { encoding: "utf8" });
  if (done.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${done.status}): ${done.stdout}${done.stderr}${done.error ?? ""}`);
  }
  return done.stdout;
}

/** Resolves once `probe` succeeds, retrying every 25 ms for up to `ms`. */
async function waitFor(what: string, probe: () => Promise<boolean>, ms: number, log: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what} did not become ready within ${ms} ms:\n${log()}`);
}

/** Sends one raw line over TCP and resolves to whether the reply starts with `expected`. */
function answers(port: number, line: string | Uint8Array, expected: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.on("connect", () => socket.write(line));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.length >= expected.length) done(reply.startsWith(expected));
    });
  });
}

/** Whether something accepts TCP connections on `port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Every server still running, stopped and removed if the test process exits without `close()`. */
const running = new Set<() => void>();
let exitHookInstalled = false;
function track(stopNow: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    const stopAll = () => {
      for (const stop of running) stop();
      running.clear();
    };
    process.on("exit", stopAll);
    // Deno's test runner ends without Node's "exit" event; it fires "unload".
    if ("Deno" in globalThis) globalThis.addEventListener("unload", stopAll);
  }
  running.add(stopNow);
  return () => running.delete(stopNow);
}

/** A private redis-server. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Kills the server (SIGKILL: the clients see the connection drop). Data is lost (no persistence). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it for good and removes its dir. */
  close(): Promise<void>;
}

/** Starts a private `redis-server` on a free loopback port, in a temp dir, with no persistence. */
export async function startRedis(): Promise<RedisServer> {
  const binary = onPath("redis-server");
  if (!binary) throw missing("redis-server", "redis-server");
  const dir = mkdtempSync(join(tmpdir(), "bulwark-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = "";
  const untrack = track(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  const start = async () => {
    output = "";
    const args = ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir];
    const started = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    started.stdout!.on("data", (chunk) => (output += chunk));
    started.stderr!.on("data", (chunk) => (output += chunk));
    child = started;
    await waitFor("redis-server", () => answers(port, "PING\r\n", "+PONG"), 10_000, () => output);
  };
  const stop = async () => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once("exit", resolve));
    current.kill("SIGKILL");
    await exited;
  };
  try {
    await start();
  } catch (error) {
    await stop();
    untrack();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    throw error;
  }
  return {
    port,
    url: `redis://${HOST}:${port}`,
    stop,
    start,
    async close() {
      await stop();
      untrack();
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    },
  };
}

/** A private PostgreSQL cluster (user `postgres`, trust auth, database `postgres`). */
export interface PostgresServer {
  readonly port: number;
  readonly host: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  /** Stops the server (`pg_ctl stop -m fast`: sessions terminated, data kept): the clients see their connections drop. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with its data. */
  start(): Promise<void>;
  /** Stops it for good and removes the cluster. */
  close(): Promise<void>;
}

/** Where Debian's `postgresql` package puts `initdb` and `pg_ctl` (not on PATH), highest version first. */
function postgresBinDir(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "initdb")));
    versions.sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(base, versions[0]!, "bin");
  }
  const initdb = onPath("initdb");
  return initdb ? join(initdb, "..") : undefined;
}

/** Starts a private PostgreSQL cluster on a free loopback port, in a temp dir. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw missing("PostgreSQL's initdb", "postgresql");
  const dir = serverDir("bulwark-pg-");
  const data = join(dir, "data");
  const logFile = join(dir, "log");
  const port = await freePort();
  const pgCtl = join(bin, "pg_ctl");
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const stopNow = (mode = "immediate") => {
    if (existsSync(join(data, "postmaster.pid"))) {
      spawnSync(...asServerUser(pgCtl, ["-D", data, "-m", mode, "-w", "stop"]));
    }
  };
  const untrack = track(() => {
    stopNow();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });
  // Speed over durability: a throwaway cluster.
  const options = `-p ${port} -k ${dir} -c listen_addresses=${HOST} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60`;
  const start = async () => {
    runAsServerUser(pgCtl, ["-D", data, "-o", options, "-l", logFile, "-w", "-t", "30", "start"]);
    // SSLRequest answered by 'N': the postmaster accepts connections.
    await waitFor("PostgreSQL", () => answers(port, Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f), "N"), 10_000, readLog);
  };
  const stop = async () => {
    stopNow("fast");
    const deadline = Date.now() + 10_000;
    while ((await listening(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  };
  try {
    runAsServerUser(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);
    await start();
  } catch (error) {
    stopNow();
    untrack();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    throw error;
  }
  return {
    port,
    host: HOST,
    url: `postgres://postgres@${HOST}:${port}/postgres`,
    stop,
    start,
    async close() {
      stopNow();
      untrack();
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    },
  };
}
