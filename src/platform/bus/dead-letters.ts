/**
 * Dead letters: records a consumer gave up on. Each is a row of the consuming service's
 * `dead_letters` table (dead-letter-store.ts), with a state, and a copy on `<topic>.dlq`
 * with the original key, value and headers plus `dlq-*` headers describing the failure
 * (`dlq-id` names the row).
 *
 * The table is what is listed, replayed and discarded. A replay takes the pending rows
 * (conditional UPDATE to `replayed`) and appends their records to the service's outbox in
 * the same transaction; the relay publishes them. So a replay is never lost (a crash after
 * the commit leaves the rows in the outbox, for the relay's next poll) and never done twice
 * (a second replay finds no pending row); the relay may publish a row twice (a crash after
 * the publish, before its delete), which the inbox absorbs: a replayed message keeps its id.
 *
 * The topic functions below read the `.dlq` topic itself: for dead letters written before
 * the table existed (and for tools that only see the bus). Listing there scans the topic,
 * and replaying from there has no state: it replays whatever it finds again.
 */
import type { Db, Sql } from '../db/db.ts';
import type { Bus, InRecord, OutRecord } from './bus.ts';
import { decode, type Envelope } from './envelope.ts';
import { appendRecordsToOutbox, type OutboxEntry } from './outbox.ts';
import { takePending, type DeadLetterFilter, type StoredDeadLetter } from './dead-letter-store.ts';

export const DLQ_SUFFIX = '.dlq';
export const dlqTopic = (topic: string): string => topic + DLQ_SUFFIX;

const H = {
  code: 'dlq-error-code',
  message: 'dlq-error-message',
  attempts: 'dlq-attempts',
  topic: 'dlq-original-topic',
  partition: 'dlq-original-partition',
  offset: 'dlq-original-offset',
  failedAt: 'dlq-failed-at',
  id: 'dlq-id',
} as const;

export interface DeadLetter {
  /** The message id, or `<topic>/<partition>/<offset>` of the original record when it was not a message. */
  id: string;
  /** The decoded message; undefined when the record was malformed. */
  message?: Envelope;
  /** The original record: key, value and headers as first published. */
  record: OutRecord;
  error: { code: string; message: string };
  /** Handler attempts made; 0 when it was refused without a try (malformed or invalid). */
  attempts: number;
  originalTopic: string;
  originalPartition: number;
  originalOffset: string;
  failedAt: string;
  /** Where the dead letter itself sits on the dead-letter topic. */
  dlqOffset: string;
}

/** Builds the record that dead-letters `record` (used by the consumer); `id` is its row's. */
export function deadLetterRecord(record: InRecord, error: { code: string; message: string }, attempts: number, id?: string): OutRecord {
  return {
    topic: dlqTopic(record.topic),
    key: record.key,
    value: record.value,
    headers: {
      ...stripDlqHeaders(record.headers),
      [H.code]: error.code,
      // Headers are not the place for a novel; the log has the full error.
      [H.message]: error.message.slice(0, 2000),
      [H.attempts]: String(attempts),
      [H.topic]: record.topic,
      [H.partition]: String(record.partition),
      [H.offset]: record.offset,
      [H.failedAt]: new Date().toISOString(),
      ...(id === undefined ? {} : { [H.id]: id }),
    },
  };
}

/** The record as it was first published: `record` without any `dlq-*` header. */
export function originalRecord(record: InRecord | OutRecord): OutRecord {
  return { topic: record.topic, key: record.key, value: record.value, headers: stripDlqHeaders(record.headers) };
}

function stripDlqHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith('dlq-')) out[k] = v;
  return out;
}

function toDeadLetter(rec: InRecord, fallbackTopic: string): DeadLetter {
  const h = rec.headers;
  const originalTopic = h[H.topic] ?? fallbackTopic;
  const record: OutRecord = { topic: originalTopic, key: rec.key, value: rec.value, headers: stripDlqHeaders(h) };
  let message: Envelope | undefined;
  try {
    message = decode(record);
  } catch {
    message = undefined;
  }
  const originalPartition = Number(h[H.partition] ?? -1);
  const originalOffset = h[H.offset] ?? '';
  return {
    id: message?.id ?? `${originalTopic}/${originalPartition}/${originalOffset}`,
    message,
    record,
    error: { code: h[H.code] ?? '', message: h[H.message] ?? '' },
    attempts: Number(h[H.attempts] ?? 0),
    originalTopic,
    originalPartition,
    originalOffset,
    failedAt: h[H.failedAt] ?? '',
    dlqOffset: rec.offset,
  };
}

/** Lists the dead letters of `topic` (oldest first, at most `limit`, default 1000). */
export async function listDeadLetters(bus: Bus, topic: string, opts: { limit?: number } = {}): Promise<DeadLetter[]> {
  const records = await bus.read(dlqTopic(topic), { limit: opts.limit ?? 1000 });
  return records.map((r) => toDeadLetter(r, topic));
}

const REPLAY_READ_LIMIT = 1_000_000;

/**
 * Publishes dead letters of `topic` (those with the given ids, or all) back to their
 * original topic with the same key, value and headers minus the `dlq-*` ones. Returns how
 * many were republished; a message dead-lettered twice is replayed once.
 */
export async function replayDeadLetters(bus: Bus, topic: string, opts: { ids?: string[] } = {}): Promise<number> {
  const wanted = opts.ids === undefined ? undefined : new Set(opts.ids);
  const seen = new Set<string>();
  const out: OutRecord[] = [];
  for (const dl of await listDeadLetters(bus, topic, { limit: REPLAY_READ_LIMIT })) {
    if (wanted !== undefined && !wanted.has(dl.id)) continue;
    if (seen.has(dl.id)) continue;
    seen.add(dl.id);
    out.push(dl.record);
  }
  for (let i = 0; i < out.length; i += 500) await bus.publish(out.slice(i, i + 500));
  return out.length;
}

/**
 * Replays the pending dead letters of the table that match `filter`: marks them replayed
 * and appends their original records to the outbox, in one transaction (see the module
 * comment); the caller's relay publishes them. Returns those it took; none when another
 * replay took them first.
 */
export async function replayStoredDeadLetters(db: Db, filter: Omit<DeadLetterFilter, 'state' | 'limit' | 'order'>): Promise<StoredDeadLetter[]> {
  return db.transaction(async (tx) => {
    const taken = await takePending(tx, filter, 'replayed');
    const seen = new Set<string>();
    const entries: OutboxEntry[] = [];
    for (const dl of taken) {
      // A message dead-lettered twice (two groups, two deliveries) goes back once.
      const key = dl.messageId ?? dl.id;
      if (seen.has(key)) continue;
      seen.add(key);
      // An id of its own in the outbox: the message id may still be there, published and
      // not yet deleted, and ON CONFLICT would then drop the replay.
      entries.push({ id: `replay:${dl.id}`, record: dl.record });
    }
    await appendRecordsToOutbox(tx, entries);
    return taken;
  });
}

/** Marks the pending dead letters that match `filter` discarded; returns them. */
export function discardDeadLetters(sql: Sql, filter: Omit<DeadLetterFilter, 'state' | 'limit' | 'order'>): Promise<StoredDeadLetter[]> {
  return takePending(sql, filter, 'discarded');
}
