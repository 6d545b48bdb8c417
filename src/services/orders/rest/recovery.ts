// Recovery of the rest architecture: a saga whose request was cut short (orders killed
// mid-chain, a service down or too slow for the deadline) stays unfinished in rest_sagas.
// This loop drives the old ones again, so every accepted order reaches its outcome and
// every compensation is done, however the request that accepted it ended.
import type { Db } from '#platform/db/db.ts';
import type { Logger } from '#platform/log.ts';
import { startPeriodic } from '#platform/periodic.ts';
import { staleRestSagas } from '../store.ts';
import type { Downstream } from './downstream.ts';
import type { RestDriver } from './drive.ts';

export interface RecoveryOptions {
  db: Db;
  driver: RestDriver;
  downstream: Pick<Downstream, 'openCircuit'>;
  log: Logger;
  /** A saga older than this is no longer its request's business. */
  recoverAfterMs: number;
  intervalMs?: number;
  /** Sagas driven at once. */
  concurrency?: number;
}

export interface Recovery {
  /** Runs one pass now; resolves with the number of sagas finished. */
  pass(): Promise<number>;
  stop(): Promise<void>;
}

export function startRecovery(opts: RecoveryOptions): Recovery {
  const intervalMs = opts.intervalMs ?? 1_000;
  const concurrency = opts.concurrency ?? 8;
  async function pass(stopped: () => boolean): Promise<number> {
    // With a circuit open every drive would fail fast anyway; wait until the next call
    // would be the half-open trial (openCircuit says so then).
    if (opts.downstream.openCircuit()) return 0;
    const before = new Date(Date.now() - opts.recoverAfterMs).toISOString();
    const ids = (await staleRestSagas(opts.db, before, 200)).filter((id) => !opts.driver.driving(id));
    let finished = 0;
    let failed = 0;
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, async () => {
      while (next < ids.length && !stopped()) {
        const id = ids[next++];
        try {
          await opts.driver.drive(id);
          finished++;
        } catch (err) {
          failed++;
          // The others need the same services: try again next pass rather than pile on.
          if (failed === 1) opts.log.warn({ err, orderId: id }, 'recovery could not finish an order yet; will try again');
          next = ids.length;
        }
      }
    }));
    if (finished > 0) opts.log.info({ finished, failed }, 'recovery finished unfinished orders');
    return finished;
  }

  return startPeriodic({ name: 'recovery pass', intervalMs, log: opts.log, failed: 0, run: pass });
}
