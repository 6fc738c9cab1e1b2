/**
 * Fused pipelines: every layer of a pipeline on one promise reaction.
 *
 * Layered, a call through bulkhead → breaker → retry → timeout waits on one
 * promise reaction per layer: the timeout's, then retry's, the breaker's and
 * the bulkhead's, each with its derived promise, each a microtask turn. Yet
 * on the common path none of those exits waits for anything: the timeout
 * leaves its queue, retry sees a success, the breaker counts it, the
 * bulkhead frees its slot, all synchronous bookkeeping.
 *
 * A fused segment runs each layer's synchronous entry ({@link Stage.enter})
 * outermost first, calls the operation, and on its one reaction runs every
 * layer's exit innermost first. Two things leave the fused path:
 *
 * - an entry that cannot be taken synchronously (a full bulkhead that must
 *   queue or refuse, a breaker that is not plainly closed) returns
 *   {@link SLOW}: that layer and those inside it run layered, as they would
 *   without fusion, and the outer layers' exits wait for their promise;
 * - an exit that must wait (a retry) returns a promise: the outer layers'
 *   exits wait for it.
 *
 * So a fused call does what the layered one does, in the same order (entries
 * outermost first, exits innermost first), only with fewer microtask turns
 * between the exits. `tests/pipeline_fused.test.ts` checks that claim
 * against the layered pipeline with generated scenarios.
 *
 * @module
 */
import { contextFor, type ExecutionContext, type Operation, type Policy } from "../policy.ts";
import { isThenable } from "./context.ts";

/** Returned by {@link Stage.enter}: this call runs layered from this layer inward. */
export const SLOW: unique symbol = Symbol("bulwark.slow");

/** Key of the method that gives a policy's {@link Stage} for a fused pipeline. */
export const fuse: unique symbol = Symbol("bulwark.fuse");

/** Runs an operation through some layers of a pipeline, under a parent context. */
export type Runner = <T>(fn: Operation<T>, parent: ExecutionContext | undefined) => Promise<T>;

/**
 * One call through a fused segment: the record every stage of the call
 * sees. A stage may offer to make it ({@link Stage.record}): a timeout's
 * call is one, so that a fused call through a timeout allocates one record,
 * not two.
 */
export interface FusedCall {
  /** The operation. */
  readonly fn: Operation<unknown>;
  /** The context the next layer inward receives; a timeout's entry replaces it. */
  context: ExecutionContext | undefined;
  // Each entered layer's state, by position in the segment: the first
  // four in fields (one allocation per call, not two), the others in `more`.
  state0: unknown;
  state1: unknown;
  state2: unknown;
  state3: unknown;
  /** Set only by a segment of more than four stages. */
  more: unknown[] | undefined;
}

/** The record of a fused call when no stage makes it. */
class Call implements FusedCall {
  readonly fn: Operation<unknown>;
  context: ExecutionContext | undefined;
  state0: unknown = undefined;
  state1: unknown = undefined;
  state2: unknown = undefined;
  state3: unknown = undefined;
  declare more: unknown[] | undefined;

  constructor(fn: Operation<unknown>, context: ExecutionContext | undefined) {
    this.fn = fn;
    this.context = context;
  }
}

/** The state of the stage at `index`. */
function stateAt(call: FusedCall, index: number): unknown {
  switch (index) {
    case 0:
      return call.state0;
    case 1:
      return call.state1;
    case 2:
      return call.state2;
    case 3:
      return call.state3;
    default:
      return call.more![index - 4];
  }
}

/**
 * A layer's part in a fused call, built once per pipeline position. Exits
 * pass the outcome outward: return a value to succeed, throw to fail.
 */
