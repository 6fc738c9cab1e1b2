// The idempotent call both processes of the two-process proofs make: its
// effect counts itself in the shared store (key "effects"), so the parent can
// read how many times it ran across both processes.
import { idempotent, IdempotencyStore, type Store } from "../../mod.ts";
import { increment } from "./store_transitions.ts";

/** An idempotent charge over `store`; each run adds one to `effects` and takes 300 ms. */
export function chargeOnce(store: Store): (order: { id: string; amount: number }) => Promise<{ receipt: string; amount: number }> {
  const records = new IdempotencyStore({ store, inProgressTtlMs: 30_000 });
  return idempotent(
    async (order: { id: string; amount: number }) => {
      await store.update("effects", increment, 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { receipt: `r-${order.id}`, amount: order.amount };
    },
    { store: records, key: (order) => order.id, pollIntervalMs: 5, maxPollIntervalMs: 50, waitTimeoutMs: 30_000 },
  );
}
