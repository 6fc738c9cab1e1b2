/**
 * Types a strict consumer can trust (issue 14). The assignments below are
 * checked by `npm run typecheck` (strict, exactOptionalPropertyTypes in the
 * consumer check); the runtime assertions keep them honest.
 */
import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  CircuitOpenError,
  type CircuitState,
  createResilientFetch,
  fallback,
  pipeline,
  type Policy,
  type PolicyResult,
  ResiliencePipeline,
  retry,
  RetryPolicy,
  TimeoutPolicy,
} from "../mod.ts";

describe("strict types", () => {
  it("registry get() and getOrCreate() return the same breaker type, results keep their type", async () => {
    const registry = new CircuitBreakerRegistry();
    const created: Promise<number> = registry.getOrCreate("a").execute(() => 1);
    const found: Promise<number> | undefined = registry.get("a")?.execute(() => 2);
    expect(await created).toBe(1);
    expect(await found).toBe(2);
    const cached = new CircuitBreakerRegistry<string>();
    const breaker = cached.getOrCreate("b", { maxFailures: 1, fallback: () => "cached" });
    breaker.forceOpen();
    const answer: number | string = await cached.get("b")!.execute(() => 3);
    expect(answer).toBe("cached");
    const fetch = createResilientFetch({ fetch: async () => new Response("ok") });
    await fetch("https://api.example.com/");
    const origin: Promise<number> | undefined = fetch.registry.get("https://api.example.com")?.execute(() => 4);
    expect(await origin).toBe(4);
  });

  it("ResiliencePipeline.circuitBreaker is typed by what was given", () => {
    const built = new ResiliencePipeline({ circuitBreaker: { maxFailures: 3 } });
    const state: CircuitState = built.circuitBreaker.state;
    expect(state).toBe("closed");
    const own = new CircuitBreaker();
    const same: CircuitBreaker = new ResiliencePipeline({ circuitBreaker: own, retry: new RetryPolicy() }).circuitBreaker;
    expect(same).toBe(own);
    const none: undefined = new ResiliencePipeline({ retry: { maxAttempts: 2 } }).circuitBreaker;
    expect(none).toBeUndefined();
  });

  it("a breaker's CircuitOpenError is answered outside a pipeline with fallback()", async () => {
    const breaker = new CircuitBreaker();
    breaker.forceOpen();
    const resilient = new ResiliencePipeline({ circuitBreaker: breaker });
    const value: number | string = await fallback(() => resilient.execute(() => 1), "cached", { on: [CircuitOpenError] });
    expect(value).toBe("cached");
  });

  it("RetryPolicy's retryOnResult receives the result type, and the policy runs only operations of it", async () => {
    const seen: number[] = [];
    const policy = new RetryPolicy({
      maxAttempts: 3,
      baseDelayMs: 0,
      retryOnResult: (response: Response) => {
        seen.push(response.status);
        return response.status === 503;
      },
    });
    let calls = 0;
    const answer: Response = await policy.execute(async () => new Response(null, { status: ++calls === 1 ? 503 : 200 }));
    expect(answer.status).toBe(200);
    expect(seen).toEqual([503, 200]);
    // @ts-expect-error a number is not a Response: retryOnResult could not judge it.
    const misuse = () => policy.execute(async () => 1);
    expect(typeof misuse).toBe("function");
    const accepted: PolicyResult<typeof policy> = answer;
    expect(accepted).toBe(answer);
    // The untyped policy still runs anything and is a plain Policy.
    const anyPolicy: Policy = new RetryPolicy({ maxAttempts: 1 });
    const number: number = await anyPolicy.execute(() => 7);
    expect(number).toBe(7);
    // A typed one is not: a pipeline of it keeps the restriction.
    // @ts-expect-error RetryPolicy<Response> cannot run every operation.
    const notAny: Policy = policy;
    expect(notAny).toBe(policy);
    const layered = pipeline(new TimeoutPolicy({ timeoutMs: 1_000 }), policy);
    const viaPipeline: Response = await layered.execute(async () => new Response("ok"));
    expect(viaPipeline.status).toBe(200);
    // @ts-expect-error the pipeline inherits the retry's result type.
    const pipelineMisuse = () => layered.execute(async () => "text");
    expect(typeof pipelineMisuse).toBe("function");
    const open = pipeline(new TimeoutPolicy({ timeoutMs: 1_000 }), new RetryPolicy({ maxAttempts: 1 }));
    const text: string = await open.execute(async () => "text");
    expect(text).toBe("text");
  });

  it("the retry() forms, presets and ResiliencePipeline type retryOnResult the same way", async () => {
    const decorated = retry({ maxAttempts: 2, baseDelayMs: 0, retryOnResult: (value: number) => value < 0 });
    let next = -1;
    const positive: number = await decorated(async () => next++)();
    expect(positive).toBe(0);
    // @ts-expect-error the decorator wraps only functions returning numbers.
    const wrongDecorated = () => decorated(async () => "x");
    expect(typeof wrongDecorated).toBe("function");
    const direct: string = await retry(async () => "ok", { retryOnResult: (value) => value.length === 0 });
    expect(direct).toBe("ok");
    const preset = RetryPolicy.aggressive({ baseDelayMs: 0, retryOnResult: (value: { ok: boolean }) => !value.ok });
    expect((await preset.execute(async () => ({ ok: true }))).ok).toBe(true);
    const resilient = new ResiliencePipeline({
      retry: { maxAttempts: 2, baseDelayMs: 0, retryOnResult: (response: Response) => response.status >= 500 },
      timeout: { timeoutMs: 1_000 },
    });
    const fromPipeline: Response = await resilient.execute(async () => new Response("ok"));
    expect(fromPipeline.status).toBe(200);
    // @ts-expect-error the pipeline's retry judges Responses only.
    const pipelineMisuse = () => resilient.execute(async () => 1);
    expect(typeof pipelineMisuse).toBe("function");
    const retryStep: RetryPolicy<Response> | undefined = resilient.retry;
    expect(retryStep).toBeInstanceOf(RetryPolicy);
  });
});