export interface Stage {
  /** True if an exit may return a promise to wait for (retry); unset means false. */
  readonly mayWait?: boolean;
  /**
   * Enters the layer, synchronously: returns the state that its exit gets
   * back, or {@link SLOW} to run this layer (and those inside it) layered.
   * May set `call.context` for the layers inside.
   */
  enter(call: FusedCall): unknown;
  /**
   * Called when the call must wait (the operation returned a promise, a
   * layer inside waits, or runs layered), after the segment is watching it.
   * May be called again, or never if everything settled synchronously. A
   * timeout joins its deadline queue here: its lazy timer then arms after
   * the operation's own reaction has had its turn.
   */
  started?(state: unknown, call: FusedCall): void;
  /** The layers inside succeeded with `value`. */
  onValue(state: unknown, value: unknown, call: FusedCall): unknown;
  /** The layers inside failed with `error`. */
  onError(state: unknown, error: unknown, call: FusedCall): unknown;
  /**
   * A variant of this stage whose per-call state is the call record itself,
   * and the function that makes that record. A segment uses it for its
   * innermost stage that offers one (its `enter` gets the record it made).
   */
  readonly record?: {
    readonly stage: Stage;
    newCall(fn: Operation<unknown>, parent: ExecutionContext | undefined): FusedCall;
  };
}

/** A policy that can run as a stage of a fused pipeline. */
export interface FusablePolicy<R = unknown> extends Policy<R> {
  /**
   * Its stage, given the layers inside it as a runner (for a retry's later
   * attempts); `undefined` if this configuration cannot be fused (an
   * aggressive timeout settles its caller's promise on its own).
   */
  [fuse](inner: Runner | undefined): Stage | undefined;
}

/** True if `policy` implements {@link fuse}. */
export function isFusable(policy: Policy<never>): policy is FusablePolicy<never> {
  return typeof (policy as Partial<FusablePolicy>)[fuse] === "function";
}

/** {@link isThenable}, skipping primitives first: a primitive is never a thenable to `Promise.resolve`. */
function maybeThenable(value: unknown): boolean {
  return value !== null && (typeof value === "object" || typeof value === "function") && isThenable(value);
}

