// Issue 10's proof on workerd: the idempotency scenarios on a real
// SQLite-backed Durable Object (DurableObjectStore, module-scope with a lazy
// binding, as users build it) and on local D1 (D1Store); and 100 concurrent
// identical POSTs, as real requests, to a Hono app using the idempotency
// middleware over the Durable Object store (POST /store/orders in
// tests/_support/store_routes.ts).
//
// The test Worker's object class registers only the tests' own transitions
// (tests/_support/worker.ts): the idempotency transitions run because
// stateObjectClass registers bulwark's own by default.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { D1Store, DurableObjectStore, stateObjectClass } from "../adapters/cloudflare/mod.ts";
import { ConfigError, IDEMPOTENCY_TRANSITIONS } from "../mod.ts";
import { idempotencyScenarios, realTimeEnv } from "./_support/idempotency_scenarios.ts";

const SLOW_TEST_MS = 60_000;

let unique = 0;
/** A prefix no other test uses: the engines' storage is shared by the whole run. */
function prefix(): string {
  return `idem${Date.now().toString(36)}${(unique++).toString(36)}:`;
}

// Built once, at module scope, with lazy bindings: each operation runs on the
// request (here: the test) that makes it.
const objects = () => env.STATE_OBJECTS;
const database = () => env.STATE_DB;

describe("idempotency on DurableObjectStore (workerd, SQLite-backed object)", () => {
  const scenarioEnv = realTimeEnv(() => new DurableObjectStore(objects, { prefix: prefix(), timeoutMs: 30_000 }));
  for (const [name, scenario] of Object.entries(idempotencyScenarios)) {
    it(name, () => scenario(scenarioEnv), SLOW_TEST_MS);
  }

  it("100 concurrent identical POSTs: the handler runs once, every answer the same, each replay marked", async () => {
    const key = `burst-${prefix()}`;
    const post = () =>
      SELF.fetch("https://worker.test/store/orders", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": `"${key}"` },
        body: JSON.stringify({ amount: 42 }),
      });
    const responses = await Promise.all(Array.from({ length: 100 }, post));
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(responses.map((response) => response.status)).toEqual(Array.from({ length: 100 }, () => 201));
    expect(new Set(bodies)).toEqual(new Set([JSON.stringify({ charged: 42, run: 1 })]));
    expect(responses.filter((response) => response.headers.get("idempotency-replayed") === "true")).toHaveLength(99);
    const effects = await SELF.fetch(`https://worker.test/store/get?store=do&key=${encodeURIComponent(`effects:"${key}"`)}`);
    expect(await effects.json()).toEqual({ value: 1 });
  }, SLOW_TEST_MS);

  it("stateObjectClass registers bulwark's own transitions; one of yours with their name is a ConfigError", () => {
    expect(IDEMPOTENCY_TRANSITIONS.map((transition) => transition.name)).toEqual([
      "bulwark.idempotency.claim",
      "bulwark.idempotency.finish",
      "bulwark.idempotency.set",
    ]);
    const Base = class {
      constructor(_ctx: never, _env: never) {}
    };
    const impostor = { name: "bulwark.idempotency.claim", apply: () => ({ next: 1, output: 1 }) };
    let error: unknown;
    try {
      stateObjectClass(Base, { transitions: [impostor] });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe("ERR_CONFIG");
    expect((error as ConfigError).message).toContain("bulwark.idempotency.claim");
    expect(() => stateObjectClass(Base, { transitions: [{ ...impostor, name: "app.claim" }] })).not.toThrow();
  });
});

describe("idempotency on D1Store (workerd, local D1)", () => {
  const scenarioEnv = realTimeEnv(() => new D1Store(database, { prefix: prefix(), timeoutMs: 30_000 }));
  for (const [name, scenario] of Object.entries(idempotencyScenarios)) {
    it(name, () => scenario(scenarioEnv), SLOW_TEST_MS);
  }
});
