/**
 * The dead-letter table: one row per dead letter, in the database of the service that gave
 * up on it, so that listing is a query (by topic, by state) and not a scan of a topic, and so
 * that each dead letter has a state: `pending` until someone acts, then `replayed` or
 * `discarded`. A replay only takes pending rows, with a conditional UPDATE, so a second
 * replay (or a concurrent one) finds nothing to replay.
 *
 * Two origins write here:
 * - `consumer`: a record its consumer group gave up on (retries exhausted, or invalid). The
 *   row is written right after the `<topic>.dlq` record is published (the topic copy is the
 *   archive, for tools that read Kafka; the row is what the CLI lists and replays). Its key
 *   `source` is group/topic/partition/offset, so a crash between the publish and the insert,
 *   which delivers the record again and dead-letters it again, still makes one row.
 * - `relay`: an outbox row the bus refused as too large; the relay moves it here, in the
 *   same transaction as it deletes it from the outbox (outbox-relay.ts).
 *
 * The row holds the original record (key, value, headers), so a replay needs nothing else;
 * a relay dead letter has no other copy anywhere. A pending row is kept until someone acts:
 * a dead letter waits for a human. A replayed or discarded one is deleted once it has been
 * settled for the retention (ORDERFLOW_DLQ_SETTLED_RETENTION_DAYS, startSettledPurge).
 */
import type { Db, Migration, Sql } from '../db/db.ts';
import { startRetention, type Retention } from '../db/retention.ts';
import type { Logger } from '../log.ts';
import type { OutRecord } from './bus.ts';
import { newMessageId } from './envelope.ts';

export const deadLetterStates = ['pending', 'replayed', 'discarded'] as const;
export type DeadLetterState = (typeof deadLetterStates)[number];

/** In outboxMigrations: every process that consumes or relays has the outbox, so it has this too. */
export const deadLetterMigrations: Migration[] = [
  {
    id: 'platform-0004-dead-letters',
    sql: `
      CREATE TABLE dead_letters (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL UNIQUE,
        origin TEXT NOT NULL,
        consumer_group TEXT,
        topic TEXT NOT NULL,
        source_partition INTEGER,
        source_offset TEXT,
        message_id TEXT,
        message_type TEXT,
        record_key TEXT NOT NULL,
        record_value TEXT NOT NULL,
        record_headers TEXT NOT NULL,
        error_code TEXT NOT NULL,
        error_message TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        failed_at TEXT NOT NULL,
        dlq_topic TEXT,
        state TEXT NOT NULL,
        state_changed_at TEXT NOT NULL
      );
      CREATE INDEX dead_letters_topic_state ON dead_letters (topic, state, failed_at);
      CREATE INDEX dead_letters_state ON dead_letters (state, state_changed_at);`,
  },
];

export interface StoredDeadLetter {
  /** The row's own id (UUIDv7). */
  id: string;
  origin: 'consumer' | 'relay';
  /** The group that gave up on it (consumer origin). */
  consumerGroup?: string;
  /** The message id; undefined when the record was not a message (malformed). */
  messageId?: string;
  messageType?: string;
  /** The original record, as published to (or meant for) `originalTopic`. */
  record: OutRecord;
  error: { code: string; message: string };
  /** Handler attempts made; 0 when refused without a try (invalid, or too large for the bus). */
  attempts: number;
  originalTopic: string;
  /** Where the consumer read it; undefined for the relay origin (it never reached the bus). */
  originalPartition?: number;
  originalOffset?: string;
  failedAt: string;
  /** The dead-letter topic holding its copy; undefined when there is none (relay origin, or too large for it). */
  dlqTopic?: string;
  state: DeadLetterState;
  stateChangedAt: string;
}

export type NewDeadLetter = Omit<StoredDeadLetter, 'state' | 'stateChangedAt' | 'originalTopic'> & {
  /** Unique per failure (see the module comment): a second insert of it is ignored. */
  source: string;
};

/** A fresh row id, known before the row is written (the dlq record names it in `dlq-id`). */
export const newDeadLetterId = (): string => newMessageId();

const INSERT = `INSERT INTO dead_letters (id, source, origin, consumer_group, topic, source_partition, source_offset,
  message_id, message_type, record_key, record_value, record_headers, error_code, error_message, attempts, failed_at,
  dlq_topic, state, state_changed_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'pending', $16)
  ON CONFLICT (source) DO NOTHING`;

/** Writes dead letters as pending; one already recorded under the same `source` is left as it is. */
export async function recordDeadLetters(sql: Sql, letters: NewDeadLetter[]): Promise<void> {
  for (const l of letters) {
    await sql.execute(INSERT, [
      l.id, l.source, l.origin, l.consumerGroup ?? null, l.record.topic, l.originalPartition ?? null, l.originalOffset ?? null,
      l.messageId ?? null, l.messageType ?? null, l.record.key, l.record.value, JSON.stringify(l.record.headers),
      l.error.code, l.error.message.slice(0, 8000), l.attempts, l.failedAt, l.dlqTopic ?? null,
    ]);
  }
}

