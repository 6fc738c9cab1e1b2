/**
 * How bulwark's own policies hand an {@link ExecutionContext} inward without
 * reading its signal. A timeout's context creates its `AbortController` only
 * when `signal` is read; passing `context.signal` from layer to layer would
 * read it on every call. Policies that implement {@link runInContext} take
 * the parent context itself and read its signal only when they must wait.
 *
 * @module
 */
import { contextFor, type ExecutionContext, type Operation, type Policy } from "../policy.ts";
import { badCall, badFunction, throwIf } from "./arguments.ts";

/** Key of the method that runs an operation under a parent context (or none). */
export const runInContext: unique symbol = Symbol("bulwark.runInContext");

/** A policy that accepts its parent's context without reading its signal. */
export interface ContextualPolicy<R = unknown> extends Policy<R> {
  [runInContext]<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T>;
}

/**
 * Runs `fn` with `context`: the operation itself, or, in a pipeline, the
 * layers inside the current one. Prebuilt once per pipeline layer, so a
 * layer hands the operation inward without a closure per call.
 */
export type Next = <T>(fn: Operation<T>, context: ExecutionContext) => T | PromiseLike<T>;

/** The innermost {@link Next}: calls the operation. */
export const callOperation: Next = (fn, context) => fn(context);

/** Key of the method that runs an operation under a parent context, through `next`. */
export const runThrough: unique symbol = Symbol("bulwark.runThrough");

/**
 * A policy that runs `next(fn, context)` where it would call `fn(context)`:
 * a pipeline gives it its inner layers as `next`, so each call crosses the
 * layer boundary without a closure.
 */
export interface LayeredPolicy<R = unknown> extends ContextualPolicy<R> {
  [runThrough]<T>(fn: Operation<T>, parent: ExecutionContext | undefined, next: Next): Promise<T>;
}

/** True if `policy` implements {@link runThrough}. */
export function isLayered(policy: Policy<never>): policy is LayeredPolicy<never> {
  return typeof (policy as Partial<LayeredPolicy>)[runThrough] === "function";
}

/** True if `policy` implements {@link runInContext}. */
export function isContextual(policy: Policy<never>): policy is ContextualPolicy<never> {
  return typeof (policy as Partial<ContextualPolicy>)[runInContext] === "function";
}

/**
 * `execute(fn, signal)` of a policy that runs in a parent context: refuses
 * an `fn` that is not a function or a `signal` that is not an `AbortSignal`
 * (with an `InvalidArgumentError` naming `target`), and a signal that has
 * already aborted (with its reason), without running `fn` or touching any
 * state; else runs `fn` with the signal as its parent. The one check of a
 * call's arguments: pipelines and the layers inside them trust it.
 */
export function executeIn<T>(
  policy: ContextualPolicy<never>,
  fn: Operation<T>,
  signal: AbortSignal | undefined,
  target: string,
): Promise<T> {
  const misuse = badCall(target, fn, signal);
  if (misuse !== undefined) return Promise.reject(misuse);
  if (signal?.aborted) return Promise.reject(signal.reason);
  return policy[runInContext](fn, parentFor(signal));
}

/**
 * `wrap(fn)` of a policy: `fn` with the same parameters, each call run
 * through `policy`. Throws an `InvalidArgumentError` naming `target` at
 * once if `fn` is not a function.
 */
export function wrapIn<A extends unknown[], R>(
  policy: Policy<never>,
  fn: (...args: A) => R | PromiseLike<R>,
  target: string,
): (...args: A) => Promise<R> {
  throwIf(badFunction(target, fn));
  return (...args) => (policy as Policy).execute(() => fn(...args));
}

/** The parent context for a caller's signal: none when there is no signal. */
export function parentFor(signal: AbortSignal | undefined): ExecutionContext | undefined {
  return signal === undefined ? undefined : { signal };
}

/**
 * Turns a context received from a foreign policy back into a parent: the
 * shared never-aborting context means "no signal", so inner layers do not
 * listen to a signal that can never fire.
 */
export function parentOf(context: ExecutionContext): ExecutionContext | undefined {
  return context === contextFor(undefined) ? undefined : context;
}

/** Runs `fn` with `parent`'s context (or the shared one), as a promise; a synchronous throw becomes a rejection. */
export function invoke<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T> {
  try {
    return Promise.resolve(fn(parent ?? contextFor(undefined)));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * True for promises and other thenables. Never throws: a value whose `then`
 * getter throws counts as a thenable, so the caller hands it to
 * `Promise.resolve`, which reads `then` again and rejects with the getter's
 * error. The operation that returned it failed; every slot and timer is
 * freed as for any other failure.
 */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  try {
    return typeof (value as PromiseLike<T> | null)?.then === "function";
  } catch {
    return true;
  }
}
