/**
 * The embedded log: the Bus port on one SQLite file, a small local stand-in for Kafka as
 * SQLite is for PostgreSQL. Every service process opens the same file (WAL mode), so
 * topics, partitions, records and consumer-group positions are shared across processes.
 *
 * What it is not: a consumer group here has ONE active member per topic, which owns all
 * the topic's partitions (partitions still run concurrently inside it). Other members
 * (replicas of the service) stand by and take the topic over when its owner leaves or
 * stops heartbeating for `sessionMs` (group-subscription.ts): failover, not sharing.
 * Scaling a group out over several processes or machines is what Kafka is for.
 *
 * Processes share no signal but the file, so a consumer learns of new records by polling
 * (see heads-poller.ts): every `pollMs` while records flow, backing off to 25 ms after a
 * second of quiet. An idle tick costs one `PRAGMA data_version` read, which is why the idle
 * interval can stay short: a quiet system still answers a single order within tens of ms.
 * A publish in the same process wakes its subscribers at once. A tail (embedded-tail.ts)
 * waits on the same poller, with no group.
 *
 * Retention (trim.ts): with `retention` set, each process trims in the background the
 * records older than the retention that every group reading their topic has committed
 * past; dead letters are kept. A group, new or resumed, starts at the first record left.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Bus, InRecord, OutRecord, PartitionPage, PartitionPosition, SubscribeOptions, Subscription, Tail, TailHandler, TopicSpec } from '#platform/bus/bus.ts';
import { DEFAULT_MAX_RECORD_BYTES, oversized, partitionOf, trackTail } from '#platform/bus/bus.ts';
import { ConfigError, DependencyUnavailable, RecordTooLarge, ShuttingDown, UnknownPartition, defineError, isOrderflowError } from '#platform/errors.ts';
import { createHeadsPoller, type HeadRow } from './heads-poller.ts';
import { subscribeGroup } from './group-subscription.ts';
import { tailEmbedded } from './embedded-tail.ts';
import { immediate, openDatabase, prepareStatements } from './schema.ts';
import { startTrim, type TrimOptions } from './trim.ts';

/** Publishing to, or subscribing to, a topic that was never created (see `ensureTopics`). */
export const UnknownTopic = defineError('PLT_ERR_UNKNOWN_TOPIC', 500);

export interface EmbeddedLogOptions {
  /** The SQLite file every process of the deployment shares; created when missing. */
  file: string;
  /** Fastest interval at which subscribers poll the partition heads; default 5 ms. */
  pollMs?: number;
  /** Offsets of handled batches are committed this often (and on close); default 50 ms. */
  commitIntervalMs?: number;
  /** Trims committed records past a retention in the background (trim.ts); records are kept forever without it. */
  retention?: TrimOptions;
  log?: { warn(...a: unknown[]): void; info?(...a: unknown[]): void };
  /**
   * The largest record a publish accepts (bus.ts recordBytes); default 1 MiB, Kafka's default,
   * so that what runs on the embedded log does not break on Kafka for its size.
   */
  maxRecordBytes?: number;
  /** This process's instance name (ORDERFLOW_INSTANCE): a restart of the same instance takes its topics back at once. */
  instance?: string;
  /** A group member silent this long is presumed dead and a standby takes over; default 6000 ms. */
  sessionMs?: number;
}

/** The Bus on the embedded log, and its trim for tools and tests. */
export interface EmbeddedLog extends Bus {
  /** Runs a trim pass now; resolves with the records deleted (0 without a retention). */
  trim(): Promise<number>;
}

