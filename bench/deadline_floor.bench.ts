// The floor of a four-policy pipeline with a real deadline (issue 15): the
// least work any implementation must do per call, written by hand, beside
// a direct bare `await fn()` and the library's own pipeline, in one process
// (bench/harness.ts says how it measures).
//
// What a pipeline of bulkhead, breaker, retry and a timeout must do per call
// on the success path, whatever its code: see the outcome (one promise
// reaction around `fn`, which also makes the promise it returns), keep what
// the call's exits need (one record), and make sure that the call, if it is
// still pending at its deadline, times out: a timer per call (~100–200 ns),
// a clock read per call beside one shared timer, or (bulwark's scheme) a
// check a few microtask turns later that arms a timer only for the calls
// still pending, one check per burst of calls. A call made after the
// previous one settled is a burst of its own, so a caller that awaits each
// call pays one check per call. The cases add those parts one at a time.
// The three outer policies' own bookkeeping (a counter or two each) is left
// out: this is the floor beneath them.
//
//   npm run bench -- deadline_floor                       all four runtimes
//   npx --yes -p node@24 node --expose-gc bench/deadline_floor.bench.ts [--quick]
//
// Imports bulwark from dist/ (`npm run build` first), for the pipeline beside
// the floor.
import { runBench, type Group, type Target } from "./harness.ts";
import { bulwark } from "./bulwark.ts";

const fn = async (): Promise<number> => 1;
const bare: Group["baseline"] = { name: "bare fn()", by: "baseline", call: () => fn() };

const fusedPipeline = new bulwark.ResiliencePipeline({
  bulkhead: { maxConcurrent: 10 },
  circuitBreaker: { maxFailures: 5 },
  retry: { maxAttempts: 3 },
  timeout: { timeoutMs: 1_000 },
});

const passValue = (value: number): number => value;
const passError = (error: unknown): never => {
  throw error;
};

/** A call's record, the size of the library's (a deadline's state and link, the stages' states, the flags). */
class Record {
  state = 0;
  link: Record | (() => void) | undefined = undefined;
  state0: unknown = undefined;
  state1: unknown = undefined;
  state2: unknown = undefined;
  state3: unknown = undefined;
  flags = 0;
  readonly fn: () => Promise<number>;
  readonly shared: object;
  constructor(fn: () => Promise<number>, shared: object) {
    this.fn = fn;
    this.shared = shared;
  }
}
const shared = {};

// Each variant below is written out in full, not built by one factory: V8
// shares a call site's feedback between the closures one site makes, and a
// call site shared by the variants would be polymorphic in all of them.

/**
 * A call with a record and the reaction, and nothing for the deadline. The
 * reaction's handlers are pooled (a pair is reused once its reaction has
 * run; at most one call is pending here, a caller with more keeps more), so
 * finding the call's record costs a field read, not two closures per call.
 */
class RecordWatch {
  record: Record | undefined = undefined;
  next: RecordWatch | undefined = undefined;
  readonly onValue = (value: number): number => {
    const record = this.record!;
    this.record = undefined;
    this.next = recordFree;
    recordFree = this;
    record.flags = 1;
    return value;
  };
  readonly onError = (error: unknown): never => {
    const record = this.record!;
    this.record = undefined;
    this.next = recordFree;
    recordFree = this;
    record.flags = 1;
    throw error;
  };
}
let recordFree: RecordWatch | undefined;
function recordWatch(record: Record): RecordWatch {
  let watch = recordFree;
  if (watch === undefined) watch = new RecordWatch();
  else recordFree = watch.next;
  watch.record = record;
  return watch;
}
function withRecord(): Promise<number> {
  const watch = recordWatch(new Record(fn, shared));
  return fn().then(watch.onValue, watch.onError);
}

// A check per call, alone: what each way of taking a turn costs.
const settled = Promise.resolve();
const nothing = (): void => {};
function withPromiseHopOnly(): Promise<number> {
  const done = fn().then(passValue, passError);
  void settled.then(nothing);
  return done;
}
function withPromiseHop(): Promise<number> {
  const watch = recordWatch(new Record(fn, shared));
  const done = fn().then(watch.onValue, watch.onError);
  void settled.then(nothing);
  return done;
}
function withQueuedMicrotask(): Promise<number> {
  const watch = recordWatch(new Record(fn, shared));
  const done = fn().then(watch.onValue, watch.onError);
  queueMicrotask(nothing);
  return done;
}
// A clock read per call: the per-call part of "one shared timer, and a
// deadline per call read from the clock" (the timer's re-arming not counted).
function withClockRead(): Promise<number> {
  const record = new Record(fn, shared);
  const watch = recordWatch(record);
  const done = fn().then(watch.onValue, watch.onError);
  record.state = performance.now() + 1_000;
  return done;
}

