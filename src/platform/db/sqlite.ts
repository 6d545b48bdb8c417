/**
 * The SQLite adapter (embedded deployment), on node:sqlite. One synchronous connection per
 * process: statements run on the main thread and are fast, and a transaction holds the
 * connection across its awaits, so transactions and any statement issued meanwhile are
 * queued behind it in FIFO order. Hence, inside a transaction, use only the `tx` it was
 * given: a statement on the Db itself would wait for the transaction that awaits it.
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { createCommitListeners } from './commit-listeners.ts';
import type { Db, Sql } from './db.ts';
import { runScript } from './script.ts';
import { DbClosed, TransactionFinished } from './db-errors.ts';
import type { DbStats } from './db-stats.ts';
import type { Logger } from '../log.ts';
import { traceSql } from '../telemetry/sql-spans.ts';

/** Beyond this many distinct SQL texts the cache is emptied, bounding memory for generated SQL. */
const MAX_CACHED_STATEMENTS = 1000;

/**
 * Rewrites PostgreSQL `$N` placeholders to SQLite `?N` (numbered, so `$1` used twice binds
 * once and `$10` is never read as `$1` + `0`). Quoted text and comments are left alone.
 */
export function rewritePlaceholders(sql: string): string {
  if (!sql.includes('$')) return sql;
  let out = '';
  let last = 0;
  const n = sql.length;
  for (let i = 0; i < n; i++) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      if (end < 0) break;
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      if (end < 0) break;
      i = end;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) break;
      i = end + 1;
    } else if (c === '$') {
      const d = sql.charCodeAt(i + 1);
      // `a$1` is an identifier in PostgreSQL, not a placeholder.
      if (d >= 48 && d <= 57 && (i === 0 || !/[A-Za-z0-9_$]/.test(sql[i - 1]))) {
        out += sql.slice(last, i) + '?';
        last = i + 1;
      }
    }
  }
  return out + sql.slice(last);
}

/** SQLITE_BUSY and SQLITE_LOCKED, extended codes included. */
const isLocked = (err: unknown): boolean => [5, 6].includes(((err as { errcode?: number }).errcode ?? 0) & 0xff);

/**
 * Runs `setup` until no other process's lock stops it, for at most `withinMs`. Opening a
 * file that another replica is writing can fail with "database is locked" at once, without
 * waiting out busy_timeout (CI saw it when a rollout restarted cart-1 beside a busy cart-2),
 * and an instance that is starting should wait for the file, not exit. Synchronous: it
 * runs once, before the service serves anything.
 */
export function untilUnlocked(withinMs: number, log: Logger | undefined, file: string, setup: () => void): void {
  const deadline = Date.now() + withinMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return setup();
    } catch (err) {
      if (!isLocked(err) || Date.now() >= deadline) throw err;
      if (attempt === 1) log?.warn({ file: basename(file) }, 'the database is locked by another process; opening it again until it is not');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(50 * attempt, 500));
    }
  }
}

/**
 * Opens (creating it and its folder if needed) the SQLite database in `file`.
 * `log` receives errors thrown by onCommit listeners; `stats` counts statements and transactions.
 */
