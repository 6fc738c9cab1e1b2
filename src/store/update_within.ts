/**
 * The seam between a {@link DistributedRateLimiter} and a store whose own
 * `timeoutMs` is longer than the limiter's: {@link StoreAdapter} carries an
 * `update` under {@link updateWithin} that the store itself bounds by a
 * shorter time, so the limiter's bound costs no controller, listener or
 * timer of the limiter's (the store keeps one timer per duration). Internal:
 * a store that lacks it gets the limiter's own timer and an abort signal.
 *
 * @module
 */

/** @internal Key of the store's `update(key, transition, input, timeoutMs)` bounded by `timeoutMs` rather than the store's own. */
export const updateWithin: unique symbol = Symbol("bulwark.updateWithin");
