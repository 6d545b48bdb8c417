/**
 * A migrated test database that cleans itself up: a SQLite file in a temp dir, or a
 * PostgreSQL database of its own (skipped without DATABASE_URL, failed under CI).
 */
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db, Migration } from '#platform/db/db.ts';
import { migrate } from '#platform/db/migrate.ts';
import { dropPostgresDatabase, openPostgres } from '#platform/db/postgres.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { databaseUrl, postgresSkip, uniqueName } from '#test/infra.ts';

/** A SQLite Db in a fresh temp dir, migrated; closed and removed after the test. */
export async function sqliteTestDb(t: TestContext, name: string, migrations: Migration[] = []): Promise<Db> {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const db = openSqlite({ file: join(dir, `${name}.sqlite`) });
  t.after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  if (migrations.length > 0) await migrate(db, migrations);
  return db;
}

/**
 * A PostgreSQL Db on a database unique to this run, migrated; dropped after the test.
 * Undefined when DATABASE_URL is unset: the test has then been skipped (see test/infra.ts).
 */
export async function postgresTestDb(t: TestContext, name: string, migrations: Migration[] = [], opts: { poolSize?: number } = {}): Promise<Db | undefined> {
  const url = databaseUrl(t);
  if (!url) return undefined;
  const database = uniqueName(`${name}_test`);
  const db = await openPostgres({ url, database, ...opts });
  t.after(async () => {
    await db.close();
    await dropPostgresDatabase(url, database);
  });
  if (migrations.length > 0) await migrate(db, migrations);
  return db;
}

/** Releases resources in reverse order of creation (a relay before its bus and its db). */
export type Defer = (fn: () => unknown) => void;

export function deferrer(t: TestContext): Defer {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => void stack.push(fn);
}

/** One suite run on both stores: a SQLite file in `dir`, or a PostgreSQL database of its own (skipped without DATABASE_URL). */
export interface DbVariant {
  name: 'SQLite' | 'PostgreSQL';
  skip?: string;
  open(defer: Defer, dir: string): Promise<Db>;
}

export function dbVariants(name: string, opts: { poolSize?: number } = {}): DbVariant[] {
  return [
    {
      name: 'SQLite',
      open: async (defer, dir) => {
        const db = openSqlite({ file: join(dir, 'service.sqlite') });
        defer(() => db.close());
        return db;
      },
    },
    {
      name: 'PostgreSQL',
      skip: postgresSkip(),
      open: async (defer) => {
        const url = process.env.DATABASE_URL as string;
        const database = uniqueName(`${name}_test`);
        const db = await openPostgres({ url, database, poolSize: opts.poolSize ?? 4 });
        defer(async () => {
          await db.close();
          await dropPostgresDatabase(url, database);
        });
        return db;
      },
    },
  ];
}
