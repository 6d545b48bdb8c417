/**
 * What a service's consumers tell on /metrics (the metric set of issue 8):
 * - `orderflow_messages_total{group,type,outcome}`: each message's fate, counted once it is
 *   settled (handled and skipped_duplicate after their transaction committed); a delivery of
 *   a version the consumer does not know yet counts `unknown_version` each time it waits;
 * - `orderflow_batch_size{group}`: records per delivered batch;
 * - `orderflow_consumer_lag{group,topic,partition}`: records not yet committed by the group;
 * - `orderflow_dead_letters{topic}`: pending dead letters, by source topic: with `db`, the
 *   service's `dead_letters` rows still pending (bus/dead-letter-store.ts), which a replay or a
 *   discard brings back to 0; without, the records on `<topic>.dlq` (which only grow: the
 *   topic keeps them forever).
 *
 * Lag and dead letters cost a question to the bus (Bus.positions), so they are not asked
 * per scrape: a scrape starts a refresh when the last one is older than `refreshMs`
 * (default 5 s) and waits for it at most `waitMs`, otherwise it reports the last values.
 * Nobody scraping, nothing asked. What one refresh costs: on the embedded log one SQLite
 * query per group and one for the dead-letter topics; on Kafka, per group and once for the
 * dead-letter topics, a cached Metadata, two ListOffsets per partition leader and (for a
 * group) one OffsetFetch: a handful of requests every 5 s, whatever the partitions.
 *
 * The lag is the group's, read from the broker: every member of a group reports the same
 * series (aggregate with max, not sum, across instances); so do the services that consume
 * the same topic, for its dead letters.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Bus } from '../bus/bus.ts';
import type { Sql } from '../db/db.ts';
import { dlqTopic } from '../bus/dead-letters.ts';
import { silentLogger, type Logger } from '../log.ts';

export const MessageOutcome = {
  handled: 'handled',
  retried: 'retried',
  dead_lettered: 'dead_lettered',
  skipped_duplicate: 'skipped_duplicate',
  /** Delivered while this consumer knew no such version yet: not handled, delivered again. */
  unknown_version: 'unknown_version',
} as const;
export type MessageOutcome = (typeof MessageOutcome)[keyof typeof MessageOutcome];

/** Counts `n` (default 1) messages of `type` that ended as `outcome`. */
export type CountOutcome = (type: string, outcome: MessageOutcome, n?: number) => void;

export interface BusMetrics {
  /** The outcome counter of one consumer group (label children cached: it runs per message). */
  outcomes(groupId: string): CountOutcome;
  /** The batch-size histogram of one consumer group. */
  batchSize(groupId: string): { observe(records: number): void };
  /** Reports the lag of `groupId` on `topics`, and the dead letters of those topics. */
  watch(groupId: string, topics: string[]): void;
  /**
   * Each watched group's lag and committed total per topic, as fresh as /metrics' (the same
   * refresh, so an admin's overview costs the bus nothing more than a scrape).
   */
  consumers(): Promise<ConsumerPosition[]>;
}

/**
 * A group on one topic. `committed` is the sum of its committed offsets over the topic's
 * partitions: a running total of the records the group handled, whichever instance handled
 * them and across restarts (offsets only grow), so two readings give its rate.
 */
export interface ConsumerPosition {
  groupId: string;
  topic: string;
  lag: number;
  committed: number;
}

export interface BusMetricsOptions {
  /** Lag and dead letters are asked of the bus at most this often; default 5 s. */
  refreshMs?: number;
  /** How long a scrape waits for a refresh before it reports the last values; default 2 s. */
  waitMs?: number;
  log?: Logger;
  /** The service's database: dead letters are then its pending dead_letters rows (one grouped count). */
  db?: Sql;
}

