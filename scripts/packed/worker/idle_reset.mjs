// After a reset on instance 1, instance 2 (open, then idle): how soon does it call again?
const [one, two] = ["http://127.0.0.1:8791", "http://127.0.0.1:8792"];
const get = async (url) => { const r = await fetch(url); await r.text(); return r.status; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const idleMs of [300, 2500]) {
  for (let i = 0; i < 3; i++) await get(`${one}/dep?mode=fail`);
  await sleep(1500);
  console.log("instance 2 after the trip:", await get(`${two}/dep`));
  await sleep(1100);
  await fetch(`${one}/reset`).then((r) => r.text());
  await sleep(idleMs);
  const t0 = Date.now(); const seen = [];
  for (;;) { const s = await get(`${two}/dep`); seen.push(s); if (s === 200 || Date.now() - t0 > 5000) break; await sleep(20); }
  console.log(`reset on 1, instance 2 idle ${idleMs} ms after it: ${seen.join(",")} (${Date.now() - t0} ms to 200)`);
  await sleep(1100);
}
