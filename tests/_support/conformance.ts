// The store conformance suite's result, printed as one marker line that
// scripts/test.mjs collects from every leg's output into the summary's
// "conformance" block (scripts/conformance.mjs): console output reaches the
// leg's output on every runner (vitest in Node, workerd and Chromium, Deno,
// Bun), where a file written by the test could not (workerd, Chromium).
import type { StoreConformanceReport } from "../../src/testing/mod.ts";

/**
 * Prints `bulwark-conformance {"engine":…,"passed":…,"failed":…,"skipped":…}`
 * and returns the report, unchanged, for the test's own assertions.
 * `engine` is the tag in the test's name, `conformance[<engine>]`.
 */
export function reportConformance(engine: string, report: StoreConformanceReport): StoreConformanceReport {
  const line = { engine, passed: report.passed.length, failed: report.failed.length, skipped: report.skipped.length };
  console.log(`bulwark-conformance ${JSON.stringify(line)}`);
  return report;
}
