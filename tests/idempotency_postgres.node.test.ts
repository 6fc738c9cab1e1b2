// Issue 10's proof on a real PostgreSQL (started once for this file): the
// idempotency scenarios on PostgresStore (pg), and identical calls split
// across two processes against the same server.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromPg, PostgresStore } from "../adapters/postgres/mod.ts";
import { startContender } from "./_support/child_process.ts";
import { type Answer, postOrders } from "./_support/idempotency_engine_app.ts";
import { chargeOnce } from "./_support/idempotency_engine_charge.ts";
import { idempotencyScenarios, realTimeEnv } from "./_support/idempotency_scenarios.ts";
import { type PostgresServer, startPostgres } from "./_support/servers.ts";

const SERVER_START_MS = 60_000;
const SLOW_TEST_MS = 30_000;

let server: PostgresServer | undefined;
let pool: pg.Pool | undefined;
let unique = 0;
/** A prefix no other test uses: the server is shared by the whole file. */
const freshPrefix = () => `idem${unique++}:`;

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 10 });
  pool.on("error", () => {});
}, SERVER_START_MS);
afterAll(async () => {
  await pool?.end();
  await server?.close();
}, SERVER_START_MS);

const store = (prefix = freshPrefix()) => new PostgresStore({ query: fromPg(pool!), prefix, timeoutMs: 20_000 });

describe("idempotency on PostgresStore (real PostgreSQL, pg)", () => {
  const env = realTimeEnv(() => store());
  for (const [name, scenario] of Object.entries(idempotencyScenarios)) {
    it(name, () => scenario(env), SLOW_TEST_MS);
  }

  it("identical calls from two processes: the effect runs once, every caller gets the same result", async () => {
    const prefix = freshPrefix();
    // The table exists before either process races to create it.
    await store(prefix).get("warm-up");
    const child = await startContender(["postgres-pg", server!.url, prefix, "25"], "idempotency_engine_child.ts");
    const charge = chargeOnce(store(prefix));
    child.go();
    const [, here] = await Promise.all([
      child.done,
      Promise.all(Array.from({ length: 25 }, () => charge({ id: "order-x", amount: 7 }))),
    ]);
    const there = JSON.parse(/results:(.*)\n/.exec(child.output)![1]!) as unknown[];
    expect(there).toHaveLength(25);
    for (const result of [...here, ...there]) expect(result).toEqual({ receipt: "r-order-x", amount: 7 });
    expect((await store(prefix).get("effects"))?.value).toBe(1);
  }, SLOW_TEST_MS);

  it("identical POSTs through the Hono middleware from two processes: the handler runs once, every answer is the same, the duplicates marked replays", async () => {
    const prefix = freshPrefix();
    // The table exists before either process races to create it.
    await store(prefix).get("warm-up");
    const child = await startContender(["postgres-pg", server!.url, prefix, "25", "http"], "idempotency_engine_child.ts");
    const post = postOrders(store(prefix));
    child.go();
    const [, here] = await Promise.all([
      child.done,
      post(25),
    ]);
    const there = JSON.parse(/results:(.*)\n/.exec(child.output)![1]!) as unknown[];
    expect(there).toHaveLength(25);
    const answers = [...here, ...(there as Answer[])];
    for (const answer of answers) expect(answer).toMatchObject({ status: 201, body: { receipt: "r-order-x", amount: 7 } });
    expect(answers.filter((answer) => answer.replayed)).toHaveLength(49);
    expect((await store(prefix).get("effects"))?.value).toBe(1);
  }, SLOW_TEST_MS);
});
