/**
 * The defaults set by `configure()`, kept here so that the core reads them
 * without the copy `getConfiguration()` makes for callers (a
 * `structuredClone`, several µs: too dear for every constructor). Internal:
 * not re-exported from the package entry. Readers never change what they get.
 *
 * @module
 */
import type { Defaults, DefaultsSection } from "../config.ts";

let configured: Defaults = {};

/** Replaces the configured defaults (by `configure()` only). */
export function setConfigured(defaults: Defaults): void {
  configured = defaults;
}

/** Every configured section (shared: read, never change). */
export function configuredDefaults(): Readonly<Defaults> {
  return configured;
}

/** One configured section, if any (shared: read, never change). */
export function configuredSection<S extends DefaultsSection>(section: S): Readonly<NonNullable<Defaults[S]>> | undefined {
  return configured[section] as Readonly<NonNullable<Defaults[S]>> | undefined;
}
