// Group commit for HTTP write paths (POST /orders, the REST routes of the services). On SQLite a commit costs far more than
// the few inserts of an order (the WAL write dominates), so the orders that arrive while a
// transaction is being written share the next one: under load, one commit carries many
// orders; alone, an order waits for nothing but one turn of the event loop.
import type { Db, Sql } from './db.ts';
import { Overloaded } from '../errors.ts';
import { createGroupQueue } from '../group-commit.ts';
import { boundToCaller } from '../telemetry/tracing.ts';

export type Job<R> = (tx: Sql) => Promise<R>;
export type BatchWriter = <R>(job: Job<R>) => Promise<R>;

interface Pending {
  job: Job<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface BatchWriterOptions {
  /** Most jobs in one transaction. */
  maxBatch?: number;
  /** Transactions in flight at once: 1 suits SQLite (it serialises them anyway); PostgreSQL can use its pool. */
  maxConcurrent?: number;
  /**
   * Most jobs waiting for a transaction; past it a job is refused at once with a coded 503
   * (PLT_ERR_OVERLOADED, nothing run, nothing written), rather than wait behind a backlog
   * its client will have given up on. Unbounded when absent (the service host bounds its
   * writer by ORDERFLOW_WRITE_QUEUE_MAX).
   */
  maxQueued?: number;
}

/**
 * Runs jobs in shared transactions. A job must only write through its `tx` and be safe to
 * run again: when a shared transaction fails, it is rolled back and each of its jobs is
 * run again in a transaction of its own, so one failing job fails alone.
 */
export function createBatchWriter(db: Db, opts: BatchWriterOptions = {}): BatchWriter {
  const maxBatch = opts.maxBatch ?? 256;
  const maxConcurrent = opts.maxConcurrent ?? (db.dialect === 'sqlite' ? 1 : 4);

  async function alone(p: Pending): Promise<void> {
    try {
      p.resolve(await db.transaction((tx) => p.job(tx)));
    } catch (err) {
      p.reject(err);
    }
  }

  async function runBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return alone(batch[0]);
    let results: unknown[];
    try {
      results = await db.transaction(async (tx) => {
        const out: unknown[] = [];
        for (const p of batch) out.push(await p.job(tx));
        return out;
      });
    } catch {
      for (const p of batch) await alone(p);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i]);
  }

  const queue = createGroupQueue<Pending>({ maxConcurrent, maxWeight: maxBatch, run: runBatch, maxQueued: opts.maxQueued });

  return <R>(job: Job<R>): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      // A shared transaction runs every job in it: each in its own caller's trace.
      if (!queue.push({ job: boundToCaller(job), resolve: resolve as (v: unknown) => void, reject })) {
        reject(Overloaded(`${queue.queued} writes are already waiting for the database; nothing was written, retry later`));
      }
    });
}
