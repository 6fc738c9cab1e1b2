// Drives the Worker: 200 concurrent limited requests per key; breaker trip; 200 concurrent calls while open.
const base = process.argv[2] ?? "http://127.0.0.1:8791";
const dep = "http://127.0.0.1:18901";
const count = async () => Number(await (await fetch(`${dep}/count`)).text());
const burst = async (path, n) => {
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: n }, () => fetch(base + path).then(async (r) => ({ status: r.status, source: r.headers.get("x-source"), body: await r.text() }))));
  const byStatus = {};
  for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  return { ms: Math.round(performance.now() - t0), byStatus, sources: [...new Set(answers.map((a) => a.source))] };
};
const run = Date.now();
for (const key of [`a-${run}`, `b-${run}`]) console.log(`200 concurrent /limited?key=${key}:`, JSON.stringify(await burst(`/limited?key=${key}`, 200)));
console.log("again, same key (blocked):", JSON.stringify(await burst(`/limited?key=a-${run}`, 200)));

await fetch(`${dep}/heal`);
console.log("healthy /dep:", (await fetch(`${base}/dep`)).status, "state", await (await fetch(`${base}/state`)).text());
await fetch(`${dep}/fail`);
const before = await count();
const statuses = [];
for (let i = 0; i < 4; i++) statuses.push((await fetch(`${base}/dep`)).status);
const afterTrip = await count();
console.log(`failing dependency, 4 sequential /dep: ${statuses.join(",")}; dependency calls ${afterTrip - before}`);
console.log("200 concurrent /dep while open:", JSON.stringify(await burst("/dep", 200)), "dependency calls during:", (await count()) - afterTrip);
console.log("state:", await (await fetch(`${base}/state`)).text());
