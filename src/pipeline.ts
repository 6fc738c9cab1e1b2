/**
 * Pipelines: policies layered around one operation, the first outermost.
 * The caller's signal flows through every layer to the operation, and each
 * layer stays reachable, so its events can be observed.
 *
 * @module
 */
import { Bulkhead, type BulkheadOptions } from "./bulkhead.ts";
import { CircuitBreaker, type CircuitBreakerOptions } from "./breaker/circuit_breaker.ts";
import { ConfigError, type ConfigIssue, InvalidArgumentError } from "./errors.ts";
import { badOptions, throwIf } from "./internal/arguments.ts";
import { type ContextualPolicy, executeIn, invoke, runInContext, wrapIn } from "./internal/context.ts";
import { fuse, fusedRunner, fusionEnabled, isFusable, type Runner, type Stage } from "./internal/fused.ts";
import { layer } from "./internal/layers.ts";
import type { ExecutionContext, Operation, PoliciesResult, Policy } from "./policy.ts";
import { RetryPolicy, type RetryOptions } from "./retry.ts";
import { TimeoutPolicy, type TimeoutOptions } from "./timeout.ts";
import { closestKey } from "./validation.ts";

const POLICY = "a policy (an object with an execute(fn, signal) method)";

function isPolicy(value: unknown): value is Policy<never> {
  return typeof (value as Policy<never> | null)?.execute === "function";
}

/** Refuses `policies` unless it is an array of policies (with the InvalidArgumentError naming the bad one). */
function checkPolicies(target: string, policies: unknown): void {
  if (!Array.isArray(policies)) throw new InvalidArgumentError(target, "policies", policies, "an array of policies");
  policies.forEach((policy: unknown, index) => {
    if (!isPolicy(policy)) throw new InvalidArgumentError(target, `policies.${index}`, policy, POLICY);
  });
}

/**
 * Policies applied in order around an operation: `new Pipeline([a, b, c])`
 * runs `a.execute(() => b.execute(() => c.execute(fn)))`. Any {@link Policy}
 * fits, and a pipeline is a policy itself, so pipelines nest.
 *
 * `R` is what its operations may return: `unknown` unless you say otherwise.
 * {@link pipeline} infers it from the policies (a
 * `RetryPolicy<Response>` inside makes the pipeline a `Policy<Response>`);
 * with this constructor, name it: `new Pipeline<Response>([...])`.
 *
 * @example
 * ```ts
 * import { Bulkhead, Pipeline, RetryPolicy } from "bulwark";
 * const resilient = new Pipeline([new Bulkhead({ maxConcurrent: 4 }), new RetryPolicy({ baseDelayMs: 0 })]);
 * let calls = 0;
 * const value = await resilient.execute(async () => {
 *   if (++calls === 1) throw new Error("flaky");
 *   return calls;
 * });
 * if (value !== 2) throw new Error("unexpected");
 * ```
 */
export class Pipeline<R = unknown> implements ContextualPolicy<R> {
  /** The layers, outermost first. */
  readonly policies: readonly Policy<never>[];
  readonly #run: Runner;

  // deno-lint-ignore no-explicit-any
  constructor(policies: readonly Policy<any>[]) {
    checkPolicies("Pipeline", policies);
    this.policies = Object.freeze([...policies]);
    this.#run = compose(this.policies, fusionEnabled()) ?? invoke;
  }

  /** Runs `fn` through every layer. `signal` reaches each layer and `fn`. */
  execute<T extends R>(fn: Operation<T>, signal?: AbortSignal): Promise<T> {
    // Without a signal, straight to the runner: executeIn's call of the
    // policy is shared by every policy class, so it is a megamorphic call.
    if (signal === undefined && typeof fn === "function") return this.#run(fn, undefined) as Promise<T>;
    return executeIn(this, fn, signal, "Pipeline.execute");
  }

