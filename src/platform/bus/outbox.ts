/**
 * The transactional outbox. A service appends its outgoing messages to the `outbox` table
 * in the same transaction as its state change; the relay publishes committed rows to the
 * bus and then deletes them. Rows are selected by presence ("unpublished"), never by a
 * high-water mark of seq, because PostgreSQL sequence values commit out of order.
 *
 * Deleting a published row is how it is marked published. An earlier version set a
 * published_at column and purged a minute later; under load the table then held tens of
 * thousands of rows, and relay queries on PostgreSQL paid for them (one bench run read 3.5
 * million outbox rows in sequential scans). A table of pending rows only keeps every relay
 * statement a probe of a handful of rows, and needs no purge.
 */
import type { Db, Migration, Sql } from '../db/db.ts';
import type { Bus, OutRecord } from './bus.ts';
import { encode, type Envelope } from './envelope.ts';
import { silentLogger, type Logger } from '../log.ts';

/**
 * `seq` is the primary key (SQLite's AUTOINCREMENT needs INTEGER PRIMARY KEY), the message
 * id is UNIQUE so that appending the same message twice is a no-op.
 */
export const outboxMigrations: Migration[] = [
  {
    id: 'platform-0001-outbox',
    sql: {
      sqlite: `
        CREATE TABLE outbox (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          topic TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          headers TEXT NOT NULL,
          created_at TEXT NOT NULL
        );`,
      postgres: `
        CREATE TABLE outbox (
          seq BIGSERIAL PRIMARY KEY,
          id TEXT NOT NULL UNIQUE,
          topic TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          headers TEXT NOT NULL,
          created_at TEXT NOT NULL
        );`,
    },
  },
];

const COLUMNS = 6;

/**
 * Splits `n` rows into power-of-two chunks (at most `max`), so that multi-row statements
 * come in a handful of distinct SQL texts and the SQLite statement cache keeps them.
 */
