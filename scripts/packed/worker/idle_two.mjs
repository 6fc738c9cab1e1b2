// Two wrangler dev processes on one --persist-to: instance 2 sits idle, instance 1 trips the shared breaker, then 50 concurrent requests hit instance 2.
const [one, two] = ["http://127.0.0.1:8791", "http://127.0.0.1:8792"];
const get = async (url) => { const r = await fetch(url); await r.text(); return r.status; };
const count = async () => Number(await (await fetch("http://127.0.0.1:18901/count")).text());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const idleMs of (process.argv[2] ?? "2500,5000").split(",").map(Number)) {
  console.log(`warm: ${await get(`${one}/dep`)} ${await get(`${two}/dep`)}`);
  await sleep(idleMs);
  const trips = [];
  for (let i = 0; i < 3; i++) trips.push(await get(`${one}/dep?mode=fail`));
  await sleep(300);
  const before = await count();
  const statuses = await Promise.all(Array.from({ length: 50 }, () => get(`${two}/dep`)));
  const reached = (await count()) - before;
  const by = statuses.reduce((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {});
  console.log(`instance 2 idle ${idleMs} ms, instance 1 tripped (${trips.join(",")}), 300 ms later 50 concurrent on instance 2: ${JSON.stringify(by)}, ${reached} reached the dependency`);
  await sleep(1_100);
  await fetch(`${one}/reset`).then((r) => r.text());
  await sleep(2_500);
}
