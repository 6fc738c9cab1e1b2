// Prints each benchmark's ratio to the bare call of its group, by mean and
// by median (the median holds up better on a busy machine). These are what
// docs/benchmarks.md records.
import type { run } from "mitata";

type Trials = Awaited<ReturnType<typeof run>>["benchmarks"];

export function printRatios(benchmarks: Trials, bareName = "bare await fn()"): void {
  console.log(`\nratio to ${bareName} (mean / median):`);
  let bare = { avg: 1, p50: 1 };
  for (const trial of benchmarks) {
    const stats = trial.runs[0]?.stats;
    if (stats === undefined) continue;
    if (trial.alias === bareName) bare = stats;
    console.log(
      `  ${trial.alias.padEnd(42)} ${(stats.avg / bare.avg).toFixed(2).padStart(6)}x ${(stats.p50 / bare.p50).toFixed(2).padStart(6)}x`,
    );
  }
}
