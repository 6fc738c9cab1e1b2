/**
 * Policies layered around an operation, each around the next: the runner a
 * pipeline falls back on for the layers it cannot fuse, and all that a
 * composition needs whose speed is not the point (the resilient fetch's
 * outer layers, around a network call), without the fused pipeline's code.
 *
 * @module
 */
import type { Policy } from "../policy.ts";
import { callOperation, isContextual, isLayered, type Next, parentOf, runInContext, runThrough } from "./context.ts";
import type { Runner } from "./fused.ts";

/**
 * The runner of one layer around `inner`, built once per pipeline: each
 * layer gets its own function, so every call site in it sees one policy
 * class.
 */
export function layer(policy: Policy, inner: Runner | undefined): Runner {
  if (isLayered(policy)) {
    // Ours take the inner layers as a prebuilt `next`: no closure per call.
    const next: Next = inner === undefined ? callOperation : (fn, context) => inner(fn, parentOf(context));
    return (fn, parent) => policy[runThrough](fn, parent, next);
  }
  if (isContextual(policy)) {
    // Take the parent context without reading its signal, which a
    // timeout's context would otherwise build for every call.
    return inner === undefined
      ? (fn, parent) => policy[runInContext](fn, parent)
      : (fn, parent) => policy[runInContext]((context) => inner(fn, parentOf(context)), parent);
  }
  return inner === undefined
    ? (fn, parent) => policy.execute(fn, parent?.signal)
    : (fn, parent) => policy.execute((context) => inner(fn, parentOf(context)), parent?.signal);
}

/** The runner of `policies`, the first outermost, each layered around the next; `undefined` for none. */
export function layers(policies: readonly Policy[]): Runner | undefined {
  let run: Runner | undefined = undefined;
  for (let index = policies.length - 1; index >= 0; index--) run = layer(policies[index]!, run);
  return run;
}