export function chunkSizes(n: number, max = 256): number[] {
  const sizes: number[] = [];
  let left = n;
  while (left > 0) {
    let size = max;
    while (size > left) size >>= 1;
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

const insertSql = new Map<number, string>();
function insertStatement(rows: number): string {
  let sql = insertSql.get(rows);
  if (sql === undefined) {
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      const b = r * COLUMNS;
      tuples.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`);
    }
    sql = `INSERT INTO outbox (id, topic, key, value, headers, created_at) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`;
    insertSql.set(rows, sql);
  }
  return sql;
}

/**
 * Appends messages to the outbox inside the caller's transaction; they are published once
 * it commits. Multi-row INSERTs, rows in the order given.
 */
export async function appendToOutbox(tx: Sql, items: Array<{ topic: string; message: Envelope }>): Promise<void> {
  if (items.length === 0) return;
  const now = new Date().toISOString();
  let at = 0;
  for (const size of chunkSizes(items.length)) {
    const params: unknown[] = new Array(size * COLUMNS);
    for (let r = 0; r < size; r++) {
      const { topic, message } = items[at + r];
      const rec = encode(topic, message);
      const b = r * COLUMNS;
      params[b] = message.id;
      params[b + 1] = rec.topic;
      params[b + 2] = rec.key;
      params[b + 3] = rec.value;
      params[b + 4] = JSON.stringify(rec.headers);
      params[b + 5] = now;
    }
    await tx.execute(insertStatement(size), params);
    at += size;
  }
}

export interface OutboxRelay {
  /** Asks for a publish cycle now (coalesced with one in flight). */
  wake(): void;
  /** Resolves when every row committed before the call has been published. */
  flush(): Promise<void>;
  /** Publishes what is pending (bounded wait), then stops. */
  close(): Promise<void>;
}

interface OutboxRow {
  seq: number | string;
  topic: string;
  key: string;
  value: string;
  headers: string;
}

const SELECT_SQLITE = 'SELECT seq, topic, key, value, headers FROM outbox ORDER BY seq LIMIT $1';
// SKIP LOCKED: a second relay instance on the same database passes over rows being published.
const SELECT_POSTGRES = `${SELECT_SQLITE} FOR UPDATE SKIP LOCKED`;
const PEEK_POSTGRES = 'SELECT seq FROM outbox ORDER BY seq LIMIT 1';
// One relay per database at a time keeps a key's messages in order across instances: with
// SKIP LOCKED alone, two instances could publish consecutive batches concurrently.
const RELAY_LOCK_POSTGRES = 'SELECT pg_advisory_xact_lock(7261530071)';
// On SQLite writers are serialised, so every row up to the batch's last seq is committed and
// was selected: a range is exact, and is one short statement.
const MARK_SQLITE = 'DELETE FROM outbox WHERE seq >= $1 AND seq <= $2';
const MARK_POSTGRES = 'DELETE FROM outbox WHERE seq = ANY($1::bigint[])';

const CLOSE_FLUSH_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;

/**
 * Starts the relay: it wakes on every commit of `db` and on a slow fallback poll, publishes
 * pending rows in seq order with one `bus.publish` per batch, then deletes them.
 * A failed publish is logged and retried with backoff; no row is dropped.
 */
export function startOutboxRelay(opts: { db: Db; bus: Bus; log?: Logger; batchSize?: number; idlePollMs?: number }): OutboxRelay {
  const { db, bus } = opts;
  const log = opts.log ?? silentLogger;
  const batchSize = opts.batchSize ?? 500;
  const idlePollMs = opts.idlePollMs ?? 1000;

  let running = false;
  let again = false;
  let stopped = false;
  let cyclesStarted = 0;
  let idle: Promise<void> = Promise.resolve();
  let interruptSleep: (() => void) | undefined;
  // A waiter resolves after a cycle that started after it registered drained the table.
  const waiters: Array<{ after: number; resolve: () => void }> = [];

  async function cycle(): Promise<number> {
    const toRecords = (rows: OutboxRow[]): OutRecord[] =>
      rows.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: JSON.parse(r.headers) }));
    if (db.dialect === 'postgres') {
      // Peek outside a transaction first: a relay transaction's own commit wakes the relay,
      // so an empty cycle that committed would wake it again, and it would spin through
      // empty transactions (four round trips each, a pooled connection held) forever.
      const [pending] = await db.query(PEEK_POSTGRES);
      if (pending === undefined) return 0;
      return db.transaction(async (tx) => {
        await tx.query(RELAY_LOCK_POSTGRES);
        const rows = await tx.query<OutboxRow>(SELECT_POSTGRES, [batchSize]);
        if (rows.length === 0) return 0;
        await bus.publish(toRecords(rows));
        await tx.execute(MARK_POSTGRES, [rows.map((r) => String(r.seq))]);
        return rows.length;
      });
    }
    const rows = await db.query<OutboxRow>(SELECT_SQLITE, [batchSize]);
    if (rows.length === 0) return 0;
    await bus.publish(toRecords(rows));
    await db.execute(MARK_SQLITE, [rows[0].seq, rows[rows.length - 1].seq]);
    return rows.length;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        interruptSleep = undefined;
        resolve();
      }
      interruptSleep = done;
    });
  }

  async function loop(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    // `running` is cleared in the same synchronous step as the last check of `again`, so
    // a wake can never fall between the two and be lost.
    try {
      while (!stopped) {
        again = false;
        const started = ++cyclesStarted;
        let published: number;
        try {
          published = await cycle();
          backoff = BACKOFF_MIN_MS;
        } catch (err) {
          log.error({ err, retryInMs: backoff }, 'outbox relay: publishing failed, will retry');
          await sleep(backoff);
          backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
          continue;
        }
        if (published < batchSize) {
          for (let i = waiters.length - 1; i >= 0; i--) {
            if (waiters[i].after < started) {
              waiters[i].resolve();
              waiters.splice(i, 1);
            }
          }
        }
        // A full batch means there is likely more; otherwise run again only if woken meanwhile.
        if (published < batchSize && !again && waiters.length === 0) return;
      }
    } finally {
      running = false;
    }
  }

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    idle = loop();
  }

  const unsubscribe = db.onCommit(wake);
  const poll = setInterval(wake, idlePollMs);
  poll.unref();
  wake();

  function flush(): Promise<void> {
    if (stopped) return Promise.resolve();
    const p = new Promise<void>((resolve) => waiters.push({ after: cyclesStarted, resolve }));
    wake();
    return p;
  }

  async function close(): Promise<void> {
    if (stopped) return;
    unsubscribe();
    clearInterval(poll);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      flush().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), CLOSE_FLUSH_MS))),
    ]);
    clearTimeout(timer);
    if (timedOut) log.warn('outbox relay: closing with unpublished rows; they are published on the next start');
    stopped = true;
    interruptSleep?.();
    for (const w of waiters.splice(0)) w.resolve();
    await idle;
  }

  return { wake, flush, close };
}