  /** Wraps `fn` so that every call runs through the pipeline. */
  wrap<A extends unknown[], T extends R>(fn: (...args: A) => T | PromiseLike<T>): (...args: A) => Promise<T> {
    return wrapIn(this, fn, "Pipeline.wrap");
  }

  /** @internal */
  [runInContext]<T>(fn: Operation<T>, parent: ExecutionContext | undefined): Promise<T> {
    return this.#run(fn, parent);
  }
}

/**
 * The runner of the whole pipeline (`undefined` when it has no layer).
 * Consecutive layers that can be fused (see `internal/fused.ts`) run on one
 * promise reaction; the others, and the fused ones whenever they cannot
 * take their fast path, run layered, each around the next.
 */
function compose(policies: readonly Policy[], fusing: boolean): Runner | undefined {
  const count = policies.length;
  // layered[i]: positions i and inward, every layer in turn.
  const layered: Array<Runner | undefined> = [];
  layered[count] = undefined;
  for (let index = count - 1; index >= 0; index--) layered[index] = layer(policies[index]!, layered[index + 1]);
  if (!fusing) return layered[0];

  let run: Runner | undefined = undefined; // the fastest runner of the positions inside `index`
  let stages: Stage[] = []; // the current segment's stages, outermost first
  let end = count; // the current segment is [index + 1, end)
  for (let index = count - 1; index >= -1; index--) {
    const policy = index >= 0 ? policies[index]! : undefined;
    const stage = policy !== undefined && isFusable(policy) ? policy[fuse](layered[index + 1]) : undefined;
    if (stage !== undefined) {
      stages.unshift(stage);
      continue;
    }
    if (stages.length === 1) {
      // One layer alone gains nothing from fusion: its layered form is as fast.
      run = layer(policies[index + 1]!, run);
    } else if (stages.length > 1) {
      run = fusedRunner(stages, layered.slice(index + 1, end) as Runner[], run);
    }
    stages = [];
    if (policy !== undefined) run = layer(policy, run);
    end = index;
  }
  return run;
}

/**
 * Layers `policies` around an operation, the first outermost.
 *
 * @example
 * ```ts
 * import { pipeline, RetryPolicy, TimeoutPolicy } from "bulwark";
 * // A 1 s deadline per attempt, 3 attempts.
 * const resilient = pipeline(new RetryPolicy({ maxAttempts: 3 }), new TimeoutPolicy({ timeoutMs: 1_000 }));
 * const value = await resilient.execute(async ({ signal }) => (signal.aborted ? 0 : 1));
 * if (value !== 1) throw new Error("unexpected");
 * ```
 */
// deno-lint-ignore no-explicit-any
export function pipeline<const P extends readonly Policy<any>[]>(...policies: P): Pipeline<PoliciesResult<P>> {
  checkPolicies("pipeline", policies);
  return new Pipeline(policies);
}

/** The named steps of a {@link ResiliencePipeline}. */
export type PipelineStep = "bulkhead" | "circuitBreaker" | "retry" | "timeout";

/** The seeds' canonical order: bulkhead, circuit breaker, retry, timeout (outermost first). */
export const DEFAULT_PIPELINE_ORDER: readonly PipelineStep[] = Object.freeze([
  "bulkhead",
  "circuitBreaker",
  "retry",
  "timeout",
] as const);

/** Options of {@link ResiliencePipeline}: each step as a policy or its options. */
export interface ResiliencePipelineOptions {
  /** Retries; a `retryOnResult` typed on its parameter types the pipeline's results (see {@link RetryResultOf}). */
  // deno-lint-ignore no-explicit-any
  retry?: RetryPolicy<any> | RetryOptions<any>;
  /** A {@link CircuitBreaker} (or any policy), or the options of a new one. */
  circuitBreaker?: Policy | CircuitBreakerOptions;
  /** Concurrency limit. */
  bulkhead?: Bulkhead | BulkheadOptions;
  /** Deadline (per attempt in the default order, as timeout is inside retry). */
  timeout?: TimeoutPolicy | TimeoutOptions;
  /**
   * Step names, outermost first; each at most once, and every configured
   * step included. Default {@link DEFAULT_PIPELINE_ORDER}.
   */
  order?: readonly PipelineStep[];
}

