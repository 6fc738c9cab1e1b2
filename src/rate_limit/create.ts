/**
 * Choosing an algorithm by name: the same options object, with
 * `algorithm: "token-bucket" | "gcra" | "sliding-window" | "fixed-window"`,
 * builds either the pure core ({@link createAlgorithm}) or an in-process
 * limiter behind the common {@link Limiter} interface
 * ({@link createRateLimiter}).
 *
 * @module
 */
import { badOptions, throwIf } from "../internal/arguments.ts";
import { validate } from "../validation.ts";
import type { RateLimitAlgorithm } from "./algorithm.ts";
import { FixedWindow, FixedWindowLimiter } from "./fixed_window.ts";
import { Gcra, GcraLimiter } from "./gcra.ts";
import type { Limiter, LimiterOptions } from "./limiter.ts";
import { algorithmOf, algorithmSchema } from "./options.ts";
import {
  SlidingWindowCounter,
  SlidingWindowLimiter,
  SlidingWindowLog,
  type WindowOptions,
} from "./sliding_window.ts";
import { type BucketOptions, RateLimiter, TokenBucket } from "./token_bucket.ts";

/** An algorithm and its options, as one object. */
export type AlgorithmOptions =
  | ({ algorithm: "token-bucket" } & BucketOptions)
  | ({ algorithm: "gcra" } & BucketOptions)
  | ({ algorithm: "sliding-window"; approximate?: boolean } & WindowOptions)
  | ({ algorithm: "fixed-window" } & WindowOptions);

/**
 * Builds the pure core named by `options.algorithm`.
 *
 * @example
 * ```ts
 * import { createAlgorithm } from "bulwark";
 * const algorithm = createAlgorithm({ algorithm: "fixed-window", limit: 5, windowMs: 1_000 });
 * if (algorithm.kind !== "fixed-window" || algorithm.limit !== 5) throw new Error("wrong");
 * ```
 */
export function createAlgorithm(options: AlgorithmOptions): RateLimitAlgorithm {
  throwIf(badOptions("createAlgorithm", options));
  const algorithm = algorithmOf("createAlgorithm", options);
  validate("createAlgorithm", algorithmSchema(algorithm), options);
  const { algorithm: _, ...rest } = options as AlgorithmOptions & { approximate?: boolean };
  switch (algorithm) {
    case "token-bucket":
      return new TokenBucket(rest as BucketOptions);
    case "gcra":
      return new Gcra(rest as BucketOptions);
    case "sliding-window": {
      const { approximate, ...window } = rest as WindowOptions & { approximate?: boolean };
      return approximate ? new SlidingWindowCounter(window) : new SlidingWindowLog(window);
    }
    case "fixed-window":
      return new FixedWindow(rest as WindowOptions);
  }
}

/** Options of {@link createRateLimiter}. */
export type CreateRateLimiterOptions = AlgorithmOptions & LimiterOptions;

/**
 * Builds the in-process limiter named by `options.algorithm`; every one
 * implements {@link Limiter}, so switching algorithms is changing a string.
 *
 * @example
 * ```ts
 * import { createRateLimiter } from "bulwark";
 * const limiter = createRateLimiter({ algorithm: "gcra", rate: 100, perMs: 60_000 });
 * if (!limiter.tryAcquire()) throw new Error("a fresh limiter admits");
 * ```
 */
export function createRateLimiter(options: CreateRateLimiterOptions): Limiter {
  throwIf(badOptions("createRateLimiter", options));
  const { algorithm: _, ...rest } = options;
  switch (algorithmOf("createRateLimiter", options)) {
    case "token-bucket":
      return new RateLimiter(rest as BucketOptions & LimiterOptions);
    case "gcra":
      return new GcraLimiter(rest as BucketOptions & LimiterOptions);
    case "sliding-window":
      return new SlidingWindowLimiter(rest as WindowOptions & LimiterOptions);
    case "fixed-window":
      return new FixedWindowLimiter(rest as WindowOptions & LimiterOptions);
  }
}
