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
import type { OutRecord } from './bus.ts';
import { encode, type Envelope } from './envelope.ts';
import { inOutboxAppendSpans } from '../telemetry/message-spans.ts';
import { tracingOn } from '../telemetry/tracing.ts';
import { deadLetterMigrations } from './dead-letter-store.ts';

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
  {
    // Debezium's outbox event router copies columns, not JSON fields, into record headers.
    id: 'platform-0002-outbox-header-columns',
    sql: `
      ALTER TABLE outbox ADD COLUMN type TEXT;
      ALTER TABLE outbox ADD COLUMN traceparent TEXT;
      ALTER TABLE outbox ADD COLUMN correlation_id TEXT;
      ALTER TABLE outbox ADD COLUMN causation_id TEXT;`,
  },
  // The relay moves a row the bus refuses (too large) there, and consumers, which append to
  // the outbox too, record their dead letters there: whoever has the outbox has that table.
  ...deadLetterMigrations,
];

const COLUMNS = 10;

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
      const ps = Array.from({ length: COLUMNS }, (_, c) => `$${b + c + 1}`);
      tuples.push(`(${ps.join(', ')})`);
    }
    sql = `INSERT INTO outbox (id, topic, key, value, headers, created_at, type, traceparent, correlation_id, causation_id) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`;
    insertSql.set(rows, sql);
  }
  return sql;
}

/** An outbox row as the relay publishes it: the message id (the row's unique key) and its record. */
export interface OutboxEntry {
  id: string;
  record: OutRecord;
}

// The rows each open transaction appended, in order. The relay takes them when the
// transaction commits (Db.onCommit hands it the same Sql) and publishes them without
// reading them back; a transaction that rolls back is never handed over and its entry is
// collected with it.
const appended = new WeakMap<Sql, OutboxEntry[]>();

/** The outbox rows `tx` appended, once: for the relay, when `tx` has committed. */
export function takeAppended(tx: Sql): OutboxEntry[] | undefined {
  const entries = appended.get(tx);
  appended.delete(tx);
  return entries;
}

/**
 * Appends messages to the outbox inside the caller's transaction; they are published once
 * it commits. Multi-row INSERTs, rows in the order given.
 */
export async function appendToOutbox(tx: Sql, items: Array<{ topic: string; message: Envelope }>): Promise<void> {
  if (items.length === 0) return;
  const now = new Date().toISOString();
  let entries = appended.get(tx);
  if (entries === undefined) appended.set(tx, (entries = []));
  let at = 0;
  for (const size of chunkSizes(items.length)) {
    const params: unknown[] = new Array(size * COLUMNS);
    for (let r = 0; r < size; r++) {
      const { topic, message } = items[at + r];
      const rec = encode(topic, message);
      const b = r * COLUMNS;
      const headers = JSON.stringify(rec.headers);
      params[b] = message.id;
      params[b + 1] = rec.topic;
      params[b + 2] = rec.key;
      params[b + 3] = rec.value;
      params[b + 4] = headers;
      params[b + 5] = now;
      params[b + 6] = message.type;
      params[b + 7] = message.headers.traceparent ?? null;
      params[b + 8] = message.headers.correlationId ?? null;
      params[b + 9] = message.headers.causationId ?? null;
      if (!walRelay) entries.push({ id: message.id, record: rec });
    }
    const write = () => tx.execute(insertStatement(size), params);
    await (tracingOn() ? inOutboxAppendSpans(items.slice(at, at + size), write) : write());
    at += size;
  }
  // Debezium's pattern: the WAL keeps the insert for the connector, the table stays empty.
  if (walRelay) await tx.execute(DELETE_APPENDED, [items.map((i) => i.message.id)]);
}

/**
 * Appends records already encoded (a dead letter's original record, for a replay) inside
 * the caller's transaction, each under the given id: the message id, so that a message
 * already waiting in the outbox is not appended twice.
 */
export async function appendRecordsToOutbox(tx: Sql, entries: OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const now = new Date().toISOString();
  let list = appended.get(tx);
  if (list === undefined) appended.set(tx, (list = []));
  for (const e of entries) {
    const h = e.record.headers;
    await tx.execute(insertStatement(1), [e.id, e.record.topic, e.record.key, e.record.value, JSON.stringify(h), now, h.type ?? null, h.traceparent ?? null, h.correlationId ?? null, h.causationId ?? null]);
    if (!walRelay) list.push(e);
  }
  if (walRelay) await tx.execute(DELETE_APPENDED, [entries.map((e) => e.id)]);
}

const DELETE_APPENDED = 'DELETE FROM outbox WHERE id = ANY($1::text[])';
let walRelay = false;

/**
 * With ORDERFLOW_RELAY=debezium the rows are published from PostgreSQL's WAL, not by this
 * process: an append deletes its rows in its own transaction, and no entry is kept for an
 * in-process relay. One service per process, so this is a process-wide setting.
 */
export function publishOutboxFromWal(on: boolean): void {
  walRelay = on;
}
