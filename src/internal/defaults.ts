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
let shared: { [S in DefaultsSection]?: Readonly<Required<NonNullable<Defaults[S]>>> } = {};

/** `defaultsFor(section)`, frozen and shared until `configure()` is called again. */
export function sharedDefaults<S extends DefaultsSection>(section: S): Readonly<Required<NonNullable<Defaults[S]>>> {
  const configured = configuredDefaults();
  if (sharedFrom !== configured) {
    sharedFrom = configured;
    shared = {};
  }
  return (shared[section] ??= Object.freeze(defaultsFor(section)) as never) as Readonly<Required<NonNullable<Defaults[S]>>>;
}
