/**
 * Dead letters: records the consumer gave up on, kept on `<topic>.dlq` with the original
 * key, value and headers plus `dlq-*` headers describing the failure. The dead-letter topic
 * is a log: listing reads it from the start, and replaying does not remove anything.
 * Replays are safe to repeat because a replayed message keeps its id and the inbox skips
 * an id it has processed.
 */
import type { Bus, InRecord, OutRecord } from './bus.ts';
import { decode, type Envelope } from './envelope.ts';

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

/** Builds the record that dead-letters `record` (used by the consumer). */
export function deadLetterRecord(record: InRecord, error: { code: string; message: string }, attempts: number): OutRecord {
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
    },
  };
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
