// Two isolates of one Worker script in one Miniflare, sharing one KV
// namespace and one Durable Object namespace (the second binds the first's
// class through `scriptName`), as two isolates of a deployed Worker do.
// Node only: Miniflare drives a workerd process from Node.
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

type Fetcher = { fetch(url: string): Promise<Response> };

/** The two isolates, and the Miniflare to dispose. */
export interface IsolatePair {
  readonly a: Fetcher;
  readonly b: Fetcher;
  dispose(): Promise<void>;
}

/** Bundles `entry` (a file in tests/_support defining `BulwarkStateObject`) and runs it twice. */
export async function startIsolatePair(entry: string): Promise<IsolatePair> {
  const { build } = await import("esbuild");
  const { Miniflare } = await import("miniflare");
  const bundle = await build({
    entryPoints: [`${ROOT}tests/_support/${entry}`],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:workers"],
    write: false,
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]!.text;
  const shared = { modules: true, script, compatibilityDate: "2026-04-01", kvNamespaces: { STATE_KV: "shared-kv" } };
  const miniflare = new Miniflare({
    workers: [
      { ...shared, name: "a", durableObjects: { STATE_OBJECTS: { className: "BulwarkStateObject", useSQLite: true } } },
      { ...shared, name: "b", durableObjects: { STATE_OBJECTS: { className: "BulwarkStateObject", scriptName: "a", useSQLite: true } } },
    ],
  });
  await miniflare.ready;
  return {
    a: (await miniflare.getWorker("a")) as unknown as Fetcher,
    b: (await miniflare.getWorker("b")) as unknown as Fetcher,
    dispose: () => miniflare.dispose(),
  };
}