/** Up to the largest batch a subscription delivers (maxBatch 500) and a little beyond. */
const batchBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export function createBusMetrics(registry: Registry, bus: Bus, opts: BusMetricsOptions = {}): BusMetrics {
  const refreshMs = opts.refreshMs ?? 5_000;
  const waitMs = opts.waitMs ?? 2_000;
  const log = opts.log ?? silentLogger;
  const watched = new Map<string, string[]>();
  const lags = new Map<string, Array<{ topic: string; partition: number; lag: number; committed: number }>>();
  const deadLetters = new Map<string, number>();
  let refreshedAt = -Infinity;
  let refreshing: Promise<void> | undefined;

  const messages = new Counter({
    name: 'orderflow_messages_total',
    help: 'Messages consumed, by consumer group, message type and outcome (handled, retried, dead_lettered, skipped_duplicate, unknown_version).',
    labelNames: ['group', 'type', 'outcome'] as const,
    registers: [registry],
  });
  const batches = new Histogram({
    name: 'orderflow_batch_size',
    help: 'Records per batch delivered by the bus, by consumer group.',
    labelNames: ['group'] as const,
    buckets: batchBuckets,
    registers: [registry],
  });
  new Gauge({
    name: 'orderflow_consumer_lag',
    help: 'Records not yet committed by the consumer group, per partition (refreshed at most every few seconds while scraped).',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [registry],
    async collect() {
      await fresh();
      this.reset();
      for (const [group, partitions] of lags) {
        for (const p of partitions) this.set({ group, topic: p.topic, partition: String(p.partition) }, p.lag);
      }
    },
  });
  new Gauge({
    name: 'orderflow_dead_letters',
    help: 'Records on the dead-letter topic <topic>.dlq, by source topic (refreshed at most every few seconds while scraped).',
    labelNames: ['topic'] as const,
    registers: [registry],
    async collect() {
      await fresh();
      this.reset();
      for (const [topic, count] of deadLetters) this.set({ topic }, count);
    },
  });

  // A failed question keeps the last values: a broker that does not answer does not make
  // the lag zero (readiness says the broker is gone).
  async function refresh(): Promise<void> {
    const groups = [...watched];
    const sources = [...new Set(groups.flatMap(([, topics]) => topics))];
    const [asked, [dlq]] = await Promise.all([
      Promise.allSettled(groups.map(([groupId, topics]) => bus.positions(topics, groupId))),
      Promise.allSettled([opts.db === undefined ? bus.positions(sources.map(dlqTopic)) : pendingByTopic(opts.db)]),
    ]);
    groups.forEach(([groupId], i) => {
      const r = asked[i];
      if (r.status === 'rejected') return log.debug({ err: r.reason, groupId }, 'consumer lag not refreshed');
      lags.set(groupId, r.value.map((p) => ({ topic: p.topic, partition: p.partition, lag: Math.max(0, p.end - (p.committed ?? p.start)), committed: p.committed ?? 0 })));
    });
    if (dlq.status === 'rejected') return log.debug({ err: dlq.reason }, 'dead letters not refreshed');
    const counts = new Map(sources.map((t) => [t, 0]));
    if (dlq.value instanceof Map) {
      for (const [t, n] of dlq.value) counts.set(t, n);
      deadLetters.clear();
      for (const [t, n] of counts) deadLetters.set(t, n);
      return;
    }
    const bySource = new Map(sources.map((t) => [dlqTopic(t), t]));
    for (const p of dlq.value) {
      const source = bySource.get(p.topic);
      if (source !== undefined) counts.set(source, counts.get(source)! + Math.max(0, p.end - p.start));
    }
    for (const [t, n] of counts) deadLetters.set(t, n);
  }

  // Through the index on (state, failed_at): a range of the pending rows, which are few.
  async function pendingByTopic(db: Sql): Promise<Map<string, number>> {
    const rows = await db.query<{ topic: string; n: number | string }>("SELECT topic, COUNT(*) AS n FROM dead_letters WHERE state = 'pending' GROUP BY topic");
    return new Map(rows.map((r) => [r.topic, Number(r.n)]));
  }

  function fresh(): Promise<void> {
    if (watched.size === 0) return Promise.resolve();
    if (refreshing === undefined && Date.now() - refreshedAt >= refreshMs) {
      refreshing = refresh()
        .catch((err) => log.debug({ err }, 'bus metrics not refreshed'))
        .finally(() => {
          refreshedAt = Date.now();
          refreshing = undefined;
        });
    }
    if (refreshing === undefined) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([refreshing, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]).finally(() => clearTimeout(timer));
  }

  return {
    outcomes(groupId) {
      const children = new Map<string, Counter.Internal>();
      return (type, outcome, n = 1) => {
        const key = `${type}\u0000${outcome}`;
        let child = children.get(key);
        if (child === undefined) children.set(key, (child = messages.labels(groupId, type, outcome)));
        child.inc(n);
      };
    },
    batchSize: (groupId) => batches.labels(groupId),
    watch(groupId, topics) {
      watched.set(groupId, [...new Set(topics)]);
    },
    async consumers() {
      await fresh();
      const out: ConsumerPosition[] = [];
      for (const [groupId, topics] of watched) {
        for (const topic of topics) {
          const partitions = (lags.get(groupId) ?? []).filter((p) => p.topic === topic);
          out.push({ groupId, topic, lag: partitions.reduce((n, p) => n + p.lag, 0), committed: partitions.reduce((n, p) => n + p.committed, 0) });
        }
      }
      return out;
    },
  };
}
