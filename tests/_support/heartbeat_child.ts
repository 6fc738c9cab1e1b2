// A child process for tests/heartbeat_cli.node.test.ts: beats into a state
// file every 50 ms, prints "ready" after the first beat, runs until killed.
import process from "node:process";
import { Heartbeat } from "../../adapters/fs/mod.ts";

const heartbeat = new Heartbeat({ stateFile: process.argv[2]!, intervalMs: 50, metadata: { role: "child" } });
await heartbeat.start();
process.stdout.write("ready\n");
