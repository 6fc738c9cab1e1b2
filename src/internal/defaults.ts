/**
 * Each section's defaults (built-in under `configure()`'s) as one frozen
 * object, the same object until `configure()` replaces the defaults: what
 * `safeParseOver` checks once rather than on every construction.
 *
 * @module
 */
import { type Defaults, type DefaultsSection, defaultsFor } from "../config.ts";
import { configuredDefaults } from "./configured.ts";

let sharedFrom: Readonly<Defaults> | undefined;
let shared: Record<string, object> = {};

function current(): Record<string, object> {
  const configured = configuredDefaults();
  if (sharedFrom !== configured) {
    sharedFrom = configured;
    shared = {};
  }
  return shared;
}

/** `defaultsFor(section)`, frozen and shared until `configure()` is called again. */
export function sharedDefaults<S extends DefaultsSection>(section: S): Readonly<Required<NonNullable<Defaults[S]>>> {
  return (current()[section] ??= Object.freeze(defaultsFor(section))) as Readonly<Required<NonNullable<Defaults[S]>>>;
}

/**
 * `{ ...sharedDefaults(section), ...extra }`, frozen and shared as
 * {@link sharedDefaults} is: a component's defaults with its own (a clock,
 * a random source), one object per `slot`. `extra` must not vary between
 * calls with the same `slot`.
 */
export function sharedBase<S extends DefaultsSection, E extends object>(
  slot: string,
  section: S,
  extra: E,
): Readonly<Required<NonNullable<Defaults[S]>> & E> {
  const objects = current();
  return (objects[slot] ??= Object.freeze({ ...sharedDefaults(section), ...extra })) as Readonly<
    Required<NonNullable<Defaults[S]>> & E
  >;
}
