/**
 * The PostgreSQL adapter (distributed deployment), on a `pg` Pool. Statements outside a
 * transaction take any pooled connection; a transaction holds one from BEGIN to
 * COMMIT/ROLLBACK. Statements are sent as named prepared statements, so each connection
 * parses and plans a given SQL text once.
 *
 * Every wait is bounded (timeouts from config.ts): a connection must come from the pool
 * within acquireTimeoutMs, else PLT_ERR_DEPENDENCY_UNAVAILABLE (503); every connection
 * carries statement_timeout and idle_in_transaction_session_timeout, so a runaway statement
 * or a transaction left open (its holder stuck) is ended by the server, and fails with
 * PLT_ERR_DB_TIMEOUT (503).
 */
import pg from 'pg';
import type { PoolClient, QueryConfig } from 'pg';
import { createCommitListeners } from './commit-listeners.ts';
import type { Db, Sql } from './db.ts';
import { runScript } from './script.ts';
import { DbClosed, DbTimeout, TransactionFinished } from './db-errors.ts';
import { loadPostgresTimeouts, type PostgresTimeouts } from '../config.ts';
import { DependencyUnavailable, OrderflowError } from '../errors.ts';
import { countPgQueries, type DbStats } from './db-stats.ts';
import { createLogger, type Logger } from '../log.ts';
import { traceSql } from '../telemetry/sql-spans.ts';

const { Pool, Client, types: pgTypes, escapeIdentifier } = pg;

/** Beyond this many distinct SQL texts, new texts run unnamed, bounding per-connection state. */
const MAX_NAMED_STATEMENTS = 2000;

const parseNumber = (value: string): number => Number(value);
// int8 (20) and numeric (1700) as JS numbers, for this adapter's connections only; the
// global pg parsers stay untouched for anyone else using pg in the process.
const numberTypes = {
  getTypeParser(oid: number, format?: string): any {
    if (oid === 20 || oid === 1700) return parseNumber;
    return pgTypes.getTypeParser(oid, format as any);
  },
};

