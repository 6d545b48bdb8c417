/**
 * The migration runner. Each migration runs in its own transaction together with the row
 * that records it, so a crash leaves it either applied and recorded or neither.
 *
 * Several processes may migrate the same database at once (replicas starting together):
 * on PostgreSQL every migration transaction first takes a transaction-scoped advisory lock
 * (advisory locks are scoped to the current database, so one constant key serialises
 * migrations per database), then re-checks whether the migration is already recorded.
 * On SQLite, BEGIN IMMEDIATE already takes the file's write lock.
 *
 * Multi-statement SQL runs through the adapters' script path (see script.ts).
 */
import type { Db, Migration, Sql } from './db.ts';
import { executeScript } from './script.ts';
import { MigrationFailed } from './db-errors.ts';
import { ConfigError } from '../errors.ts';

// An arbitrary constant: the advisory lock key for schema migrations ("ofmigr" in hex-ish).
const LOCK_KEY = 0x6f666d69677200;

const CREATE_TABLE = 'CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)';

async function lock(db: Db, tx: Sql): Promise<void> {
  if (db.dialect !== 'postgres') return;
  // A migration (an index built on a large table) and a replica waiting for another's may
  // rightly take longer than the statement_timeout that bounds the service's own work.
  await tx.execute('SET LOCAL statement_timeout = 0');
  await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
}

/** Applies, in id order, the migrations not yet recorded in `schema_migrations`. */
export async function migrate(db: Db, migrations: Migration[]): Promise<void> {
  const seen = new Set<string>();
  for (const m of migrations) {
    if (seen.has(m.id)) throw ConfigError(`migration id ${m.id} is declared twice`);
    seen.add(m.id);
  }
  const ordered = [...migrations].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  // Under the lock too: concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
  await db.transaction(async (tx) => {
    await lock(db, tx);
    await tx.execute(CREATE_TABLE);
  });
  const rows = await db.query<{ id: string }>('SELECT id FROM schema_migrations');
  const applied = new Set(rows.map((r) => r.id));

  for (const m of ordered) {
    if (applied.has(m.id)) continue;
    const sql = typeof m.sql === 'string' ? m.sql : m.sql[db.dialect];
    try {
      await db.transaction(async (tx) => {
        await lock(db, tx);
        // Another process may have applied it while we waited for the lock.
        const done = await tx.query('SELECT 1 FROM schema_migrations WHERE id = $1', [m.id]);
        if (done.length > 0) return;
        await executeScript(tx, sql);
        await tx.execute('INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)', [m.id, new Date().toISOString()]);
      });
    } catch (err) {
      throw MigrationFailed(`migration ${m.id} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