/**
 * The type of {@link ResiliencePipeline.circuitBreaker} for the options
 * `O` given: the policy passed, a {@link CircuitBreaker} built from options,
 * or `undefined` when the step is left out.
 */
export type CircuitBreakerStepOf<O extends ResiliencePipelineOptions> = "circuitBreaker" extends keyof O
  ? O["circuitBreaker"] extends infer S ? S extends undefined ? undefined : S extends Policy ? S : CircuitBreaker
  : never
  : undefined;

/**
 * The results a {@link ResiliencePipeline} built from options `O` accepts:
 * what its retry step's `retryOnResult` judges (`Response` for
 * `retry: { retryOnResult: (r: Response) => ... }` or a
 * `RetryPolicy<Response>`), `unknown` otherwise.
 */
export type RetryResultOf<O extends ResiliencePipelineOptions> = O["retry"] extends infer S
  ? S extends RetryPolicy<infer R> ? R : S extends { retryOnResult: (result: infer R, attempt: number) => boolean } ? R : unknown
  : unknown;

const STEPS: readonly PipelineStep[] = DEFAULT_PIPELINE_ORDER;
const OPTION_KEYS: readonly string[] = [...STEPS, "order"];

/**
 * Builds one step from a policy or from its options; option errors are
 * collected under `step.`, so every bad field is reported at once.
 */
function build<P extends Policy<never>, O>(
  step: PipelineStep,
  value: P | O | undefined,
  isPolicy: (value: unknown) => value is P,
  create: (options: O) => P,
  issues: ConfigIssue[],
): P | undefined {
  if (value === undefined) return undefined;
  if (isPolicy(value)) return value;
  if (typeof value !== "object" || value === null) {
    issues.push({ field: step, value, allowed: "a policy or an options object" });
    return undefined;
  }
  try {
    return create(value);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) issues.push({ ...issue, field: `${step}.${issue.field}` });
    return undefined;
  }
}

/** Checks `order`: known step names, none twice, every configured step present. */
function checkOrder(
  order: unknown,
  configured: ReadonlySet<PipelineStep>,
  issues: ConfigIssue[],
): readonly PipelineStep[] {
  if (!Array.isArray(order)) {
    issues.push({ field: "order", value: order, allowed: `an array of step names (${STEPS.join(", ")})` });
    return [];
  }
  const seen = new Set<PipelineStep>();
  order.forEach((step: unknown, index) => {
    if (!STEPS.includes(step as PipelineStep)) {
      issues.push({ field: `order.${index}`, value: step, allowed: `one of ${STEPS.map((s) => JSON.stringify(s)).join(", ")}` });
    } else if (seen.has(step as PipelineStep)) {
      issues.push({ field: `order.${index}`, value: step, allowed: "a step not already in the order" });
    } else {
      seen.add(step as PipelineStep);
    }
  });
  for (const step of configured) {
    if (!seen.has(step)) {
      issues.push({ field: "order", value: order, allowed: `a list including every configured step ('${step}' is missing)` });
    }
  }
  return [...seen];
}

