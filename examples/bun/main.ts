// A Bun program calling a price service through a bulkhead (one call at a
// time) and a 200 ms deadline, falling back to the last known price when
// the service is slow or the bulkhead is full.
//
//   bun add bulwark
//   bun run main.ts
//
// In this repository: node scripts/examples.mjs bun (tsconfig.json's
// "paths" map "bulwark" to the sources, where a user's node_modules would).
import { Bulkhead, BulkheadRejectedError, fallback, pipeline, TimeoutError, TimeoutPolicy } from "bulwark";

// The price service: answers after `?delay=` ms.
const service = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    await Bun.sleep(Number(new URL(request.url).searchParams.get("delay") ?? 0));
    return Response.json({ price: 42 });
  },
});

const lastKnownPrice = 41;
const guarded = pipeline(new Bulkhead({ maxConcurrent: 1 }), new TimeoutPolicy({ timeoutMs: 200 }));

function price(delayMs: number): Promise<string> {
  return fallback(
    async () => {
      const response = await guarded.execute(({ signal }) => fetch(`${service.url}price?delay=${delayMs}`, { signal }));
      const { price } = (await response.json()) as { price: number };
      return `fresh price ${price}`;
    },
    (error) => `cached price ${lastKnownPrice} (${(error as Error).name})`,
    { on: [TimeoutError, BulkheadRejectedError] },
  );
}

console.log(`fast: ${await price(0)}`);
console.log(`slow: ${await price(2_000)}`);
const holding = price(2_000); // takes the only slot
console.log(`full: ${await price(0)}`);
await holding;
await service.stop(true);

// The Bun APIs used above, declared here so that `npm run typecheck` checks
// this file without @types/bun (which a Bun project installs instead).
declare const Bun: {
  serve(options: {
    hostname?: string;
    port?: number;
    fetch(request: Request): Response | Promise<Response>;
  }): { readonly url: URL; stop(closeActiveConnections?: boolean): Promise<void> };
  sleep(ms: number): Promise<void>;
};