// The lazy deadline, minimal: a call joins the burst; one check per burst,
// three microtask turns later (fewer while none is pending), arms a timer
// for each call still pending (never, here: `fn` settles in one turn); the
// reaction leaves. Two copies: the turn taken with a settled promise's
// `then`, or with `queueMicrotask` (and a third below, with the outer
// counters). Copies on purpose, not one shared queue: a floor's call sites
// must each see one target, as hand-written code would, or the floor
// would measure V8's polymorphic calls instead (see docs/benchmarks.md,
// "Fused stages as classes").
const PENDING = 1;
const ARMED = 2;
const DONE = 0;
function arm(record: Record): void {
  record.state = ARMED;
  const timer = setTimeout(() => {
    if (record.state === ARMED) record.state = DONE;
  }, 1_000);
  record.link = () => clearTimeout(timer);
}
function leave(record: Record): number {
  const state = record.state;
  if (state === DONE) return 0;
  record.state = DONE;
  if (state === ARMED) (record.link as () => void)();
  return 1;
}

let pFirst: Record | undefined;
let pLast: Record | undefined;
let pPending = 0;
let pTurns = 0;
const pPass = (): void => {
  if (--pTurns > 0 && pPending > 0) {
    void settled.then(pPass);
    return;
  }
  pTurns = 0;
  let record = pFirst;
  pFirst = pLast = undefined;
  while (record !== undefined) {
    const next = record.link as Record | undefined;
    record.link = undefined;
    if (record.state === PENDING) arm(record);
    record = next;
  }
};
class PromiseHopWatch {
  record: Record | undefined = undefined;
  next: PromiseHopWatch | undefined = undefined;
  readonly onValue = (value: number): number => {
    const record = this.record!;
    this.record = undefined;
    this.next = pFree;
    pFree = this;
    pPending -= leave(record);
    return value;
  };
  readonly onError = (error: unknown): never => {
    const record = this.record!;
    this.record = undefined;
    this.next = pFree;
    pFree = this;
    pPending -= leave(record);
    throw error;
  };
}
let pFree: PromiseHopWatch | undefined;
function lazyPromise(): Promise<number> {
  const record = new Record(fn, shared);
  let watch = pFree;
  if (watch === undefined) watch = new PromiseHopWatch();
  else pFree = watch.next;
  watch.record = record;
  const done = fn().then(watch.onValue, watch.onError);
  record.state = PENDING;
  if (pLast === undefined) pFirst = record;
  else pLast.link = record;
  pLast = record;
  pPending++;
  if (pTurns === 0) {
    pTurns = 3;
    void settled.then(pPass);
  }
  return done;
}

let mFirst: Record | undefined;
let mLast: Record | undefined;
let mPending = 0;
let mTurns = 0;
const mPass = (): void => {
  if (--mTurns > 0 && mPending > 0) {
    queueMicrotask(mPass);
    return;
  }
  mTurns = 0;
  let record = mFirst;
  mFirst = mLast = undefined;
  while (record !== undefined) {
    const next = record.link as Record | undefined;
    record.link = undefined;
    if (record.state === PENDING) arm(record);
    record = next;
  }
};
class MicrotaskHopWatch {
  record: Record | undefined = undefined;
  next: MicrotaskHopWatch | undefined = undefined;
  readonly onValue = (value: number): number => {
    const record = this.record!;
    this.record = undefined;
    this.next = mFree;
    mFree = this;
    mPending -= leave(record);
    return value;
  };
  readonly onError = (error: unknown): never => {
    const record = this.record!;
    this.record = undefined;
    this.next = mFree;
    mFree = this;
    mPending -= leave(record);
    throw error;
  };
}
let mFree: MicrotaskHopWatch | undefined;
function lazyMicrotask(): Promise<number> {
  const record = new Record(fn, shared);
  let watch = mFree;
  if (watch === undefined) watch = new MicrotaskHopWatch();
  else mFree = watch.next;
  watch.record = record;
  const done = fn().then(watch.onValue, watch.onError);
  record.state = PENDING;
  if (mLast === undefined) mFirst = record;
  else mLast.link = record;
  mLast = record;
  mPending++;
  if (mTurns === 0) {
    mTurns = 3;
    queueMicrotask(mPass);
  }
  return done;
}

