// Idempotency keys expire: a key older than its TTL (24 h by default) no longer answers
// (place-order.ts reads and claims it with now − TTL), and this loop deletes such keys in
// chunks (platform db/retention.ts), so the table holds about one day of keys.
import type { Db } from '#platform/db/db.ts';
import { startRetention, type Retention } from '#platform/db/retention.ts';
import type { Logger } from '#platform/log.ts';
import { purgeIdempotencyKeys } from './store.ts';

export function startIdempotencyExpiry(opts: { db: Db; log: Logger; clock: { now(): Date }; ttlMs: number; intervalMs: number; chunk?: number }): Retention {
  return startRetention({
    name: 'idempotency keys',
    log: opts.log,
    intervalMs: opts.intervalMs,
    chunk: opts.chunk,
    horizon: () => new Date(opts.clock.now().getTime() - opts.ttlMs).toISOString(),
    deleteOlder: (before, limit) => purgeIdempotencyKeys(opts.db, before, limit),
  });
}