export interface DeadLetterFilter {
  /** The original topic. */
  topic?: string;
  /** Default: every state. */
  state?: DeadLetterState;
  /** Row ids or message ids. */
  ids?: string[];
  /** At most this many; default 1000. */
  limit?: number;
  /** Oldest first (by failedAt, then id) unless `newest`. */
  order?: 'oldest' | 'newest';
}

interface Row {
  id: string;
  origin: 'consumer' | 'relay';
  consumer_group: string | null;
  topic: string;
  source_partition: number | null;
  source_offset: string | null;
  message_id: string | null;
  message_type: string | null;
  record_key: string;
  record_value: string;
  record_headers: string;
  error_code: string;
  error_message: string;
  attempts: number;
  failed_at: string;
  dlq_topic: string | null;
  state: DeadLetterState;
  state_changed_at: string;
}

const COLUMNS = `id, origin, consumer_group, topic, source_partition, source_offset, message_id, message_type,
  record_key, record_value, record_headers, error_code, error_message, attempts, failed_at, dlq_topic, state, state_changed_at`;

function toStored(r: Row): StoredDeadLetter {
  const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  return {
    id: r.id,
    origin: r.origin,
    consumerGroup: opt(r.consumer_group),
    messageId: opt(r.message_id),
    messageType: opt(r.message_type),
    record: { topic: r.topic, key: r.record_key, value: r.record_value, headers: JSON.parse(r.record_headers) as Record<string, string> },
    error: { code: r.error_code, message: r.error_message },
    attempts: Number(r.attempts),
    originalTopic: r.topic,
    originalPartition: r.source_partition === null ? undefined : Number(r.source_partition),
    originalOffset: opt(r.source_offset),
    failedAt: r.failed_at,
    dlqTopic: opt(r.dlq_topic),
    state: r.state,
    stateChangedAt: r.state_changed_at,
  };
}

// WHERE clause of a filter; its parameters start at $`first`.
function where(filter: DeadLetterFilter, first: number): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => `$${first + params.push(v) - 1}`;
  if (filter.topic !== undefined) parts.push(`topic = ${p(filter.topic)}`);
  if (filter.state !== undefined) parts.push(`state = ${p(filter.state)}`);
  if (filter.ids !== undefined) {
    if (filter.ids.length === 0) parts.push('1 = 0');
    else {
      const list = filter.ids.map(p).join(', ');
      // Both spellings of --id: the row's own id, or the message id (as the topic listing showed it).
      parts.push(`(id IN (${list}) OR message_id IN (${list}))`);
    }
  }
  return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

/** Dead letters matching `filter`, oldest first unless `filter.order` says newest. */
export async function queryDeadLetters(sql: Sql, filter: DeadLetterFilter = {}): Promise<StoredDeadLetter[]> {
  const w = where(filter, 2);
  const order = filter.order === 'newest' ? 'failed_at DESC, id DESC' : 'failed_at, id';
  const rows = await sql.query<Row>(`SELECT ${COLUMNS} FROM dead_letters ${w.sql} ORDER BY ${order} LIMIT $1`, [filter.limit ?? 1000, ...w.params]);
  return rows.map(toStored);
}

/**
 * Moves the pending dead letters matching `filter` to `to`, and returns them. Conditional on
 * `state = 'pending'`: of two callers racing for the same rows, each row goes to one.
 */
export async function takePending(sql: Sql, filter: Omit<DeadLetterFilter, 'state' | 'limit' | 'order'>, to: Exclude<DeadLetterState, 'pending'>): Promise<StoredDeadLetter[]> {
  const w = where({ ...filter, state: 'pending' }, 3);
  const rows = await sql.query<Row>(`UPDATE dead_letters SET state = $1, state_changed_at = $2 ${w.sql} RETURNING ${COLUMNS}`, [to, new Date().toISOString(), ...w.params]);
  return rows.map(toStored).sort((a, b) => (a.failedAt < b.failedAt ? -1 : a.failedAt > b.failedAt ? 1 : a.id < b.id ? -1 : 1));
}

// Through dead_letters_state: the settled rows of each state, oldest first. Pending ones never.
const PURGE = `DELETE FROM dead_letters WHERE id IN (
  SELECT id FROM dead_letters WHERE state IN ('replayed', 'discarded') AND state_changed_at < $1 LIMIT $2)`;

/** Deletes at most `limit` replayed or discarded dead letters settled before `before` (ISO time). */
export function purgeSettledDeadLetters(sql: Sql, before: string, limit: number): Promise<number> {
  return sql.execute(PURGE, [before, limit]);
}

/** Deletes, in the background, the dead letters replayed or discarded more than `retentionMs` ago. */
export function startSettledPurge(opts: { db: Db; log: Logger; retentionMs: number; intervalMs: number; clock?: { now(): Date } }): Retention {
  const clock = opts.clock ?? { now: () => new Date() };
  return startRetention({
    name: 'settled dead letters',
    log: opts.log,
    intervalMs: opts.intervalMs,
    horizon: () => new Date(clock.now().getTime() - opts.retentionMs).toISOString(),
    deleteOlder: (before, limit) => purgeSettledDeadLetters(opts.db, before, limit),
  });
}
