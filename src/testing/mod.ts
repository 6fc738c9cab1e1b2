/**
 * Test helpers for users of bulwark: a {@link ManualClock} to drive every
 * time-dependent component by hand; {@link runStoreConformance}, the suite
 * that proves a `Store` adapter; {@link FaultyStore} and
 * {@link CountingStore} to test what you build on a store.
 *
 * @module
 */
export * from "./manual_clock.ts";
export * from "./store_conformance.ts";
export * from "./store_wrappers.ts";
