/**
 * The inbox is bounded: rows older than the retention are deleted in the background, in
 * chunks (db/retention.ts). The horizon must be longer than the bus's own retention (Kafka's
 * default is 7 days): a message is deduplicated only while its id is in the inbox, so a
 * redelivery older than the horizon (a group reset to the earliest offset, a DLQ replay of an
 * old message) would be applied twice. Hence 8 days by default: the bus forgets a message
 * before the inbox does.
 */
import type { Db, Sql } from '../db/db.ts';
import { startRetention, type Retention } from '../db/retention.ts';
import type { Logger } from '../log.ts';

// By primary key through a bounded subquery: one statement on both engines (SQLite has no
// DELETE … LIMIT by default, PostgreSQL none at all), the range found through inbox_processed_at.
const PURGE = `DELETE FROM inbox WHERE (message_id, consumer_group) IN (
  SELECT message_id, consumer_group FROM inbox WHERE processed_at < $1 LIMIT $2)`;

/** Deletes at most `limit` inbox rows processed before `before` (ISO time); returns how many. */
export function purgeInbox(sql: Sql, before: string, limit: number): Promise<number> {
  return sql.execute(PURGE, [before, limit]);
}

export function startInboxPurge(opts: { db: Db; log: Logger; retentionMs: number; intervalMs: number; chunk?: number; clock?: { now(): Date } }): Retention {
  const clock = opts.clock ?? { now: () => new Date() };
  return startRetention({
    name: 'inbox',
    log: opts.log,
    intervalMs: opts.intervalMs,
    chunk: opts.chunk,
    horizon: () => new Date(clock.now().getTime() - opts.retentionMs).toISOString(),
    deleteOlder: (before, limit) => purgeInbox(opts.db, before, limit),
  });
}