/** Opens (and creates when needed) the embedded log in `file`. */
export function openEmbeddedLog(opts: EmbeddedLogOptions): EmbeddedLog {
  const log = opts.log ?? { warn: (...a: unknown[]) => console.warn(...a) };
  const pollMs = opts.pollMs ?? 5;
  const sessionMs = opts.sessionMs ?? 6_000;
  // Three heartbeats per session: one late write (a busy file) does not make a member look dead.
  const heartbeatMs = Math.max(50, Math.min(3_000, Math.floor(sessionMs / 3)));
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const db: DatabaseSync = openDatabase(opts.file);
  const st = prepareStatements(db);
  // Partition counts never change once a topic exists, so they are cached forever.
  const partitionCounts = new Map<string, number>();
  const subscriptions = new Set<Subscription>();
  const tails = new Set<Tail>();
  let closed = false;
  const trim = opts.retention
    ? startTrim(db, st, { info: (o, msg) => log.info?.(o, msg), warn: (o, msg) => log.warn(o, msg) }, opts.retention)
    : undefined;

  const poller = createHeadsPoller({
    readHeads: (topicsJson) => st.heads.all(topicsJson) as unknown as HeadRow[],
    readVersion: () => (st.dataVersion.get() as { data_version: number }).data_version,
    pollMs,
    idlePollMs: Math.max(25, pollMs),
    idleAfterMs: 1000,
    onError: (err) => log.warn({ err }, 'embedded log: polling partition heads failed'),
  });

  function partitionsOf(topic: string): number {
    let n = partitionCounts.get(topic);
    if (n === undefined) {
      const row = st.topicPartitions.get(topic) as { partitions: number } | undefined;
      if (!row) throw UnknownTopic(`topic ${topic} does not exist in the embedded log ${opts.file}`);
      n = row.partitions;
      partitionCounts.set(topic, n);
    }
    return n;
  }

  function assertOpen(): void {
    if (closed) throw ShuttingDown('the embedded log is closed');
  }

  // SQLite errors (a lock held past busy_timeout, a full disk) become a coded, retryable error.
  function guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (isOrderflowError(err)) throw err;
      throw DependencyUnavailable(`embedded log: ${what} failed`, { cause: err });
    }
  }

  function publishNow(records: OutRecord[]): void {
    // Records grouped per partition, in the order given, so each group takes one head update.
    const groups = new Map<string, { topic: string; partition: number; records: OutRecord[] }>();
    for (const r of records) {
      const partitions = partitionsOf(r.topic);
      const partition = partitionOf(r, partitions);
      if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
        throw UnknownPartition(`topic ${r.topic} has no partition ${partition} (it has ${partitions})`);
      }
      const id = `${r.topic}\u0000${partition}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { topic: r.topic, partition, records: [] }));
      g.records.push(r);
    }
    const ts = Date.now();
    const heads = immediate(db, () =>
      [...groups.values()].map((g) => {
        const { next_offset: head } = st.advanceHead.get(g.records.length, g.topic, g.partition) as { next_offset: number };
        let offset = head - g.records.length;
        for (const r of g.records) st.insertRecord.run(g.topic, g.partition, offset++, r.key, r.value, JSON.stringify(r.headers), ts);
        return { ...g, head };
      }),
    );
    for (const h of heads) poller.advanced(h.topic, h.partition, h.head);
  }

  return {
    kind: 'embedded',

    async ensureTopics(topics: TopicSpec[]) {
      assertOpen();
      for (const t of topics) {
        if (!Number.isInteger(t.partitions) || t.partitions < 1) {
          throw ConfigError(`topic ${t.name} needs a whole number of partitions >= 1, got ${t.partitions}`);
        }
      }
      // OR IGNORE everywhere: several processes may create the same topics at startup.
      const counts = guard('ensureTopics', () =>
        immediate(db, () =>
          topics.map((t) => {
            st.insertTopic.run(t.name, t.partitions);
            if (t.compact) st.insertCompacted.run(t.name);
            const { partitions } = st.topicPartitions.get(t.name) as { partitions: number };
            for (let p = 0; p < partitions; p++) st.insertHead.run(t.name, p);
            return [t.name, partitions] as const;
          }),
        ),
      );
      // Cached only once committed: a rolled-back topic must not look like it exists.
      for (const [name, partitions] of counts) partitionCounts.set(name, partitions);
    },

    async publish(records: OutRecord[]) {
      assertOpen();
      if (records.length === 0) return;
      // Refused before anything is stored: the call stores all of its records or none.
      const big = oversized(records, maxRecordBytes);
      if (big.length > 0) {
        throw RecordTooLarge(`${big.length} of ${records.length} records exceed the embedded log's limit of ${maxRecordBytes} bytes (first: ${records[big[0]].topic}, key ${records[big[0]].key})`, {
          details: { records: big, maxRecordBytes },
        });
      }
      guard('publish', () => publishNow(records));
    },

    async subscribe(subOpts: SubscribeOptions) {
      assertOpen();
      const sub = subscribeGroup(
        { db, st, poller, log, partitionsOf, heartbeatMs, sessionMs, instance: opts.instance, commitIntervalMs: opts.commitIntervalMs ?? 50, commitEveryRecords: 2000, retryMinMs: 200, retryMaxMs: 2000 },
        subOpts,
      );
      subscriptions.add(sub);
      return {
        async close() {
          await sub.close();
          subscriptions.delete(sub);
        },
        joined: () => !closed && sub.joined(),
      };
    },

    async tail(topics: string[], onRecords: TailHandler) {
      assertOpen();
      const t = guard('tail', () => tailEmbedded({ st, poller, log }, topics, onRecords));
      return trackTail(tails, t);
    },

    async lag(groupId: string, topics: string[]) {
      assertOpen();
      for (const t of topics) partitionsOf(t);
      return (st.lag.get(groupId, JSON.stringify(topics)) as { lag: number }).lag;
    },

    async positions(topics: string[], groupId?: string) {
      assertOpen();
      for (const t of topics) partitionsOf(t);
      const rows = guard('positions', () => st.positions.all(groupId ?? null, JSON.stringify(topics))) as unknown as Array<{
        topic: string;
        partition: number;
        end_offset: number;
        start_offset: number;
        committed: number | null;
      }>;
      return rows.map((r): PartitionPosition => ({
        topic: r.topic,
        partition: r.partition,
        start: r.start_offset,
        end: r.end_offset,
        ...(r.committed === null ? {} : { committed: r.committed }),
      }));
    },

    async reachable() {
      assertOpen();
      guard('reading the log', () => st.dataVersion.get());
    },

    async read(topic: string, readOpts?: { limit?: number }) {
      assertOpen();
      partitionsOf(topic);
      const rows = st.readTopic.all(topic, readOpts?.limit ?? 1000) as unknown as Array<{
        partition: number;
        offset: number;
        key: string;
        value: string;
        headers: string;
      }>;
      return rows.map(
        (r): InRecord => ({
          topic,
          partition: r.partition,
          offset: String(r.offset),
          key: r.key,
          value: r.value,
          headers: JSON.parse(r.headers) as Record<string, string>,
        }),
      );
    },

    async readPartition(topic: string, partition: number, readOpts?: { from?: number; limit?: number }): Promise<PartitionPage> {
      assertOpen();
      const partitions = partitionsOf(topic);
      if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
        throw UnknownPartition(`topic ${topic} has no partition ${partition} (it has ${partitions})`);
      }
      const limit = readOpts?.limit ?? 10_000;
      // One read transaction: the end and the page are of the same moment.
      return guard('readPartition', () => {
        db.exec('BEGIN');
        try {
          const { next_offset: end } = st.head.get(topic, partition) as { next_offset: number };
          const rows = st.fetchBelow.all(topic, partition, readOpts?.from ?? 0, end, limit) as unknown as Array<{ offset: number; key: string; value: string; headers: string }>;
          const records = rows.map((r): InRecord => ({ topic, partition, offset: String(r.offset), key: r.key, value: r.value, headers: JSON.parse(r.headers) as Record<string, string> }));
          return { records, next: rows.length < limit ? end : rows[rows.length - 1].offset + 1, end };
        } finally {
          db.exec('COMMIT');
        }
      });
    },

    async trim() {
      assertOpen();
      if (!trim) return 0;
      try {
        return await trim.pass();
      } catch (err) {
        throw DependencyUnavailable('embedded log: trim failed', { cause: err });
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      await trim?.stop();
      await Promise.allSettled([...subscriptions, ...tails].map((s) => s.close()));
      poller.close();
      db.close();
    },
  };
}
