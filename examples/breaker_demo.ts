// A circuit breaker around a flaky dependency, on the real clock: it trips,
// rejects at once while open, lets a probe through after resetTimeoutMs, and
// closes when the probe succeeds.
//
//   node examples/breaker_demo.mjs       (any Node >= 20, after `npm ci`)
//   node examples/breaker_demo.ts        (Node >= 22.18: types stripped natively)
import { CircuitBreaker, CircuitOpenError, systemClock } from "../mod.ts";

const started = systemClock.now();
const log = (message: string): void => {
  const at = `${Math.round(systemClock.now() - started)} ms`.padStart(7);
  console.log(`[${at}] ${message}`);
};

// The dependency: down until we say it has recovered.
let healthy = false;
async function fetchInventory(): Promise<string> {
  await systemClock.sleep(10);
  if (!healthy) throw new Error("inventory service unavailable");
  return "42 items in stock";
}

// Embedded defaults (maxFailures 5, halfOpenMaxCalls 1, successThreshold 1),
// with a short reset timeout so the demo takes a second.
const breaker = new CircuitBreaker({ name: "inventory", resetTimeoutMs: 500 });
breaker.on("stateChange", ({ from, to }) => log(`  state: ${from} -> ${to}`));

async function attempt(label: string): Promise<void> {
  try {
    log(`${label}: ok, ${await breaker.execute(fetchInventory)}`);
  } catch (error) {
    if (error instanceof CircuitOpenError) {
      log(`${label}: rejected without calling (${error.remainingMs.toFixed(0)} ms until a probe)`);
    } else {
      log(`${label}: failed, ${(error as Error).message} (failures in a row: ${breaker.failureCount})`);
    }
  }
}

log(`breaker '${breaker.name}' is ${breaker.state}; the service is down`);
for (let i = 1; i <= 5; i++) await attempt(`call ${i}`);

log("the circuit is open: calls fail fast, the service gets a rest");
for (let i = 6; i <= 8; i++) await attempt(`call ${i}`);

log("the service recovers; waiting for the reset timeout");
healthy = true;
await systemClock.sleep(breaker.remainingMs);
log(`breaker is ${breaker.state}: the next call is a probe`);
await attempt("probe");
await attempt("call 9");

const { totalCalls, successfulCalls, failedCalls, rejectedCalls, stateChanges } = breaker.stats;
log(
  `stats: ${totalCalls} calls, ${successfulCalls} succeeded, ${failedCalls} failed, ` +
    `${rejectedCalls} rejected, ${stateChanges} state changes`,
);
