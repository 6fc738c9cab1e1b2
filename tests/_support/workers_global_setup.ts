/**
 * Global setup of the workerd leg (vitest.workers.config.mts), run in the
 * Node process that hosts workerd: starts the real flaky HTTP upstream and
 * provides its URL, which the config binds into the Worker as `UPSTREAM_URL`.
 */
import type { TestProject } from "vitest/node";
import { startFlakyUpstream } from "./flaky_upstream.ts";

declare module "vitest" {
  export interface ProvidedContext {
    upstreamUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const upstream = await startFlakyUpstream();
  project.provide("upstreamUrl", upstream.url);
  return () => upstream.close();
}