export function openSqlite(opts: { file: string; log?: Logger; stats?: DbStats; busyTimeoutMs?: number; openWithinMs?: number }): Db {
  if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
  // busy_timeout matters when another process shares the file (replicas of a service, the
  // embedded log): a statement waits that long for their locks before failing.
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
  const conn = new DatabaseSync(opts.file, { timeout: busyTimeoutMs, enableForeignKeyConstraints: true, readBigInts: false });
  // WAL with synchronous=NORMAL never loses a committed transaction when the process dies
  // (kill -9): the WAL is in the OS page cache and survives. Only an OS crash or power
  // loss can drop the last commits, a trade we accept for not fsyncing every commit.
  try {
    untilUnlocked(opts.openWithinMs ?? 30_000, opts.log, opts.file, () =>
      conn.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;`),
    );
  } catch (err) {
    conn.close();
    throw err;
  }

  const cache = new Map<string, StatementSync>();
  function prepare(sql: string): StatementSync {
    let stmt = cache.get(sql);
    if (stmt === undefined) {
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
      stmt = conn.prepare(rewritePlaceholders(sql));
      cache.set(sql, stmt);
    }
    return stmt;
  }
  const sent = (sql: string) => opts.stats?.sent(sql, conn.isTransaction);
  const counted = (stmt: StatementSync) => ({ run: () => (sent(stmt.sourceSQL), stmt.run()) });
  const begin = counted(conn.prepare('BEGIN IMMEDIATE'));
  const commit = counted(conn.prepare('COMMIT'));
  const rollback = counted(conn.prepare('ROLLBACK'));
  const exec = (script: string) => (sent(script), conn.exec(script));

  const runQuery = <T>(sql: string, params?: readonly unknown[]): T[] =>
    (sent(sql), params === undefined || params.length === 0 ? prepare(sql).all() : prepare(sql).all(...(params as any[]))) as T[];
  const runExecute = (sql: string, params?: readonly unknown[]): number =>
    (sent(sql), Number((params === undefined || params.length === 0 ? prepare(sql).run() : prepare(sql).run(...(params as any[]))).changes));

  // The connection lock: held by a transaction for its whole life, and briefly by a
  // statement that arrived while a transaction was open. Release hands it to the next
  // waiter directly, so FIFO order holds and nobody barges in between.
  let locked = false;
  const waiters: Array<() => void> = [];
  const acquire = (): Promise<void> => new Promise<void>((resolve) => waiters.push(resolve));
  function release(): void {
    const next = waiters.shift();
    if (next) next();
    else locked = false;
  }

  let closed = false;
  const { notify, onCommit } = createCommitListeners(opts.log);
  // The database's name in spans: the file's, without its folder.
  const name = basename(opts.file);


  async function outside<R>(run: () => R): Promise<R> {
    if (closed) throw DbClosed(`the database ${opts.file} is closed`);
    if (!locked) return run();
    await acquire();
    try {
      return run();
    } finally {
      release();
    }
  }

  function txSql(): Sql & { done: boolean } {
    const check = (tx: { done: boolean }) => {
      if (tx.done) throw TransactionFinished('this transaction has already finished; use the Sql passed to the callback only inside it');
    };
    const tx = {
      done: false,
      async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
        check(tx);
        return traceSql('sqlite', name, sql, () => runQuery<T>(sql, params));
      },
      async execute(sql: string, params?: readonly unknown[]): Promise<number> {
        check(tx);
        return traceSql('sqlite', name, sql, () => runExecute(sql, params));
      },
      async [runScript](script: string): Promise<void> {
        check(tx);
        exec(script);
      },
    };
    return tx;
  }

  const db: Db & { [runScript]: (sql: string) => Promise<void> } = {
    dialect: 'sqlite',
    query: <T>(sql: string, params?: readonly unknown[]) => outside(() => traceSql('sqlite', name, sql, () => runQuery<T>(sql, params))),
    execute: (sql: string, params?: readonly unknown[]) => outside(() => traceSql('sqlite', name, sql, () => runExecute(sql, params))),
    [runScript]: (script: string) => outside(() => void exec(script)),

    async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
      if (closed) throw DbClosed(`the database ${opts.file} is closed`);
      if (locked) await acquire();
      else locked = true;
      const tx = txSql();
      let result: T;
      try {
        begin.run();
        try {
          result = await fn(tx);
          tx.done = true;
          commit.run();
        } catch (err) {
          tx.done = true;
          // A failed COMMIT may have already ended the transaction (SQLite rolls back on
          // some errors), so only roll back what is still open.
          if (conn.isTransaction) rollback.run();
          throw err;
        }
      } finally {
        release();
      }
      notify(tx);
      return result;
    },

    onCommit,

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // Let every queued transaction and statement finish before the connection goes.
      if (locked) await acquire();
      else locked = true;
      cache.clear();
      conn.close();
    },
  };
  return db;
}
