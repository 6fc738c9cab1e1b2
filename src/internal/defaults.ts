/**
 * Each section's defaults (built-in under `configure()`'s) as one frozen
 * object, the same object until `configure()` replaces the defaults: what
 * `safeParseOver` checks once rather than on every construction.
 *
 * Each caller names its section's built-in constant
 * (internal/built_in_defaults.ts) rather than `builtInDefaults`, so a
 * bundle carries only the sections it uses.
 *
 * @module
 */
import type { Defaults, DefaultsSection } from "../config.ts";
import { configuredDefaults, configuredSection } from "./configured.ts";

type SectionDefaults<S extends DefaultsSection> = Readonly<Required<NonNullable<Defaults[S]>>>;

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

/**
 * `{ ...builtIn, ...configureds }` for `section` (what `defaultsFor`
 * returns), frozen and shared until `configure()` is called again.
 */
export function sharedDefaults<S extends DefaultsSection>(section: S, builtIn: SectionDefaults<S>): SectionDefaults<S> {
  return (current()[section] ??= Object.freeze({ ...builtIn, ...configuredSection(section) })) as SectionDefaults<S>;
}

/**
 * `{ ...sharedDefaults(section, builtIn), ...extra }`, frozen and shared as
 * {@link sharedDefaults} is: a component's defaults with its own (a clock,
 * a random source), one object per `slot`. `extra` must not vary between
 * calls with the same `slot`.
 */
export function sharedBase<S extends DefaultsSection, E extends object>(
  slot: string,
  section: S,
  builtIn: SectionDefaults<S>,
  extra: E,
): Readonly<SectionDefaults<S> & E> {
  return (current()[slot] ??= Object.freeze({ ...sharedDefaults(section, builtIn), ...extra })) as Readonly<
    SectionDefaults<S> & E
  >;
}