// The floor with the three outer policies' own bookkeeping, at its least:
// a bulkhead's count of running calls, a breaker's closed check and its
// count of consecutive failures, retry's first-attempt check. The turn is
// taken the way the library takes it (a settled promise's `then`).
let running = 0;
const maxRunning = 10;
// A variable, as a breaker's state is (read per call, written on transitions).
let breakerClosed = true;
let consecutiveFailures = 0;
const retryOnResult: ((value: number) => boolean) | undefined = undefined;
let sFirst: Record | undefined;
let sLast: Record | undefined;
let sPending = 0;
let sTurns = 0;
const sPass = (): void => {
  if (--sTurns > 0 && sPending > 0) {
    void settled.then(sPass);
    return;
  }
  sTurns = 0;
  let record = sFirst;
  sFirst = sLast = undefined;
  while (record !== undefined) {
    const next = record.link as Record | undefined;
    record.link = undefined;
    if (record.state === PENDING) arm(record);
    record = next;
  }
};
class StagesWatch {
  record: Record | undefined = undefined;
  next: StagesWatch | undefined = undefined;
  readonly onValue = (value: number): number => {
    const record = this.record!;
    this.record = undefined;
    this.next = sFree;
    sFree = this;
    sPending -= leave(record);
    if (retryOnResult !== undefined && (retryOnResult as (value: number) => boolean)(value)) throw new Error("not benched");
    consecutiveFailures = 0;
    running--;
    return value;
  };
  readonly onError = (error: unknown): never => {
    const record = this.record!;
    this.record = undefined;
    this.next = sFree;
    sFree = this;
    sPending -= leave(record);
    consecutiveFailures++;
    running--;
    throw error;
  };
}
let sFree: StagesWatch | undefined;
function lazyWithStages(): Promise<number> {
  if (running >= maxRunning || !breakerClosed) throw new Error("not benched");
  running++;
  const record = new Record(fn, shared);
  let watch = sFree;
  if (watch === undefined) watch = new StagesWatch();
  else sFree = watch.next;
  watch.record = record;
  const done = fn().then(watch.onValue, watch.onError);
  record.state = PENDING;
  if (sLast === undefined) sFirst = record;
  else sLast.link = record;
  sLast = record;
  sPending++;
  if (sTurns === 0) {
    sTurns = 3;
    void settled.then(sPass);
  }
  return done;
}
const groups: Group[] = [
  {
    id: "floor",
    title: "the floor of a four-policy pipeline with a deadline, part by part",
    baseline: bare,
    cases: [
      { name: "fn().then(onValue, onError)", by: "platform", call: () => fn().then(passValue, passError) },
      { name: "+ a promise hop per call (no record)", by: "platform", call: withPromiseHopOnly },
      { name: "+ a record, pooled handlers", by: "platform", call: withRecord },
      { name: "+ a record + a promise hop per call", by: "platform", call: withPromiseHop },
      { name: "+ a record + queueMicrotask per call", by: "platform", call: withQueuedMicrotask },
      { name: "+ a record + performance.now() per call", by: "platform", call: withClockRead },
      { name: "floor: lazy deadline, promise hop", by: "platform", call: lazyPromise },
      { name: "floor: lazy deadline, queueMicrotask hop", by: "platform", call: lazyMicrotask },
      {
        name: "floor + the outer policies' counters, this runtime's hop",
        by: "platform",
        call: lazyWithStages,
      },
      { name: "bulwark ResiliencePipeline (fused)", by: "bulwark", call: () => fusedPipeline.execute(fn) },
    ],
  },
];

/** The floor's ratio, the lower of its two hops: if even that is over 3x, the pipeline cannot be within 3x with a deadline. */
const targets: Target[] = [
  {
    text: "floor of a pipeline with a lazy deadline (the cheaper hop) ≤ 3x a direct bare call",
    check: (figure) => {
      const floors = [
        figure("floor", "floor: lazy deadline, promise hop"),
        figure("floor", "floor: lazy deadline, queueMicrotask hop"),
      ].filter((item) => item !== undefined);
      if (floors.length === 0) return undefined;
      const best = floors.reduce((a, b) => (a.ratio <= b.ratio ? a : b));
      return { value: `${best.ratio.toFixed(2)}x (+${best.addedNs.toFixed(1)} ns)`, met: best.ratio <= 3 };
    },
  },
];

await runBench("bench/deadline_floor.bench.ts", groups, targets);
