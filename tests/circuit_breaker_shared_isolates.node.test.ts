// Shared circuit breakers across two Workers isolates (issue 9): one
// Miniflare runs tests/_support/breaker_isolate_worker.ts twice, sharing one
// KV namespace and one Durable Object namespace. Each isolate holds its own
// module-scope breakers; they meet only through the store. Real time (two
// isolates share no clock a test could drive): the breakers refresh every
// 200 ms and probe 1.5 s after opening.
//
// Node only (Miniflare drives a workerd process from Node); skipped on the
// other runtimes of this file's tag.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IsolatePair, startIsolatePair } from "./_support/miniflare_pair.ts";

const onNode = typeof process !== "undefined" && typeof process.versions?.node === "string" &&
  !("Deno" in globalThis) && !("Bun" in globalThis);
const REFRESH_MS = 200;
const RESET_TIMEOUT_MS = 1_500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

(onNode ? describe : describe.skip)("shared circuit breakers in two Workers isolates (Miniflare)", () => {
  let pair: IsolatePair;
  beforeAll(async () => {
    pair = await startIsolatePair("breaker_isolate_worker.ts");
  }, 60_000);
  afterAll(async () => {
    await pair?.dispose();
  });

  async function call(isolate: "a" | "b", path: string): Promise<Record<string, unknown>> {
    const response = await pair[isolate].fetch(`http://worker${path}`);
    const body = (await response.json()) as Record<string, unknown>;
    if (body.error !== undefined) throw new Error(String(body.error));
    return body;
  }

  for (const via of ["do", "kv"] as const) {
    const store = via === "do" ? "the Durable Object" : "Workers KV";

    it(`${store}: tripped in one isolate, refused by the other's very first call without reaching the dependency`, async () => {
      const name = `first-call-${via}`;
      expect(await call("a", `/trip?via=${via}&name=${name}`)).toEqual({ state: "open" });
      // The write completes after /trip answered (waitUntil); give it a moment.
      await sleep(100);
      expect(await call("b", `/call?via=${via}&name=${name}`)).toEqual({ refused: true, state: "open" });
      expect((await call("a", `/hits?via=${via}&name=${name}`)).hits).toBe(0);
    }, 60_000);

    it(`${store}: a running isolate sees the other's trip within the refresh interval`, async () => {
      const name = `propagation-${via}`;
      expect(await call("b", `/call?via=${via}&name=${name}`)).toMatchObject({ ran: true });
      await call("a", `/trip?via=${via}&name=${name}`);
      const tripped = Date.now();
      let seenAfterMs = -1;
      while (Date.now() - tripped < 5_000) {
        const answer = await call("b", `/call?via=${via}&name=${name}`);
        if (answer.refused === true) {
          seenAfterMs = Date.now() - tripped;
          break;
        }
        await sleep(20);
      }
      console.log(`bulwark-propagation ${via}: open seen by the other isolate after ${seenAfterMs} ms (refreshMs ${REFRESH_MS})`);
      expect(seenAfterMs).toBeGreaterThanOrEqual(0);
      // One interval plus the read's round trip and this loop's own calls, on a loaded machine.
      expect(seenAfterMs).toBeLessThan(REFRESH_MS + 1_000);
    }, 60_000);

    it(`${store}: 200 concurrent calls across both isolates in half-open: ${via === "do" ? "exactly one" : "at most one per isolate"} reaches the dependency`, async () => {
      const name = `probe-${via}`;
      // Both isolates know the circuit (loaded), then one trips it and the other adopts the opening.
      await call("a", `/state?via=${via}&name=${name}`);
      await call("b", `/call?via=${via}&name=${name}`);
      await call("a", `/trip?via=${via}&name=${name}`);
      await sleep(REFRESH_MS + 100);
      await call("b", `/call?via=${via}&name=${name}`);
      await sleep(100);
      expect(await call("b", `/state?via=${via}&name=${name}`)).toEqual({ state: "open" });
      await sleep(RESET_TIMEOUT_MS);
      const before = Number((await call("a", `/hits?via=${via}&name=${name}`)).hits);
      // The probe holds its answer until every other call was answered: all 200 meet the half-open circuit.
      let answered = 0;
      const pending = Array.from({ length: 200 }, (_, i) =>
        call(i % 2 === 0 ? "a" : "b", `/call?via=${via}&name=${name}&hold=1`).then((answer) => {
          answered++;
          return answer;
        }));
      const probesAllowed = via === "do" ? 1 : 2;
      const waitStart = Date.now();
      while (answered < 200 - probesAllowed && Date.now() - waitStart < 30_000) await sleep(20);
      await call("a", `/release?via=${via}&name=${name}`);
      const answers = await Promise.all(pending);
      const probes = Number((await call("a", `/hits?via=${via}&name=${name}`)).hits) - before;
      const logs = [await call("a", `/log?via=${via}&name=${name}`), await call("b", `/log?via=${via}&name=${name}`)];
      if (answers.filter((answer) => answer.ran === true).length !== 1) console.log(JSON.stringify(logs));
      console.log(`bulwark-probes ${via}: ${probes} of 200 concurrent half-open calls reached the dependency`);
      expect(answers.filter((answer) => answer.ran === true)).toHaveLength(probes);
      if (via === "do") expect(probes).toBe(1);
      else {
        expect(probes).toBeGreaterThanOrEqual(1);
        expect(probes).toBeLessThanOrEqual(2);
      }
    }, 60_000);
  }
});
