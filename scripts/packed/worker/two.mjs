// Two wrangler dev processes on one --persist-to: rounds of (trip in 1, poll 2 until refused, reset in 1).
const [one, two] = ["http://127.0.0.1:8791", "http://127.0.0.1:8792"];
const get = async (url) => { const r = await fetch(url); await r.text(); return r.status; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
console.log("warm:", await get(`${one}/dep`), await get(`${two}/dep`));
for (let round = 1; round <= Number(process.argv[2] ?? 3); round++) {
  let stop = false, seenAt, polls = 0;
  const poller = (async () => {
    while (!stop) {
      polls++;
      if ((await get(`${two}/dep`)) === 503) { seenAt = Date.now(); return; }
      await sleep(20);
    }
  })();
  await sleep(200 + Math.random() * 1000);
  const trips = [];
  for (let i = 0; i < 3; i++) trips.push(await get(`${one}/dep?mode=fail`));
  const trippedAt = Date.now();
  const after = await get(`${one}/dep`);
  await Promise.race([poller, sleep(10_000)]);
  stop = true;
  console.log(`round ${round}: instance 1: ${trips.join(",")} then ${after}; ` + (seenAt ? `instance 2 refused ${seenAt - trippedAt} ms after instance 1's third failure (refreshMs 1000, ${polls} polls)` : "instance 2 still calling after 10 s"));
  await sleep(1_100); // KV: one write per second per key
  const reset = await (await fetch(`${one}/reset`)).text();
  let closedAfter;
  const t0 = Date.now();
  while (Date.now() - t0 < 10_000) { if ((await get(`${two}/dep`)) === 200) { closedAfter = Date.now() - t0; break; } await sleep(20); }
  console.log(`  reset on 1 -> ${reset.trim()}; instance 2 calls again after ${closedAfter} ms`);
  await sleep(1_100);
}
const key = `x-${Date.now()}`;
const burst = (base) => Promise.all(Array.from({ length: 100 }, () => get(`${base}/limited?key=${key}`)));
const [s1, s2] = await Promise.all([burst(one), burst(two)]);
const ok = (s) => s.filter((x) => x === 200).length;
console.log(`DO limit across the two processes (not a valid setup, see docs): limit 50, 100 concurrent on each, same key: admitted ${ok(s1)} + ${ok(s2)} = ${ok(s1) + ok(s2)}`);
