// Issue 10's proof on a real redis-server (started once for this file):
// the idempotency scenarios on RedisStore (ioredis), and identical calls
// split across two processes against the same server.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromIoRedis, RedisStore } from "../adapters/redis/mod.ts";
import { startContender } from "./_support/child_process.ts";
import { type Answer, postOrders } from "./_support/idempotency_engine_app.ts";
import { chargeOnce } from "./_support/idempotency_engine_charge.ts";
import { idempotencyScenarios, realTimeEnv } from "./_support/idempotency_scenarios.ts";
import { type RedisServer, startRedis } from "./_support/servers.ts";

const SERVER_START_MS = 30_000;
const SLOW_TEST_MS = 30_000;

let server: RedisServer | undefined;
let client: Redis | undefined;
let unique = 0;
/** A prefix no other test uses: the server is shared by the whole file. */
const freshPrefix = () => `idem${unique++}:`;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url, { lazyConnect: true });
  client.on("error", () => {});
  await client.connect();
}, SERVER_START_MS);
afterAll(async () => {
  client?.disconnect();
  await server?.close();
}, SERVER_START_MS);

const store = (prefix = freshPrefix()) => new RedisStore({ client: fromIoRedis(client!), prefix, timeoutMs: 20_000 });

describe("idempotency on RedisStore (real redis-server, ioredis)", () => {
  const env = realTimeEnv(() => store());
  for (const [name, scenario] of Object.entries(idempotencyScenarios)) {
    it(name, () => scenario(env), SLOW_TEST_MS);
  }

  it("identical calls from two processes: the effect runs once, every caller gets the same result", async () => {
    const prefix = freshPrefix();
    const child = await startContender(["redis-io", server!.url, prefix, "25"], "idempotency_engine_child.ts");
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
    const child = await startContender(["redis-io", server!.url, prefix, "25", "http"], "idempotency_engine_child.ts");
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
