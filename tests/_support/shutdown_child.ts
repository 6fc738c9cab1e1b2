// A child process for tests/shutdown.node.test.ts: installs a graceful
// shutdown with the current runtime's signal source, prints "ready", and
// prints each clean-up callback's name as it runs.
//   shutdown_child.ts ok       two callbacks, then a normal exit (exitCode 0)
//   shutdown_child.ts hang     a callback that never ends; total timeout 400 ms, forceExitCode 3
//   shutdown_child.ts stuck    the same with a total timeout of 20 s (only a second signal ends it soon)
//   shutdown_child.ts restore  install then uninstall: SIGTERM's default action must be back
import process from "node:process";
import { denoSignals } from "../../adapters/deno/mod.ts";
import { nodeSignals } from "../../adapters/node/mod.ts";
import { GracefulShutdown } from "../../mod.ts";

const mode = process.argv[2];
const signalSource = "Deno" in globalThis ? denoSignals() : nodeSignals();
const print = (line: string) => process.stdout.write(`${line}\n`);

const shutdown = new GracefulShutdown({ signalSource, timeoutMs: mode === "hang" ? 400 : mode === "stuck" ? 20_000 : 5_000, forceExitCode: 3 }).install();
shutdown.register("second", () => print("cleanup:second"), { priority: 20 });
shutdown.register("first", async () => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  print("cleanup:first");
}, { priority: 10 });
if (mode === "hang" || mode === "stuck") shutdown.register("hangs", () => new Promise(() => print("cleanup:hangs")), { priority: 15 });
if (mode === "restore") shutdown.uninstall();
shutdown.on("shutdown", ({ reason }) => print(`shutdown:${reason}`));

// Keeps the process alive until a signal ends it (a server would).
setInterval(() => {}, 1_000);
print("ready");
