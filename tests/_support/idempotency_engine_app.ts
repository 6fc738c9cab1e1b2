// The Hono app both processes of the two-process HTTP proofs serve: the
// idempotency middleware over a shared store, and a POST /orders handler
// whose effect counts itself in that store (key "effects"), so the parent
// can read how many times it ran across both processes.
import { Hono } from "hono";
import { IdempotencyStore, type Store } from "../../mod.ts";
import { idempotency } from "../../adapters/hono/mod.ts";
import { increment } from "./store_transitions.ts";

/** What one POST answered. */
export interface Answer {
  status: number;
  body: unknown;
  replayed: boolean;
}

/** Sends `count` concurrent identical POSTs (one Idempotency-Key, one body) to an app over `store`. */
export function postOrders(store: Store): (count: number) => Promise<Answer[]> {
  const records = new IdempotencyStore({ store, inProgressTtlMs: 30_000 });
  const app = new Hono();
  // Duplicates wait for the first answer (and replay it) rather than get 409.
  app.use("*", idempotency({ store: records, waitMs: 20_000 }));
  app.post("/orders", async (c) => {
    const order = await c.req.json<{ id: string; amount: number }>();
    await store.update("effects", increment, 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    return c.json({ receipt: `r-${order.id}`, amount: order.amount }, 201);
  });
  const post = async (): Promise<Answer> => {
    const response = await app.request("/orders", {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": '"order-x"' },
      body: JSON.stringify({ id: "order-x", amount: 7 }),
    });
    return { status: response.status, body: await response.json(), replayed: response.headers.get("idempotency-replayed") === "true" };
  };
  return (count) => Promise.all(Array.from({ length: count }, post));
}