/** The URL with its database (path) replaced. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

async function withAdminClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'orderflow-admin' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createDatabase(url: string, database: string): Promise<void> {
  await withAdminClient(url, async (c) => {
    try {
      await c.query(`CREATE DATABASE ${escapeIdentifier(database)}`);
    } catch (err) {
      // Another process created it at the same moment: that is what we wanted.
      const code = (err as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw err;
    }
  });
}

/** Drops `database` on the server at `url`, disconnecting its sessions (for tests and tools). */
export async function dropPostgresDatabase(url: string, database: string): Promise<void> {
  await withAdminClient(url, (c) => c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(database)} WITH (FORCE)`));
}

// A checked-out client has no pool 'error' listener; without one, a dropped socket
// during a transaction would crash the process. We note the client as broken instead, with
// why (the server ending an idle transaction says so only in this error).
const broken = new WeakMap<object, unknown>();
function markBroken(this: object, err: unknown): void {
  // The first error says why; what follows is the socket closing after it.
  if (!broken.has(this)) broken.set(this, err);
}

/** config.ts's defaults (5 s to get a connection, 10 s a statement, 30 s idle in a transaction), for tools and tests. */
const defaultPostgresTimeouts = loadPostgresTimeouts({});

// pg-pool's words when no connection came within connectionTimeoutMillis (all busy, or the server slow to accept).
const ACQUIRE_TIMEOUT = 'timeout exceeded when trying to connect';

/**
 * A timeout of ours as a coded error (the driver's error as its cause); any other error
 * passes through unchanged, so callers still read its SQLSTATE.
 */
function codedTimeout(err: unknown, database: string, timeouts: Readonly<PostgresTimeouts>): unknown {
  const e = err as { message?: unknown; code?: unknown };
  if (e?.message === ACQUIRE_TIMEOUT) {
    return DependencyUnavailable(`no connection to the database ${database} within ${timeouts.acquireTimeoutMs} ms`, { cause: err });
  }
  // 57014 is also an explicit cancel (pg_cancel_backend): only the server's timeout is ours.
  if (e?.code === '57014' && typeof e.message === 'string' && e.message.includes('statement timeout')) {
    return DbTimeout(`a statement on the database ${database} ran past its ${timeouts.statementTimeoutMs} ms`, { cause: err });
  }
  if (e?.code === '25P03') {
    return DbTimeout(`a transaction on the database ${database} stayed idle past ${timeouts.idleInTransactionTimeoutMs} ms and was ended`, { cause: err });
  }
  return err;
}

/**
 * Opens a pool on `database` at the server of `url` (whose own database serves only to
 * create `database` when it does not exist yet). `stats` counts statements and transactions.
 */
export async function openPostgres(opts: { url: string; database: string; poolSize?: number; log?: Logger; stats?: DbStats; timeouts?: Readonly<PostgresTimeouts> }): Promise<Db> {
  const log = opts.log ?? createLogger('db', 'warn');
  const timeouts = opts.timeouts ?? defaultPostgresTimeouts;
  let closed = false;
  const pool = new Pool({
    connectionString: withDatabase(opts.url, opts.database),
    max: opts.poolSize ?? 10,
    types: numberTypes,
    application_name: 'orderflow',
    connectionTimeoutMillis: timeouts.acquireTimeoutMs,
    // Sent in the startup message, so every connection has them from its first statement; 0 is off.
    statement_timeout: timeouts.statementTimeoutMs || undefined,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs || undefined,
  });
  const coded = (err: unknown): never => {
    throw codedTimeout(err, opts.database, timeouts);
  };
  // An idle connection dropped by the server (restart, failover, DROP … FORCE): the pool
  // has already discarded it and opens a new one on demand. pg-pool hangs the client on
  // the error, which we keep out of the log. After close() the pool's sockets may still be
  // shutting down, so their errors are expected then.
  pool.on('error', (err: Error & { code?: string }) => {
    if (!closed) log.warn({ err: { message: err.message, code: err.code }, database: opts.database }, 'idle PostgreSQL connection failed');
  });
  const stats = opts.stats;
  if (stats) pool.on('connect', (client) => countPgQueries(client, stats));

  try {
    await pool.query('SELECT 1');
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') {
      await pool.end().catch(() => undefined);
      throw err;
    }
    await createDatabase(opts.url, opts.database);
  }

  const names = new Map<string, string>();
  function config(text: string, params: readonly unknown[] | undefined): QueryConfig {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
      name = 'of_' + names.size.toString(36);
      names.set(text, name);
    }
    return { name, text, values: params as unknown[] | undefined };
  }

  const { notify, onCommit } = createCommitListeners(log);

  function send(on: pg.Pool | PoolClient, text: string, params: readonly unknown[] | undefined): Promise<pg.QueryResult> {
    return traceSql('postgresql', opts.database, text, () => on.query(config(text, params)).catch(coded));
  }

  function assertOpen(): void {
    if (closed) throw DbClosed(`the database ${opts.database} is closed`);
  }

  function txSql(client: PoolClient): Sql & { done: boolean } {
    const check = (tx: { done: boolean }) => {
      if (tx.done) throw TransactionFinished('this transaction has already finished; use the Sql passed to the callback only inside it');
    };
    const tx = {
      done: false,
      async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
        check(tx);
        return (await send(client, text, params)).rows as T[];
      },
      async execute(text: string, params?: readonly unknown[]): Promise<number> {
        check(tx);
        return (await send(client, text, params)).rowCount ?? 0;
      },
      async [runScript](script: string): Promise<void> {
        check(tx);
        await client.query(script).catch(coded); // no values: the simple protocol, which allows several statements
      },
    };
    return tx;
  }

  const db: Db & { [runScript]: (sql: string) => Promise<void> } = {
    dialect: 'postgres',
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      assertOpen();
      return (await send(pool, text, params)).rows as T[];
    },
    async execute(text: string, params?: readonly unknown[]): Promise<number> {
      assertOpen();
      return (await send(pool, text, params)).rowCount ?? 0;
    },
    async [runScript](script: string): Promise<void> {
      assertOpen();
      await pool.query(script).catch(coded);
    },

    async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
      assertOpen();
      const client = await pool.connect().catch(coded);
      client.on('error', markBroken);
      const tx = txSql(client);
      let result: T;
      try {
        await client.query('BEGIN').catch(coded);
        result = await fn(tx);
        tx.done = true;
        await client.query('COMMIT').catch(coded);
      } catch (thrown) {
        tx.done = true;
        let destroy = broken.has(client);
        // The server ended the session (e.g. idle in transaction too long): its reason, coded.
        const reason = destroy ? codedTimeout(broken.get(client), opts.database, timeouts) : undefined;
        const failure = reason instanceof OrderflowError ? reason : thrown;
        if (!destroy) {
          // After a failed COMMIT the server has already ended the transaction; ROLLBACK
          // then only warns. If ROLLBACK itself fails the connection is unusable.
          try {
            await client.query('ROLLBACK');
          } catch {
            destroy = true;
          }
        }
        client.removeListener('error', markBroken);
        client.release(destroy);
        throw failure;
      }
      client.removeListener('error', markBroken);
      client.release();
      notify(tx);
      return result;
    },

    onCommit,

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // end() waits for checked-out clients, so open transactions finish first.
      await pool.end();
    },
  };
  return db;
}
