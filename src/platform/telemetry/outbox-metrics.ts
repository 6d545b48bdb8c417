/**
 * The outbox on /metrics (the metric set of issue 8) and what readiness asks of the relay:
 * - `orderflow_outbox_pending`: rows in the outbox table, read at scrape time by one
 *   `SELECT COUNT(*), MIN(created_at)` over the table of pending rows (the relay deletes
 *   what it published, in batches at most ~100 ms later, so a published row can be counted
 *   for that long);
 * - `orderflow_outbox_oldest_age_seconds`: the age of the oldest of those rows, 0 if none;
 * - `orderflow_relay_publish_seconds`: each publish call of the relay (one batch) to the bus;
 * - `orderflow_relay_dead_letters_total`: outbox rows the bus refused as too large, moved by
 *   the relay to the dead_letters table (outbox-relay.ts): any is a message that never left.
 * The query is bounded by `timeoutMs`: a database that does not answer leaves the gauges
 * at their last values rather than hang the scrape.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Bus } from '../bus/bus.ts';
import type { Db } from '../db/db.ts';
import { durationBuckets } from '../http/metrics.ts';
import { DependencyUnavailable, isOrderflowError, RecordTooLarge } from '../errors.ts';

export interface OutboxBacklog {
  pending: number;
  oldestAgeSeconds: number;
}

export interface OutboxMetrics {
  /** The bus to give the relay: each publish is timed, and a failing one remembered. */
  relayBus(bus: Bus): Bus;
  /** When the relay's publishes started failing (epoch ms); undefined after a success. */
  failingSince(): number | undefined;
  /** Rows waiting in the outbox, and the age of the oldest (bounded by the timeout). */
  backlog(): Promise<OutboxBacklog>;
  /** Counts rows the relay moved to dead_letters (its onDeadLettered). */
  deadLettered(count: number): void;
}

export function createOutboxMetrics(registry: Registry, db: Db, opts: { timeoutMs?: number } = {}): OutboxMetrics {
  const timeoutMs = opts.timeoutMs ?? 2_000;
  let failingSince: number | undefined;
  let last: OutboxBacklog = { pending: 0, oldestAgeSeconds: 0 };

  const publishSeconds = new Histogram({
    name: 'orderflow_relay_publish_seconds',
    help: 'Time of one publish call of the outbox relay (one batch) to the bus, failed ones included.',
    buckets: durationBuckets,
    registers: [registry],
  });
  const relayDeadLetters = new Counter({
    name: 'orderflow_relay_dead_letters_total',
    help: 'Outbox rows the bus refused as too large, moved by the relay to the dead_letters table.',
    registers: [registry],
  });
  new Gauge({
    name: 'orderflow_outbox_pending',
    help: 'Outbox rows not yet published (and published ones waiting for their delete, at most ~100 ms).',
    registers: [registry],
    async collect() {
      this.set((await backlogOrLast()).pending);
    },
  });
  new Gauge({
    name: 'orderflow_outbox_oldest_age_seconds',
    help: 'Age of the oldest row in the outbox; 0 when it is empty.',
    registers: [registry],
    async collect() {
      this.set((await backlogOrLast()).oldestAgeSeconds);
    },
  });

  async function backlog(): Promise<OutboxBacklog> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(DependencyUnavailable(`the outbox did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const [row] = await Promise.race([db.query<{ n: number | string; oldest: string | null }>('SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox'), timedOut]);
      const oldest = row?.oldest ? Date.parse(row.oldest) : NaN;
      last = { pending: Number(row?.n ?? 0), oldestAgeSeconds: Number.isNaN(oldest) ? 0 : Math.max(0, (Date.now() - oldest) / 1000) };
      return last;
    } finally {
      clearTimeout(timer);
    }
  }

  // A scrape collects both gauges at once: they share the query in flight.
  let shared: Promise<OutboxBacklog> | undefined;
  function backlogOrLast(): Promise<OutboxBacklog> {
    shared ??= backlog()
      .catch(() => last)
      .finally(() => (shared = undefined));
    return shared;
  }

  return {
    relayBus: (bus) => ({
      ...bus,
      async publish(records) {
        const end = publishSeconds.startTimer();
        try {
          await bus.publish(records);
          failingSince = undefined;
        } catch (err) {
          // A record too large is the record's fault, not the bus's: the relay sets it aside.
          if (!isOrderflowError(err, RecordTooLarge.code)) failingSince ??= Date.now();
          throw err;
        } finally {
          end();
        }
      },
    }),
    failingSince: () => failingSince,
    backlog,
    deadLettered: (count) => relayDeadLetters.inc(count),
  };
}
