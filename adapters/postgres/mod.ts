/**
 * `bulwark/postgres`: {@link PostgresStore}, the Store contract over
 * PostgreSQL through a query function over the driver you already have
 * (`pg`, `postgres`). Imports no driver and nothing Node-specific.
 *
 * @module
 */
export * from "./query.ts";
export * from "./store.ts";
