/**
 * The seam between a breaker and the code that shares its state through a
 * store (shared.ts). That code arrives with the store: {@link StoreAdapter}
 * (every store bulwark ships, and `FaultyStore`) and `CountingStore` carry
 * it under {@link shareCircuit}, so a breaker without a store bundles none
 * of it. A Store of one's own that does not extend `StoreAdapter` has no
 * such member: a breaker given it refuses it with a `ConfigError` on
 * `store` (see docs/distributed.md).
 *
 * @module
 */
import type { BreakerLink } from "./shared.ts";
import type { ExecutionContext, Operation } from "../policy.ts";

/** @internal Key of the store's member that shares a breaker's state through it. */
export const shareCircuit: unique symbol = Symbol("bulwark.shareCircuit");

/** @internal What a breaker calls of its shared half (see `SharedCircuit` in shared.ts). */
export interface SharedHalf {
  /** `undefined`: the call goes on with the local state; else the call's outcome. */
  gate<T>(state: string, fn: Operation<T>, caller: ExecutionContext | undefined): Promise<T> | undefined;
  /** Loaded, and a read started if one is due: the breaker's short path may be taken. */
  passes(): boolean;
  /** Starts a read if one is due; never waits. */
  touch(): void;
  /** Told of every transition the breaker makes. */
  onTransition(from: string, to: string): void;
  /** Told of `reset()` on a circuit already closed (no transition): the shared one may still be open. */
  onReset(): void;
}

/** @internal A store that can share a breaker's state through itself. */
export interface CircuitSharing {
  /** Checks that this store can hold the shared state (throws `ConfigError` if not) and builds the breaker's shared half on it, with the breaker's options. */
  [shareCircuit](link: BreakerLink): SharedHalf;
}
