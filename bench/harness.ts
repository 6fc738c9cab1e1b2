// The benchmark harness every bench/<area>.bench.ts file uses: each case is
// measured beside a baseline of the same shape, in one process, in
// alternating rounds, and reported as the nanoseconds it adds to the
// baseline (median over rounds), then as a ratio to it.
//
// Shape. mitata (node_modules/mitata/src/lib.mjs, `fn`) calls the benched
// function in its own loop and, when the first call returned a Promise,
// writes `await $fn()` there. So `() => fn()` measures a direct `await fn()`,
// and `() => breaker.execute(fn)` measures `await breaker.execute(fn)`: the
// two differ by exactly the policy. Wrapping either in `async () => await …`
// adds an async function and a microtask turn (40–75 ns) to both sides, which
// leaves the difference alone but halves every ratio; cases here never do.
//
// Noise. The machine is shared, and noise only ever adds time. Each round
// measures the baseline before and after the group's cases (in an order
// rotated per round), and a case's figure is the median over rounds of its
// difference to that round's baseline: slow drifts in load cancel out.
//
// Options (after the file name): `--quick` (short run), `--json=<path>`
// (write the results for scripts/bench.mjs), `--rounds=<n>`, `--groups=<id>,...`
// (measure only these groups: the others are neither warmed up nor run).
import { measure } from "mitata";

/** One measured call, in the same shape as its group's baseline. */
export interface Case {
  /** Row label. */
  readonly name: string;
  /** Whose code runs: `"bulwark"`, a competitor's package name, or `"platform"` for a floor. */
  readonly by: string;
  /** One call: return the promise (mitata awaits it) or, in a sync group, the value. */
  readonly call?: () => unknown;
  /** Why the case cannot run on this runtime; shown instead of a figure. */
  readonly unavailable?: string;
  /** Milliseconds to idle after measuring, for timers the case leaves behind. */
  readonly drainMs?: number;
}

/** Cases measured against one baseline. */
export interface Group {
  /** Stable id, for targets and the merged tables. */
  readonly id: string;
  readonly title: string;
  readonly baseline: Case & { readonly call: () => unknown };
  readonly cases: readonly Case[];
  /** Lines to report after the group is measured (memory, state checks). */
  readonly after?: () => string[];
}

/** One case's figures on this runtime. */
export interface Figure {
  /** Median over rounds of mitata's per-call median, ns. */
  readonly ns: number;
  /** Median over rounds of (case − that round's baseline), ns. */
  readonly addedNs: number;
  /** Median over rounds of case / baseline. */
  readonly ratio: number;
  /** Lowest and highest per-round added ns. */
  readonly addedRange: readonly [number, number];
}

/** A goal from issue 15, checked against this runtime's figures. */
export interface Target {
  readonly text: string;
  /** `undefined` when a figure it needs is missing. */
  readonly check: (figure: (groupId: string, caseName: string) => Figure | undefined) =>
    | { readonly value: string; readonly met: boolean }
    | undefined;
}

export interface CaseResult {
  readonly name: string;
  readonly by: string;
  readonly baseline: boolean;
  readonly figure?: Figure;
  readonly unavailable?: string;
}

export interface GroupResult {
  readonly id: string;
  readonly title: string;
  readonly cases: readonly CaseResult[];
  readonly notes: readonly string[];
}

export interface FileResult {
  readonly file: string;
  readonly runtime: string;
  readonly quick: boolean;
  readonly rounds: number;
  readonly groups: readonly GroupResult[];
  readonly targets: readonly { text: string; value?: string; met?: boolean }[];
}

type Globals = {
  Deno?: { version: { deno: string }; args: string[]; writeTextFileSync(path: string, text: string): void; exit(code: number): never };
  Bun?: { version: string; gc(force: boolean): void };
  gc?: () => void;
  process?: {
    version: string;
    argv: string[];
    exit(code: number): never;
    memoryUsage(): { heapUsed: number; external?: number };
  };
};
const g = globalThis as unknown as Globals;

/** "Node 24.11.0", "Deno 2.9.6" or "Bun 1.4.4". */
export const runtime: string = g.Deno
  ? `Deno ${g.Deno.version.deno}`
  : g.Bun
    ? `Bun ${g.Bun.version}`
    : `Node ${g.process!.version.slice(1)}`;

