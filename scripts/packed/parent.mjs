// Runs two instances (child.mjs) under the command given in CHILD_CMD (JSON
// array), checks the shared breaker's propagation and a distributed limit.
import { spawn } from "node:child_process";
import readline from "node:readline";

const cmd = JSON.parse(process.env.CHILD_CMD);
const run = process.env.RUN ?? `r${Date.now()}`;
const children = ["A", "B"].map((name) => {
  const child = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, RUN: run }, stdio: ["pipe", "pipe", "inherit"], cwd: process.env.CHILD_CWD });
  const waiting = [];
  const events = [];
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    let event;
    try { event = JSON.parse(line); } catch { return console.log(`${name} (raw)`, line); }
    events.push(event);
    if (["storeError", "limiterStoreError", "error", "watchTimeout"].includes(event.event)) console.log(`${name} !!`, line);
    for (const w of [...waiting]) if (w.match(event)) { waiting.splice(waiting.indexOf(w), 1); w.resolve(event); }
  });
  const next = (type) => new Promise((resolve) => {
    const seen = events.find((e) => e.event === type && !e.taken);
    if (seen) { seen.taken = true; return resolve(seen); }
    waiting.push({ match: (e) => e.event === type && (e.taken = true), resolve });
  });
  const send = (command) => child.stdin.write(JSON.stringify(command) + "\n");
  return { name, child, next, send, events };
});
const [a, b] = children;
const t0 = Date.now();
const [ra, rb] = await Promise.all([a.next("ready"), b.next("ready")]);
console.log(`ready after ${Date.now() - t0} ms:`, ra.runtime, "/", rb.runtime);

a.send({ cmd: "warm" }); b.send({ cmd: "warm" });
console.log("warm:", (await a.next("warm")).state, (await b.next("warm")).state);
b.send({ cmd: "watch" });
await new Promise((r) => setTimeout(r, 300 + Math.random() * 400)); // trip at a random phase of B's refresh
a.send({ cmd: "trip" });
const tripped = await a.next("tripped");
const opened = a.events.find((e) => e.event === "stateChange" && e.to === "open");
const seen = await b.next("openSeen");
console.log(`A tripped: state ${tripped.state}, then ${tripped.refusedAfter}/20 calls refused, dependency called ${tripped.dependencyCallsAfter} times`);
console.log(`B saw the opening ${seen.at - opened.at} ms after A's stateChange to open (refreshMs ${process.env.REFRESH_MS ?? 200}); then ${seen.refusedAfter}/20 refused, dependency called ${seen.dependencyCallsAfter} times`);

const key = `k-${run}`;
const atMs = Date.now() + 300;
const n = Number(process.env.N ?? 100);
a.send({ cmd: "limit", n, atMs, key }); b.send({ cmd: "limit", n, atMs, key });
const [la, lb] = await Promise.all([a.next("limited"), b.next("limited")]);
console.log(`limit ${process.env.LIMIT ?? 50}, ${n} + ${n} concurrent limit() calls: A admitted ${la.allowed} in ${la.ms} ms ${JSON.stringify(la.sources)}, B admitted ${lb.allowed} in ${lb.ms} ms ${JSON.stringify(lb.sources)}; total ${la.allowed + lb.allowed}; conflicts ${la.stats.conflicts}+${lb.stats.conflicts}, storeErrors ${la.stats.storeErrors}+${lb.stats.storeErrors}`);
a.send({ cmd: "exit" }); b.send({ cmd: "exit" });
await Promise.all(children.map((c) => new Promise((r) => c.child.on("exit", (code) => r(code)))));
console.log(`both exited; total ${Date.now() - t0} ms`);
