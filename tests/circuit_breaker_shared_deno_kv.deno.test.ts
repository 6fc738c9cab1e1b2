// Shared circuit breakers across two Deno processes sharing one Deno KV
// file (issue 9): this process and a child (tests/_support/breaker_deno_child.ts)
// each hold an instance of one breaker. Real time: the breakers refresh
// every 200 ms and probe 1.5 s after opening.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DenoKvStore, type DenoKvLike } from "../adapters/deno/mod.ts";
import { burst, callDependency, fleetBreaker, hits, REFRESH_MS, RESET_TIMEOUT_MS, sleep } from "./_support/breaker_fleet.ts";

type Kv = DenoKvLike & { close(): void };
const deno = (globalThis as unknown as { Deno: { openKv(path?: string): Promise<Kv> } }).Deno;
const CHILD = fileURLToPath(new URL("./_support/breaker_deno_child.ts", import.meta.url));

/** The child, its output so far, a way to send it "go", and its exit. */
function startChild(path: string) {
  const child = spawn(process.execPath, ["run", "--unstable-kv", "--allow-all", CHILD, path], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Uint8Array) => (output += new TextDecoder().decode(chunk)));
  child.stderr!.on("data", (chunk: Uint8Array) => (output += new TextDecoder().decode(chunk)));
  const done = new Promise<void>((resolve, reject) =>
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`child exited with ${code}:\n${output}`))))
  );
  return {
    get output() {
      return output;
    },
    go: () => child.stdin!.write("go\n"),
    done,
  };
}

async function printed(child: { output: string }, marker: RegExp): Promise<RegExpExecArray> {
  const start = Date.now();
  for (;;) {
    const found = marker.exec(child.output);
    if (found !== null) return found;
    if (Date.now() - start > 30_000) throw new Error(`child never printed ${marker}:\n${child.output}`);
    await sleep(10);
  }
}

describe("shared circuit breakers in two Deno processes on one Deno KV file", () => {
  let dir = "";
  let kv: Kv | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-breaker-kv-"));
    kv = await deno.openKv(join(dir, "kv.sqlite3"));
  });
  afterEach(async () => {
    kv?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it("tripped in the other process: open here within the refresh interval; in half-open, 200 concurrent calls across both make exactly one probe", async () => {
    const store = new DenoKvStore({ kv: kv!, timeoutMs: 30_000 });
    const breaker = fleetBreaker(store);
    expect(await callDependency(breaker, store)).toBe("ran");
    const child = startChild(join(dir, "kv.sqlite3"));
    await printed(child, /ready\n/);
    child.go();
    expect((await printed(child, /tripped:(\w+)/))[1]).toBe("open");
    const tripped = Date.now();
    let seenAfterMs = -1;
    while (Date.now() - tripped < 5_000) {
      if ((await callDependency(breaker, store)) === "refused") {
        seenAfterMs = Date.now() - tripped;
        break;
      }
      await sleep(10);
    }
    console.log(`bulwark-propagation deno-kv: open seen by the other process after ${seenAfterMs} ms (refreshMs ${REFRESH_MS})`);
    expect(seenAfterMs).toBeGreaterThanOrEqual(0);
    expect(seenAfterMs).toBeLessThan(REFRESH_MS + 1_000);

    await sleep(RESET_TIMEOUT_MS);
    const before = await hits(store);
    child.go();
    let answeredHere = 0;
    const here = burst(breaker, store, 100, (answered) => (answeredHere = answered));
    const start = Date.now();
    while (Date.now() - start < 30_000) {
      const there = Number(/answered:(\d+)\n(?![\s\S]*answered:)/.exec(child.output)?.[1] ?? 0);
      if (answeredHere + there >= 199) break;
      await sleep(10);
    }
    await store.set("release", true);
    const [mine] = await Promise.all([here, child.done]);
    const theirs = JSON.parse((await printed(child, /results:(.*)\n/))[1]!) as { ran: number; refused: number };
    const probes = (await hits(store)) - before;
    console.log(`bulwark-probes deno-kv: ${probes} of 200 concurrent half-open calls reached the dependency`);
    expect(probes).toBe(1);
    expect(mine.ran + theirs.ran).toBe(1);
    expect(mine.refused + theirs.refused).toBe(199);
  }, 60_000);
});
