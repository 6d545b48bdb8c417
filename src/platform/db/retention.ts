/**
 * A table bounded by a retention: a background loop that, every interval, deletes the rows
 * older than a horizon in chunks. Each chunk is one short statement in its own transaction
 * (autocommit), so a purge of a million rows never holds a long transaction, never keeps
 * locks that writers wait on, and on SQLite hands the file's write lock back between chunks.
 * The inbox purge (bus/inbox.ts), the orders' idempotency keys and the embedded log's trim use it.
 */
import { startPeriodic } from '../periodic.ts';

export interface RetentionOptions {
  /** For the logs: what is purged. */
  name: string;
  log: RetentionLog;
  intervalMs: number;
  /** Rows deleted per statement. */
  chunk?: number;
  /** Pause between two chunks of one pass, so that the writers of the table go first. */
  pauseMs?: number;
  /** The horizon (ISO time): rows older than it are deleted. */
  horizon(): string;
  /** Deletes at most `limit` rows older than `before`; resolves with how many it deleted. */
  deleteOlder(before: string, limit: number): Promise<number>;
}

/** What a purge logs; a pino logger is one. */
export interface RetentionLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface Retention {
  /** Runs one pass now (the rows past the horizon, chunk by chunk); resolves with the rows deleted. */
  pass(): Promise<number>;
  stop(): Promise<void>;
}

export const DEFAULT_PURGE_CHUNK = 1000;

export function startRetention(opts: RetentionOptions): Retention {
  const chunk = Math.max(1, opts.chunk ?? DEFAULT_PURGE_CHUNK);
  const pauseMs = opts.pauseMs ?? 10;
  async function purge(stopped: () => boolean): Promise<number> {
    const before = opts.horizon();
    let total = 0;
    for (;;) {
      const n = await opts.deleteOlder(before, chunk);
      total += n;
      if (n < chunk || stopped()) break;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    if (total > 0) opts.log.info({ purged: total, before }, `${opts.name}: purged rows past the retention`);
    return total;
  }

  return startPeriodic({ name: `${opts.name}: purge`, intervalMs: opts.intervalMs, log: opts.log, failed: 0, run: purge });
}
