// A page that searches as the user types: a rate limiter keeps it to 5
// searches a second (each keystroke's search waits its turn, or gives up
// after 2 s), a resilient fetch retries the server's 503s, and a graceful
// shutdown saves the last query when the page is hidden or left.
//
//   npm install bulwark
//   npx esbuild main.ts --bundle --format=esm --outfile=main.js   (or your bundler)
//
// In this repository: node scripts/examples.mjs browser (bundles it, serves
// it beside a flaky /api, and opens it in headless Chromium).
import { createResilientFetch, RateLimiter } from "bulwark";
import { GracefulShutdown } from "bulwark/browser";

const log = (line: string): void => {
  document.querySelector("#log")!.textContent += `${line}\n`;
};

const limiter = new RateLimiter({ rate: 5, perMs: 1_000, burst: 1 });
const resilientFetch = createResilientFetch({ retry: { maxAttempts: 3, baseDelayMs: 20 }, timeoutMs: 5_000 });
resilientFetch.retryPolicy?.on("retry", ({ attempt }) => log(`  attempt ${attempt} got a 503, retrying`));

let lastQuery = "";
const shutdown = new GracefulShutdown({ timeoutMs: 1_000 }).install(); // runs on pagehide
shutdown.register("save-query", () => sessionStorage.setItem("last-query", lastQuery));

async function search(query: string): Promise<void> {
  await limiter.acquire({ timeoutMs: 2_000 });
  lastQuery = query;
  const response = await resilientFetch(`/api/search?q=${encodeURIComponent(query)}`);
  log(`search ${query}: ${response.status} ${await response.text()}`);
}

try {
  for (const query of ["b", "bu", "bul"]) await search(query); // three keystrokes
  log("done");
  document.title = "done";
} catch (error) {
  log(`failed: ${error}`);
  document.title = "failed";
}
