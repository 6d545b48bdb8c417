/**
 * The embedded log forgets what nobody needs any more. A record goes once it is both
 * - older than the retention, so tools and a group reset can still look back that far, and
 * - below the smallest committed offset of every group reading its topic, so no group ever
 *   loses a record it has not handled (a stopped or slow service holds its topics' records
 *   until it catches up, or until it has been gone for the group expiry, as Kafka forgets the
 *   offsets of a group gone for a week). A topic no group reads is bounded by the retention alone.
 * Dead-letter topics are never trimmed: a dead letter stays until someone replays or
 * discards it (dead-letters.ts), never because of its age.
 *
 * Compacted topics (TopicSpec.compact: a stream processor's changelogs) are compacted instead,
 * as Kafka does: a record older than the retention goes when a later record of its key exists,
 * and a tombstone (an empty value) older than the retention goes when it is its key's last;
 * the retention plays Kafka's min.compaction.lag.ms and delete.retention.ms, so a restore that
 * reads a partition while it is compacted still sees every deletion. The latest record of a
 * live key stays forever. A pass reads the keys (not the values) of each compacted partition:
 * what compaction keeps is about one record per live key, so that stays small.
 *
 * Every process that opens the log runs its own trim (db/retention.ts: a pass every interval,
 * chunks of records each deleted in one short IMMEDIATE transaction, a pause in between), so
 * a publisher waits for the file's write lock at most one chunk's delete. Several processes
 * trimming the same file is safe: a chunk deletes by offset what is past the bounds, and a
 * second process deleting the same chunk finds nothing left.
 *
 * The file does not shrink: SQLite keeps the freed pages and reuses them for new records, so
 * under a steady rate the file stays at the size of one retention's worth of records.
 */
import type { DatabaseSync } from 'node:sqlite';
import { startRetention, type Retention, type RetentionLog } from '../../db/retention.ts';
import { DLQ_SUFFIX } from '../dead-letters.ts';
import { immediate, type Statements } from './schema.ts';

export interface TrimOptions {
  /** Records younger than this stay, committed or not. */
  retentionMs: number;
  /** How often a pass runs. */
  intervalMs: number;
  /**
   * A group that has shown no sign of life (heartbeat, leaving) for this long no longer holds
   * records back; by default it holds them for ever.
   */
  groupExpiryMs?: number;
  /** Records deleted per transaction; default 1000. */
  chunk?: number;
  /** Milliseconds since the epoch (the records' `ts`); Date.now by default. */
  now?: () => number;
}

interface PartitionRow {
  topic: string;
  partition: number;
  next_offset: number;
  first_offset: number | null;
  first_ts: number | null;
}

/**
 * Deletes at most `limit` records older than `before` (ms) and committed by every group seen
 * alive since `aliveSince` (ms); returns how many.
 */
export function trimRecords(db: DatabaseSync, st: Statements, before: number, aliveSince: number, limit: number): number {
  let total = 0;
  for (const p of st.trimPartitions.all() as unknown as PartitionRow[]) {
    if (total >= limit) break;
    if (p.topic.endsWith(DLQ_SUFFIX) || p.first_offset === null || p.first_ts === null || p.first_ts >= before) continue;
    // The bound is read in the deleting transaction: a group joining meanwhile (starting at
    // the first record) or committing is seen, never trimmed under.
    total += immediate(db, () => {
      const { committed } = st.minCommitted.get(aliveSince, p.topic, p.partition) as { committed: number | null };
      const bound = committed ?? p.next_offset;
      return p.first_offset! >= bound ? 0 : Number(st.trimChunk.run(p.topic, p.partition, bound, before, limit - total).changes);
    });
  }
  return total;
}

/** Compacts the compacted topics (see above): deletes at most `limit` records older than `before` (ms); returns how many. */
export function compactRecords(db: DatabaseSync, st: Statements, before: number, limit: number): number {
  let total = 0;
  for (const { topic, partition } of st.compactedPartitions.all() as unknown as Array<{ topic: string; partition: number }>) {
    if (total >= limit) break;
    const rows = st.compactScan.all(topic, partition) as unknown as Array<{ offset: number; key: string; tombstone: number; ts: number }>;
    const last = new Map<string, number>();
    for (const r of rows) last.set(r.key, r.offset);
    const doomed: number[] = [];
    for (const r of rows) {
      if (doomed.length >= limit - total) break;
      if (r.ts >= before) break; // in offset order, so the rest is younger too (up to clock steps)
      if (last.get(r.key) !== r.offset || r.tombstone) doomed.push(r.offset);
    }
    if (doomed.length === 0) continue;
    // Deleted by offset: a record appended since the scan is not among them, and a key
    // superseded since is only compacted later.
    total += immediate(db, () => Number(st.deleteOffsets.run(topic, partition, JSON.stringify(doomed)).changes));
  }
  return total;
}

/** Starts the background trim of the log in `db`. */
export function startTrim(db: DatabaseSync, st: Statements, log: RetentionLog, opts: TrimOptions): Retention {
  const now = opts.now ?? Date.now;
  return startRetention({
    name: 'embedded log',
    log,
    intervalMs: opts.intervalMs,
    chunk: opts.chunk,
    horizon: () => new Date(now() - opts.retentionMs).toISOString(),
    deleteOlder: async (before, limit) => {
      const trimmed = trimRecords(db, st, Date.parse(before), opts.groupExpiryMs === undefined ? 0 : now() - opts.groupExpiryMs, limit);
      return trimmed + (trimmed < limit ? compactRecords(db, st, Date.parse(before), limit - trimmed) : 0);
    },
  });
}
