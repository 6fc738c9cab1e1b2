// bulwark as users run it: the built `dist/` (`npm run build`, what the
// package ships), typed by the sources it is built from. Bench files take
// their runtime code from here, never from src/.
const dist = (path: string): string => new URL(`../dist/${path}`, import.meta.url).href;

async function fromDist<M>(path: string): Promise<M> {
  try {
    return (await import(dist(path))) as M;
  } catch (error) {
    throw new Error(`cannot import dist/${path}: run \`npm run build\` first`, { cause: error });
  }
}

export const bulwark: typeof import("../mod.ts") = await fromDist("mod.js");
/** `withoutFusion`, to measure a pipeline layer by layer. Internal, not exported by the package. */
export const fused: typeof import("../src/internal/fused.ts") = await fromDist("src/internal/fused.js");
/**
 * The core as tsc built it (dist/mod_core.js), the modules {@link fused}
 * belongs to. Under Node's condition `bulwark` is the esbuild bundle of
 * dist/node/, with its own copy of `withoutFusion`: a pipeline built from it
 * inside `fused.withoutFusion` would still be fused.
 */
export const unbundled: typeof import("../mod.ts") = await fromDist("mod_core.js");
/** `bulwark/testing` (`ManualClock`). */
export const testing: typeof import("../src/testing/mod.ts") = await fromDist("src/testing/mod.js");
