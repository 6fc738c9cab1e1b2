/**
 * Test helpers for users of bulwark: a {@link ManualClock} to drive every
 * time-dependent component by hand.
 *
 * @module
 */
export * from "./manual_clock.ts";