function settleNow(segment: Segment, call: FusedCall, from: number, failed: boolean, outcome: unknown): Promise<unknown> {
  try {
    return Promise.resolve(segment.exit(call, from, failed, outcome));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Idle handler pairs a segment keeps: enough for the calls a caller keeps in flight, bounded. */
const POOLED = 64;

/**
 * The reaction handlers of one pending call of a {@link Segment.runFour}
 * segment. A call's reaction runs once, and then nothing holds its
 * handlers but the promise machinery that is done with them, so a segment
 * reuses the pair for a later call: two closures per call, saved. `next`
 * links the idle pairs.
 */
class Watch {
  call: FusedCall | undefined = undefined;
  next: Watch | undefined = undefined;
  readonly onValue: (value: unknown) => unknown;
  readonly onError: (error: unknown) => unknown;

  constructor(segment: Segment) {
    this.onValue = (value) => segment.exitValue(segment.unwatch(this), 3, value);
    this.onError = (error) => segment.exit(segment.unwatch(this), 3, true, error);
  }
}

/** A fused segment: its stages, outermost first, and where each goes when it cannot be fused. */
class Segment {
  readonly #stages: readonly Stage[];
  readonly #layered: readonly Runner[];
  readonly #inner: Runner | undefined;
  readonly #size: number;
  // The first four stages in fields of their own, so that each position's
  // call sites see one stage (and V8 inlines it) on the common path.
  readonly #s0: Stage | undefined;
  readonly #s1: Stage | undefined;
  readonly #s2: Stage | undefined;
  readonly #s3: Stage | undefined;
  /** The stages with a `started` hook, innermost first. */
  readonly #starters: ReadonlyArray<{ readonly stage: Stage; readonly index: number }>;
  /** The one stage with a `started` hook (a timeout, mostly) and its position, when there is exactly one. */
  readonly #starter: Stage | undefined;
  readonly #starterIndex: number;
  /** Makes the call record, when a stage keeps its state in it (see {@link Stage.record}); called as a method, so that its call site sees one target for every pipeline. */
  readonly #record: Stage["record"];
  /** True when the one starter is the record's own stage: `run` starts the record itself. */
  readonly #recordStarts: boolean;

  constructor(given: readonly Stage[], layered: readonly Runner[], inner: Runner | undefined) {
    let owner = -1;
    for (let index = given.length - 1; index >= 0 && owner < 0; index--) if (given[index]!.record !== undefined) owner = index;
    const stages = owner < 0 ? given : given.map((stage, index) => index === owner ? stage.record!.stage : stage);
    this.#record = owner < 0 ? undefined : given[owner]!.record;
    this.#stages = stages;
    this.#size = stages.length;
    this.#layered = layered;
    this.#inner = inner;
    [this.#s0, this.#s1, this.#s2, this.#s3] = stages;
    this.#starters = stages
      .map((stage, index) => ({ stage, index }))
      .filter(({ stage }) => stage.started !== undefined)
      .reverse();
    this.#starter = this.#starters.length === 1 ? this.#starters[0]!.stage : undefined;
    this.#starterIndex = this.#starters.length === 1 ? this.#starters[0]!.index : -1;
    this.#recordStarts = owner >= 0 && this.#starterIndex === owner;
    this.four = fusing > 1 && inner === undefined && this.#size === 4 && owner === 3 && this.#recordStarts;
  }

  /**
   * True for four stages whose innermost makes the call record and owns the
   * one deadline, around the operation itself: a `ResiliencePipeline` of
   * all four steps with the timeout innermost (its default order), which
   * {@link Segment.runFour} runs.
   */
  readonly four: boolean;

  /**
   * {@link Segment.run} for a {@link Segment.four} segment: the same steps in
   * the same order, on straight-line code (each position's entry and exit
   * at its own call site, no count of stages, the record's deadline started
   * directly). Anything off the success path continues in the general code.
   */
  runFour(fn: Operation<unknown>, parent: ExecutionContext | undefined): Promise<unknown> {
    const call = this.#record!.newCall(fn, parent);
    let state: unknown;
    let at = 0;
    try {
      if ((state = this.#s0!.enter(call)) === SLOW) return this.#fromSlow(call, 0);
      call.state0 = state;
      at = 1;
      if ((state = this.#s1!.enter(call)) === SLOW) return this.#fromSlow(call, 1);
      call.state1 = state;
      at = 2;
      if ((state = this.#s2!.enter(call)) === SLOW) return this.#fromSlow(call, 2);
      call.state2 = state;
      at = 3;
      if ((state = this.#s3!.enter(call)) === SLOW) return this.#fromSlow(call, 3);
      call.state3 = state;
    } catch (error) {
      // An entry threw (a user clock, say): the layers it entered exit.
      return settleNow(this, call, at - 1, true, error);
    }
    let result: unknown;
    try {
      // The record's timeout has entered: the record is the operation's context.
      result = fn(call as unknown as ExecutionContext);
    } catch (error) {
      return settleNow(this, call, 3, true, error);
    }
    if (!(result instanceof Promise) && !isThenable(result)) return settleNow(this, call, 3, false, result);
    // Handlers from the pool: no closures per call.
    let watch = this.#free;
    if (watch === undefined) watch = new Watch(this);
    else {
      this.#free = watch.next;
      this.#freeCount--;
    }
    watch.call = call;
    const settled = Promise.resolve(result).then(watch.onValue, watch.onError);
    (call as FusedCall & { start(): void }).start();
    return settled;
  }

  /** Idle handler pairs of {@link Segment.runFour}, linked by `next`. */
  #free: Watch | undefined = undefined;
  #freeCount = 0;

  /** Takes the call off `watch` and gives the pair back to the pool (before any exit runs: an exit may start a call). */
  unwatch(watch: Watch): FusedCall {
    const call = watch.call!;
    watch.call = undefined;
    if (this.#freeCount < POOLED) {
      watch.next = this.#free;
      this.#free = watch;
      this.#freeCount++;
    }
    return call;
  }

  /** The stage at `entered` said {@link SLOW}: it and the layers inside run layered, the ones entered wait for them. */
  #fromSlow(call: FusedCall, entered: number): Promise<unknown> {
    try {
      return this.#later(this.#layered[entered]!(call.fn, call.context), call, entered - 1);
    } catch (error) {
      // The layers inside threw synchronously (a foreign policy can): the layers entered exit.
      return settleNow(this, call, entered - 1, true, error);
    }
  }

  run(fn: Operation<unknown>, parent: ExecutionContext | undefined): Promise<unknown> {
    const size = this.#size;
    const record = this.#record;
    const call = record === undefined ? new Call(fn, parent) : record.newCall(fn, parent);
    const entered = this.#enter(call, size);
    if (entered < 0) {
      // An entry threw (a user clock, say): the layers it entered exit.
      const error = this.#thrown;
      this.#thrown = undefined;
      return settleNow(this, call, -entered - 3, true, error);
    }
    if (entered < size) return this.#fromSlow(call, entered);
    let result: unknown;
    try {
      result = this.#inner === undefined ? fn(call.context ?? contextFor(undefined)) : this.#inner(fn, call.context);
    } catch (error) {
      return settleNow(this, call, size - 1, true, error);
    }
    // A native promise first: no `then` lookup (nor try) on the common path.
    if (!(result instanceof Promise) && !isThenable(result)) return settleNow(this, call, size - 1, false, result);
    const settled = Promise.resolve(result).then(
      (value) => this.exitValue(call, size - 1, value),
      (error) => this.exit(call, size - 1, true, error),
    );
    // Every stage has entered: the record's own deadline, if it is the one starter, starts directly.
    if (this.#recordStarts) (call as FusedCall & { start(): void }).start();
    else if (this.#starters.length > 0) this.#start(call, size - 1);
    return settled;
  }

  /** The error of the entry that threw, for {@link Segment.run} (read at once, then cleared). */
  #thrown: unknown = undefined;

  /**
   * Enters every stage, outermost first; returns the position of one that
   * said {@link SLOW}, or `size`; or, when the entry at `position` threw, `-2 - position`
   * (the error kept for {@link Segment.run}): no count of entered stages is
   * written per call.
   */
  #enter(call: FusedCall, size: number): number {
    let state: unknown;
    let index = 0;
    try {
      if (size > 0) {
        if ((state = this.#s0!.enter(call)) === SLOW) return 0;
        call.state0 = state;
      }
      index = 1;
      if (size > 1) {
        if ((state = this.#s1!.enter(call)) === SLOW) return 1;
        call.state1 = state;
      }
      index = 2;
      if (size > 2) {
        if ((state = this.#s2!.enter(call)) === SLOW) return 2;
        call.state2 = state;
      }
      index = 3;
      if (size > 3) {
        if ((state = this.#s3!.enter(call)) === SLOW) return 3;
        call.state3 = state;
      }
      if (size <= 4) return size;
      const stages = this.#stages;
      const more = call.more = new Array(size - 4);
      for (index = 4; index < size; index++) {
        if ((state = stages[index]!.enter(call)) === SLOW) return index;
        more[index - 4] = state;
      }
      return size;
    } catch (error) {
      this.#thrown = error;
      return -2 - index;
    }
  }

  /**
   * The success path's exit, from the innermost stage: each of the first
   * four positions has its own call site. Anything else (a failure, a
   * throwing or waiting exit) continues in {@link Segment.exit}.
   */
  exitValue(call: FusedCall, from: number, value: unknown): unknown {
    if (from > 3) return this.exit(call, from, false, value);
    let outcome: unknown = value;
    // One handler for the four exits: `at` says which one threw.
    let at = from;
    try {
      if (at >= 3) {
        outcome = this.#s3!.onValue(call.state3, outcome, call);
        if (this.#s3!.mayWait && maybeThenable(outcome)) return this.#later(Promise.resolve(outcome), call, 2);
        at = 2;
      }
      if (at >= 2) {
        outcome = this.#s2!.onValue(call.state2, outcome, call);
        if (this.#s2!.mayWait && maybeThenable(outcome)) return this.#later(Promise.resolve(outcome), call, 1);
        at = 1;
      }
      if (at >= 1) {
        outcome = this.#s1!.onValue(call.state1, outcome, call);
        if (this.#s1!.mayWait && maybeThenable(outcome)) return this.#later(Promise.resolve(outcome), call, 0);
        at = 0;
      }
    } catch (error) {
      return this.exit(call, at - 1, true, error);
    }
    if (at >= 0) {
      outcome = this.#s0!.onValue(call.state0, outcome, call);
      if (this.#s0!.mayWait && maybeThenable(outcome)) return this.#later(Promise.resolve(outcome), call, -1);
    }
    return outcome;
  }

  /** Passes an outcome out through the stages from `from` outward: returns, throws, or returns a promise when one must wait. */
  exit(call: FusedCall, from: number, failed: boolean, outcome: unknown): unknown {
    const stages = this.#stages;
    for (let index = from; index >= 0; index--) {
      const stage = stages[index]!;
      try {
        outcome = failed
          ? stage.onError(stateAt(call, index), outcome, call)
          : stage.onValue(stateAt(call, index), outcome, call);
        failed = false;
      } catch (error) {
        outcome = error;
        failed = true;
        continue;
      }
      if (stage.mayWait && maybeThenable(outcome)) return this.#later(Promise.resolve(outcome), call, index - 1);
    }
    if (failed) throw outcome;
    return outcome;
  }

  #later(promise: Promise<unknown>, call: FusedCall, from: number): Promise<unknown> {
    if (from < 0) return promise;
    const settled = promise.then(
      (value) => this.exit(call, from, false, value),
      (error) => this.exit(call, from, true, error),
    );
    if (this.#starters.length > 0) this.#start(call, from);
    return settled;
  }

  /** Tells the stages from `from` outward that the call waits. */
  #start(call: FusedCall, from: number): void {
    const starter = this.#starter;
    if (starter !== undefined) {
      // One starter: no loop over the list (a call through a pipeline with a timeout pays this).
      if (this.#starterIndex <= from) starter.started!(stateAt(call, this.#starterIndex), call);
      return;
    }
    const starters = this.#starters;
    for (let i = 0; i < starters.length; i++) {
      const { stage, index } = starters[i]!;
      if (index <= from) stage.started!(stateAt(call, index), call);
    }
  }
}

/**
 * The runner of a fused segment.
 *
 * @param stages the segment's stages, outermost first
 * @param layered for each stage, the layered runner from that position
 *   inward: where a call goes when the stage's entry says {@link SLOW}
 * @param inner what the segment wraps: the rest of the pipeline, or the
 *   operation itself when `undefined`
 */
export function fusedRunner(stages: readonly Stage[], layered: readonly Runner[], inner: Runner | undefined): Runner {
  const segment = new Segment(stages, layered, inner);
  if (segment.four) return ((fn, parent) => segment.runFour(fn as Operation<unknown>, parent)) as Runner;
  return ((fn, parent) => segment.run(fn as Operation<unknown>, parent)) as Runner;
}

/** 2: fused, with the four-stage path; 1: fused, without it; 0: layered. */
let fusing = 2;

function buildWith<T>(mode: number, build: () => T): T {
  fusing = mode;
  try {
    return build();
  } finally {
    fusing = 2;
  }
}

/** True unless inside {@link withoutFusion}. */
export function fusionEnabled(): boolean {
  return fusing > 0;
}

/**
 * Builds with fusion off: pipelines made inside `build` run every layer in
 * turn. For tests that check the fused path against the layered one.
 */
export function withoutFusion<T>(build: () => T): T {
  return buildWith(0, build);
}

/**
 * Builds without the four-stage path ({@link Segment.runFour}): pipelines
 * made inside `build` take the general fused path. For tests that check
 * the one against the other.
 */
export function withoutFastPath<T>(build: () => T): T {
  return buildWith(1, build);
}