/**
 * The seeds' `ResiliencePipeline`: bulkhead, circuit breaker, retry and
 * timeout, each given as a policy or as its options, applied in `order`
 * (default bulkhead → circuit breaker → retry → timeout, first outermost).
 * Steps not configured are skipped. Each step is exposed for its events.
 *
 * Step names are the option names (`"circuitBreaker"`, not the seeds'
 * `"circuit_breaker"`). `circuitBreaker` is typed by what was given: a
 * `CircuitBreaker` when built from options, the policy itself when one was
 * passed, `undefined` when left out. A breaker with a `fallback` is not a
 * `Policy` (its `execute` resolves to `T | F`, not `T`), so neither
 * `pipeline()` nor this class takes it: put a breaker without `fallback`
 * in the pipeline and answer its `CircuitOpenError` outside, with
 * `fallback(() => resilient.execute(fn), value, { on: [CircuitOpenError] })`.
 *
 * @example
 * ```ts
 * import { ResiliencePipeline } from "bulwark";
 * const resilient = new ResiliencePipeline({
 *   bulkhead: { maxConcurrent: 8 },
 *   retry: { maxAttempts: 3, baseDelayMs: 0 },
 *   timeout: { timeoutMs: 5_000 },
 * });
 * let retries = 0;
 * resilient.retry?.on("retry", () => retries++);
 * let calls = 0;
 * await resilient.execute(async () => { if (++calls === 1) throw new Error("flaky"); });
 * if (retries !== 1) throw new Error("unexpected");
 * ```
 */
export class ResiliencePipeline<O extends ResiliencePipelineOptions = ResiliencePipelineOptions>
  extends Pipeline<RetryResultOf<O>> {
  /** The retry step, if configured. */
  readonly retry: RetryPolicy<RetryResultOf<O>> | undefined;
  /** The circuit-breaker step, if configured: a {@link CircuitBreaker} when built from options. */
  readonly circuitBreaker: CircuitBreakerStepOf<O>;
  /** The bulkhead step, if configured. */
  readonly bulkhead: Bulkhead | undefined;
  /** The timeout step, if configured. */
  readonly timeout: TimeoutPolicy | undefined;
  /** The configured steps, outermost first. */
  readonly order: readonly PipelineStep[];

  constructor(options: O = {} as O) {
    throwIf(badOptions("ResiliencePipeline", options));
    const issues: ConfigIssue[] = [];
    for (const key of Object.keys(options)) {
      if (OPTION_KEYS.includes(key)) continue;
      const guess = closestKey(key, OPTION_KEYS);
      issues.push({
        field: key,
        value: (options as Record<string, unknown>)[key],
        allowed: guess === undefined ? `a known option (one of ${OPTION_KEYS.join(", ")})` : `a known option (did you mean '${guess}'?)`,
      });
    }
    const steps: { [S in PipelineStep]: Policy<never> | undefined } = {
      bulkhead: build<Bulkhead, BulkheadOptions>("bulkhead", options.bulkhead, (v) => v instanceof Bulkhead, (o) => new Bulkhead(o), issues),
      circuitBreaker: build<Policy<never>, CircuitBreakerOptions>(
        "circuitBreaker",
        options.circuitBreaker,
        isPolicy,
        (o) => new CircuitBreaker(o),
        issues,
      ),
      retry: build<RetryPolicy, RetryOptions>("retry", options.retry, (v) => v instanceof RetryPolicy, (o) => new RetryPolicy(o), issues),
      timeout: build<TimeoutPolicy, TimeoutOptions>("timeout", options.timeout, (v) => v instanceof TimeoutPolicy, (o) => new TimeoutPolicy(o), issues),
    };
    const configured = new Set(STEPS.filter((step) => steps[step] !== undefined));
    const order = checkOrder(options.order ?? DEFAULT_PIPELINE_ORDER, configured, issues);
    if (issues.length > 0) throw new ConfigError("ResiliencePipeline", issues);
    const applied = order.filter((step) => configured.has(step));
    super(applied.map((step) => steps[step]!));
    this.bulkhead = steps.bulkhead as Bulkhead | undefined;
    this.circuitBreaker = steps.circuitBreaker as CircuitBreakerStepOf<O>;
    this.retry = steps.retry as RetryPolicy<RetryResultOf<O>> | undefined;
    this.timeout = steps.timeout as TimeoutPolicy | undefined;
    this.order = Object.freeze(applied);
  }
}