const args: string[] = g.Deno ? g.Deno.args : g.process!.argv.slice(2);
const option = (name: string): string | undefined =>
  args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
/** True with `--quick`: fewer, shorter rounds. */
export const quick: boolean = args.includes("--quick");
const rounds = Number(option("rounds") ?? (quick ? 3 : 5));
const measureNs = (quick ? 20 : 80) * 1e6;
const warmupMs = quick ? 30 : 150;

/** A full collection, when the runtime exposes one (`--expose-gc` on Node and Deno). */
export const collect: (() => void) | undefined = g.Bun ? () => g.Bun!.gc(true) : g.gc;

/**
 * Live memory after a full collection, in bytes (`undefined` without a
 * collector): the heap, plus on V8 what lives outside it (`external`: the
 * storage of ArrayBuffers and typed arrays), which JavaScriptCore counts in
 * its heap already.
 */
export function liveHeapBytes(): number | undefined {
  if (collect === undefined || g.process === undefined) return undefined;
  collect();
  collect();
  const usage = g.process.memoryUsage();
  return usage.heapUsed + (g.Bun ? 0 : (usage.external ?? 0));
}

/** "312 KiB", "20.1 MiB". */
export function formatBytes(bytes: number): string {
  return Math.abs(bytes) < 2 ** 20 ? `${(bytes / 2 ** 10).toFixed(0)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A competitor's module, or why it cannot load on this runtime. */
export type Loaded<M> = { readonly module: M } | { readonly reason: string };

export async function load<M>(importer: () => Promise<M>): Promise<Loaded<M>> {
  try {
    return { module: await importer() };
  } catch (error) {
    return { reason: `cannot load: ${messageOf(error)}` };
  }
}

/** A case built from a loaded module; setup failures become `unavailable`. */
export function caseOf<M>(name: string, by: string, loaded: Loaded<M>, build: (module: M) => () => unknown): Case {
  if ("reason" in loaded) return { name, by, unavailable: loaded.reason };
  try {
    return { name, by, call: build(loaded.module) };
  } catch (error) {
    return { name, by, unavailable: `setup failed: ${messageOf(error)}` };
  }
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 120);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function once(call: () => unknown): Promise<void> {
  const result = call();
  if (result instanceof Promise) await result;
}

/** Runs `call` for the warm-up time; returns the calls mitata should time per sample. */
async function warm(call: () => unknown): Promise<number> {
  const start = performance.now();
  const end = start + warmupMs;
  for (let calls = 1; ; calls++) {
    const result = call();
    if (result instanceof Promise) await result;
    if ((calls < 64 || (calls & 63) === 0) && performance.now() > end) {
      // About 100 µs per sample, so that slow cases still get many samples
      // (mitata's default batch of 4096 calls takes 25 ms at 6 µs a call).
      const nsPerCall = ((performance.now() - start) * 1e6) / calls;
      return Math.min(4096, Math.max(4, Math.round(100_000 / nsPerCall / 4) * 4));
    }
  }
}

async function medianNs(call: () => unknown, batch: number): Promise<number> {
  // No full collection before measuring (mitata's default): on V8 it clears
  // weak objects embedded in optimized code, which then deoptimizes and is
  // re-optimized while being measured (`--trace-deopt`: "embedded weak
  // objects cleared"), and the fused pipeline measured up to 4x its steady
  // state. Garbage a case makes is collected as it runs.
  const stats = await measure(call, { gc: false, min_cpu_time: measureNs, batch_samples: batch });
  return stats.p50;
}

/**
 * Measures every group (all cases are warmed up first, so that call sites
 * shared between cases are as polymorphic during measurement as they will
 * be), prints a table per group, checks `targets`, writes `--json`, and
 * exits the process (timers some cases leave must not hold it open).
 */
export async function runBench(file: string, allGroups: readonly Group[], targets: readonly Target[] = []): Promise<void> {
  const only = option("groups")?.split(",");
  const groups = only === undefined ? allGroups : allGroups.filter((group) => only.includes(group.id));
  const runnable = new Map<Case, string | undefined>();
  for (const group of groups) {
    for (const item of [group.baseline, ...group.cases]) {
      if (item.unavailable !== undefined || item.call === undefined) {
        runnable.set(item, item.unavailable ?? "no call");
        continue;
      }
      try {
        await once(item.call);
        runnable.set(item, undefined);
      } catch (error) {
        runnable.set(item, `fails here: ${messageOf(error)}`);
      }
    }
  }
  const batches = new Map<Case, number>();
  for (const [item, reason] of runnable) if (reason === undefined) batches.set(item, await warm(item.call!));

  const samples = new Map<Case, { ns: number[]; added: number[]; ratio: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const group of groups) {
      const cases = group.cases.filter((item) => runnable.get(item) === undefined);
      const order = cases.map((_, i) => cases[(i + round) % cases.length]!);
      const before = await medianNs(group.baseline.call, batches.get(group.baseline)!);
      const measured = new Map<Case, number>();
      for (const item of order) {
        measured.set(item, await medianNs(item.call!, batches.get(item)!));
        if (item.drainMs !== undefined) await sleep(item.drainMs);
      }
      const base = (before + (await medianNs(group.baseline.call, batches.get(group.baseline)!))) / 2;
      measured.set(group.baseline, base);
      for (const [item, ns] of measured) {
        const entry = samples.get(item) ?? { ns: [], added: [], ratio: [] };
        entry.ns.push(ns);
        entry.added.push(ns - base);
        entry.ratio.push(ns / base);
        samples.set(item, entry);
      }
    }
  }

  const figures = new Map<Case, Figure>();
  for (const [item, entry] of samples) {
    figures.set(item, {
      ns: median(entry.ns),
      addedNs: median(entry.added),
      ratio: median(entry.ratio),
      addedRange: [Math.min(...entry.added), Math.max(...entry.added)],
    });
  }

  const results: GroupResult[] = groups.map((group) => ({
    id: group.id,
    title: group.title,
    cases: [group.baseline, ...group.cases].map((item) => ({
      name: item.name,
      by: item.by,
      baseline: item === group.baseline,
      figure: figures.get(item),
      unavailable: runnable.get(item),
    })),
    notes: group.after?.() ?? [],
  }));
  const figure = (groupId: string, caseName: string): Figure | undefined =>
    results.find((group) => group.id === groupId)?.cases.find((item) => item.name === caseName)?.figure;
  const checked = targets.map((target) => ({ text: target.text, ...target.check(figure) }));

  console.log(`\n# ${file} on ${runtime}: ${rounds} rounds${quick ? " (--quick)" : ""}; ns per call (median), added over the baseline`);
  for (const group of results) {
    console.log(`\n## ${group.title}`);
    for (const item of group.cases) {
      const label = `  ${item.name.padEnd(58)}`;
      if (item.figure === undefined) console.log(`${label} ${item.unavailable ?? "not measured"}`);
      else if (item.baseline) console.log(`${label} ${item.figure.ns.toFixed(1).padStart(9)} ns  (baseline)`);
      else {
        const { ns, addedNs, ratio, addedRange } = item.figure;
        // A sync bare call is inlined to about nothing: no ratio to it means anything.
        const baseNs = group.cases.find((other) => other.baseline)?.figure?.ns ?? 0;
        console.log(
          `${label} ${ns.toFixed(1).padStart(9)} ns  ${(addedNs >= 0 ? "+" : "") + addedNs.toFixed(1)} ns` +
            `${baseNs >= 10 ? `  ${ratio.toFixed(2)}x` : ""}  (added ${addedRange[0].toFixed(0)}…${addedRange[1].toFixed(0)})`,
        );
      }
    }
    for (const note of group.notes) console.log(`  ${note}`);
  }
  if (checked.length > 0) console.log("\n## targets of issue 15");
  for (const target of checked) {
    const verdict = target.met === undefined ? "not measured" : target.met ? "met" : "MISSED";
    console.log(`  ${verdict.padEnd(12)} ${target.text}${target.value === undefined ? "" : `: ${target.value}`}`);
  }

  const json = option("json");
  if (json !== undefined) {
    const result: FileResult = { file, runtime, quick, rounds, groups: results, targets: checked };
    const text = JSON.stringify(result, null, 2);
    if (g.Deno) g.Deno.writeTextFileSync(json, text);
    else {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(json, text);
    }
  }
  (g.Deno ?? g.process!).exit(0);
}

/** "+52 ns": a figure's added nanoseconds, for target values. */
export function added(figure: Figure): string {
  return `${figure.addedNs >= 0 ? "+" : ""}${figure.addedNs.toFixed(Math.abs(figure.addedNs) < 100 ? 1 : 0)} ns`;
}
