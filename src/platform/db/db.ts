/**
 * The Db port. A service owns one database; the store code of a service writes portable
 * SQL against this port and runs unchanged on SQLite (node:sqlite, embedded) and
 * PostgreSQL (pg, distributed).
 *
 * Portable SQL rules the adapters rely on:
 * - parameters are written PostgreSQL style, `$1 … $n` (the SQLite adapter rewrites them);
 * - column types: TEXT, INTEGER (32-bit values), BIGINT (counters and offsets; both adapters
 *   return JS numbers), no booleans (use INTEGER 0/1), JSON stored as TEXT, timestamps as
 *   ISO-8601 TEXT;
 * - `INSERT … ON CONFLICT … DO NOTHING/UPDATE` and `RETURNING` work on both.
 */
export type Dialect = 'sqlite' | 'postgres';

export type Row = Record<string, unknown>;

export interface Sql {
  /** Runs one statement and returns its rows (none for a statement without RETURNING). */
  query<T = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs one statement and returns how many rows it changed. */
  execute(text: string, params?: readonly unknown[]): Promise<number>;
}

export interface Db extends Sql {
  readonly dialect: Dialect;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws
   * (the error is rethrown). On SQLite transactions are serialised in the process; on
   * PostgreSQL each takes a pooled connection. A serialisation failure or deadlock is
   * rethrown as is; callers that can retry do so.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /**
   * Calls `listener` after every committed transaction, with the `Sql` that transaction's
   * callback was given (so that what was noted against it, such as the outbox rows it
   * wrote, can be picked up); returns an unsubscribe function.
   */
  onCommit(listener: (tx: Sql) => void): () => void;
  close(): Promise<void>;
}

/**
 * A schema step, applied once, in id order, and recorded in `schema_migrations`.
 * `sql` may hold several statements; give per-dialect SQL where the two differ.
 */
export interface Migration {
  id: string;
  sql: string | { sqlite: string; postgres: string };
}
