/**
 * The Bus port on Apache Kafka (@platformatic/kafka). See bus.ts for the semantics kept here.
 *
 * Choices worth knowing:
 * - the partition of every record is computed by `partitionFor` and sent explicitly: the
 *   library's default partitioner is murmur2 >>> 0 (not Kafka's murmur2 & 0x7fffffff), so
 *   relying on it would send some keys elsewhere than the Java client and the embedded log;
 * - the producer is idempotent with acks=all, which allows one request in flight per
 *   connection; concurrent `publish` calls are therefore coalesced into one send (no linger:
 *   an idle producer sends at once, a busy one batches whatever queued behind the request);
 * - an optional namespace prefixes every topic and group on the broker (`<ns>.<name>`), so
 *   test runs and deployments can share a cluster; callers only ever see unprefixed names.
 */
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes, Producer, stringSerializers } from '@platformatic/kafka';
import type { Bus, InRecord, OutRecord, PartitionPage, PartitionPosition, SubscribeOptions, Subscription, Tail, TailHandler, TopicSpec } from '../bus.ts';
import { DEFAULT_MAX_RECORD_BYTES, oversized, partitionOf, trackTail } from '../bus.ts';
import { silentLogger } from '../../log.ts';
import { RecordTooLarge, UnknownPartition } from '../../errors.ts';
import { coalesce } from './coalesce.ts';
import { replicationFor, type Replication } from './kafka-replication.ts';
import {
  KafkaAdminFailed,
  KafkaClosed,
  KafkaPublishFailed,
  KafkaTopicsNotReady,
  KafkaUnknownTopic,
  hasKafkaErrorId,
  isTooLarge,
  isUnknownTopic,
  sleep,
  withTimeout,
} from './kafka-errors.ts';
import { readPartition, readTopic } from './kafka-read.ts';
import { subscribeKafka } from './kafka-subscription.ts';
import { tailKafka } from './kafka-tail.ts';
import type { FetchSettings, KafkaContext, KafkaLogger } from './kafka-context.ts';
import type { CommitPolicy } from './lazy-commits.ts';
import { kafkaConnection } from './kafka-connection.ts';
import type { KafkaSecurity } from '../../config.ts';

export interface KafkaBusOptions {
  brokers: string[];
  /** TLS and SASL of every client (kafka-connection.ts); plaintext when absent. */
  security?: KafkaSecurity;
  clientId: string;
  /**
   * This process's stable instance name (ORDERFLOW_INSTANCE): its consumers join their groups
   * as static members (group.instance.id), so a restarted instance takes its partitions back
   * without a rebalance, instead of the group waiting out the dead member's session.
   */
  instance?: string;
  /** Prefix of every topic and group id on the broker (`<ns>.<name>`); invisible to callers. */
  namespace?: string;
  /**
   * Replication factor of the topics ensureTopics creates, unless a TopicSpec says otherwise;
   * by default min(3, the brokers the cluster has up), with min.insync.replicas=2 at 3 or more
   * (kafka-replication.ts).
   */
  replicationFactor?: number;
  log?: KafkaLogger;
  /** Kafka's linger.ms: how long a publish waits for others to share its produce request; default 0. */
  lingerMs?: number;
  /** When subscriptions commit offsets: every `intervalMs` (200) or `everyRecords` (1,000) handled records. */
  commitPolicy?: Partial<CommitPolicy>;
  /**
   * Fetch settings of subscriptions. The defaults favour latency (minBytes 1); a larger
   * minBytes with a short maxWaitTime trades that much latency for fewer fetches at low load.
   */
  fetch?: FetchSettings;
  /**
   * The producer's own size check (Kafka's max.request.size): a record over it is refused with
   * PLT_ERR_RECORD_TOO_LARGE without a request; default 1 MiB. A topic's max.message.bytes
   * below it is the broker's to enforce (MESSAGE_TOO_LARGE, the same coded error).
   */
  maxRecordBytes?: number;
}

// A tombstone's value is undefined: the serializer sends it as Kafka's null value.
type ProducedMessage = { topic: string; key: string; value: string | undefined; headers: Record<string, string>; partition: number };

const PARTITION_COUNT_TTL_MS = 30_000;
const TOPICS_READY_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 10_000;
const REACHABLE_TIMEOUT_MS = 2_000;

/** Opens a Bus on a Kafka cluster. Connections are made lazily by the first operation. */
export async function openKafkaBus(opts: KafkaBusOptions): Promise<Bus> {
  const log = opts.log ?? silentLogger;
  const prefix = opts.namespace ? `${opts.namespace}.` : '';
  const ctx: KafkaContext = {
    brokers: opts.brokers,
    connection: kafkaConnection(opts.security),
    instance: opts.instance,
    clientId: opts.clientId,
    log,
    commitPolicy: opts.commitPolicy,
    fetch: opts.fetch,
    full: (name) => prefix + name,
    short: (name) => (prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name),
  };
  const admin = new Admin({ ...ctx.connection, clientId: `${opts.clientId}-admin`, bootstrapBrokers: opts.brokers, retries: 3, retryDelay: 200 });
  const producer = new Producer({
    ...ctx.connection,
    clientId: `${opts.clientId}-producer`,
    bootstrapBrokers: opts.brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: -1,
    // Bounded: the idempotent default retries forever, which would hang publish (and the
    // outbox relay behind it) while the cluster is down instead of failing it for a retry.
    retries: 10,
    retryDelay: 250,
    timeout: 10_000,
    autocreateTopics: false,
  });
  const subscriptions = new Set<Subscription>();
  const tails = new Set<Tail>();
  const partitionCounts = new Map<string, { count: number; at: number }>();
  let closed = false;
  let liveBrokers: number | undefined;

  // Asked once, when the first topic is created: how many brokers the cluster has up.
  async function replicationOf(spec: TopicSpec): Promise<Replication> {
    const set = spec.replicationFactor ?? opts.replicationFactor;
    if (set === undefined && liveBrokers === undefined) {
      try {
        liveBrokers = (await admin.metadata({ topics: [] })).brokers.size;
      } catch (cause) {
        throw KafkaAdminFailed('cannot count the brokers of the cluster', { cause });
      }
    }
    return replicationFor(liveBrokers ?? 0, set);
  }

  const checkOpen = () => {
    if (closed) throw KafkaClosed('the Kafka bus is closed');
  };

  async function partitionCountsOf(topics: string[]): Promise<Map<string, number>> {
    const now = Date.now();
    const stale = topics.filter((t) => (partitionCounts.get(t)?.at ?? 0) < now - PARTITION_COUNT_TTL_MS);
    if (stale.length > 0) {
      try {
        const md = await producer.metadata({ topics: stale });
        for (const t of stale) {
          const count = md.topics.get(t)?.partitionsCount;
          if (count) partitionCounts.set(t, { count, at: now });
        }
      } catch (cause) {
        if (isUnknownTopic(cause)) {
          throw KafkaUnknownTopic(`unknown topic among ${stale.map(ctx.short).join(', ')}: create it with ensureTopics`, { cause });
        }
        throw KafkaPublishFailed('cannot read topic metadata', { cause });
      }
    }
    const out = new Map<string, number>();
    for (const t of topics) {
      const entry = partitionCounts.get(t);
      if (!entry) throw KafkaUnknownTopic(`unknown topic ${ctx.short(t)}: create it with ensureTopics`);
      out.set(t, entry.count);
    }
    return out;
  }

  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;

  const send = coalesce<ProducedMessage[]>(async (batches) => {
    try {
      await producer.send({ messages: batches.length === 1 ? batches[0] : batches.flat() });
    } catch (err) {
      if (batches.length === 1 || !isTooLarge(err)) throw err;
      // One caller's record too large must not fail the others it shared the request with:
      // each batch again on its own, each caller its own verdict. (Rare: the cost is a resend.)
      const verdicts: unknown[] = [];
      for (const batch of batches) {
        try {
          await producer.send({ messages: batch });
          verdicts.push(undefined);
        } catch (own) {
          verdicts.push(own);
        }
      }
      return verdicts;
    }
  }, 200, opts.lingerMs ?? 0);

  async function ensureTopics(topics: TopicSpec[]): Promise<void> {
    checkOpen();
    if (topics.length === 0) return;
    let existing: Set<string>;
    try {
      existing = new Set(await admin.listTopics());
    } catch (cause) {
      throw KafkaAdminFailed('cannot list topics', { cause });
    }
    // A retention asked for holds on a topic that exists too: dead-letter topics created
    // before it was set kept the broker's default (7 days), which deletes dead letters.
    const retained = topics.filter((t) => t.retentionMs !== undefined && existing.has(ctx.full(t.name)));
    if (retained.length > 0) {
      try {
        await admin.incrementalAlterConfigs({
          resources: retained.map((t) => ({
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: ctx.full(t.name),
            configs: [{ name: 'retention.ms', configOperation: IncrementalAlterConfigOperationTypes.SET, value: String(t.retentionMs) }],
          })),
        });
      } catch (err) {
        // A principal without AlterConfigs on them: the topics keep what they have, the
        // service still starts (an operator sets retention.ms, as the warning says).
        log.warn({ err, topics: retained.map((t) => t.name), retentionMs: retained[0].retentionMs }, 'cannot set retention.ms on existing topics; they keep their own');
      }
    }
    for (const spec of topics) {
      const name = ctx.full(spec.name);
      if (existing.has(name)) continue;
      const configs: Array<{ name: string; value: string }> = [];
      if (spec.retentionMs !== undefined) configs.push({ name: 'retention.ms', value: String(spec.retentionMs) });
      if (spec.maxRecordBytes !== undefined) configs.push({ name: 'max.message.bytes', value: String(spec.maxRecordBytes) });
      if (spec.compact) configs.push({ name: 'cleanup.policy', value: 'compact' });
      const replication = await replicationOf(spec);
      // Said on the topic, not left to the broker's default (1 on most clusters): acks=all then waits for two copies.
      if (replication.minInsync > 1) configs.push({ name: 'min.insync.replicas', value: String(replication.minInsync) });
      try {
        await admin.createTopics({
          topics: [name],
          partitions: spec.partitions,
          replicas: replication.factor,
          ...(configs.length > 0 ? { configs } : {}),
        });
        log.info({ topic: name, partitions: spec.partitions, replicationFactor: replication.factor, configs }, 'kafka topic created');
      } catch (cause) {
        // Another process may have created it between our listing and our request.
        if (!hasKafkaErrorId(cause, 'TOPIC_ALREADY_EXISTS')) throw KafkaAdminFailed(`cannot create topic ${name}`, { cause });
      }
    }
    await waitForLeaders(topics.map((t) => ctx.full(t.name)));
  }

  // A topic that was just created has no leader for a moment; producing or joining a group on
  // it then fails, so ensureTopics resolves only once every partition has one.
  async function waitForLeaders(names: string[]): Promise<void> {
    const deadline = Date.now() + TOPICS_READY_TIMEOUT_MS;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        const md = await admin.metadata({ topics: names, forceUpdate: true });
        const ready = names.every((n) => {
          const t = md.topics.get(n);
          return t !== undefined && t.partitionsCount > 0 && t.partitions.every((p) => p && p.leader >= 0);
        });
        if (ready) return;
      } catch (err) {
        lastError = err;
      }
      await sleep(100);
    }
    throw KafkaTopicsNotReady(`topics ${names.join(', ')} have no leaders after ${TOPICS_READY_TIMEOUT_MS} ms`, { cause: lastError });
  }

  // ListOffsets (latest and earliest) to the leaders and, for a group, one OffsetFetch:
  // a few requests whatever the number of partitions.
  async function positions(topics: string[], groupId?: string): Promise<PartitionPosition[]> {
    checkOpen();
    if (topics.length === 0) return [];
    const names = topics.map(ctx.full);
    try {
      const md = await admin.metadata({ topics: names });
      const partitionsOf = (name: string) => Array.from({ length: md.topics.get(name)!.partitionsCount }, (_, i) => i);
      const request = (timestamp: bigint) =>
        names.map((name) => ({ name, partitions: partitionsOf(name).map((partitionIndex) => ({ partitionIndex, timestamp })) }));
      const [latest, earliest, groups] = await Promise.all([
        admin.listOffsets({ topics: request(-1n) }),
        admin.listOffsets({ topics: request(-2n) }),
        groupId === undefined
          ? []
          : admin.listConsumerGroupOffsets({ groups: [{ groupId: ctx.full(groupId), topics: names.map((name) => ({ name, partitionIndexes: partitionsOf(name) })) }] }),
      ]);
      const committed = new Map<string, bigint>();
      for (const t of groups[0]?.topics ?? []) for (const p of t.partitions) committed.set(`${t.name}:${p.partitionIndex}`, p.committedOffset);
      const start = new Map<string, bigint>();
      for (const t of earliest) for (const p of t.partitions) start.set(`${t.name}:${p.partitionIndex}`, p.offset);
      const out: PartitionPosition[] = [];
      for (const t of latest) {
        for (const p of t.partitions) {
          const key = `${t.name}:${p.partitionIndex}`;
          const c = committed.get(key) ?? -1n;
          out.push({
            topic: ctx.short(t.name),
            partition: p.partitionIndex,
            start: Number(start.get(key) ?? 0n),
            end: Number(p.offset),
            ...(c >= 0n ? { committed: Number(c) } : {}),
          });
        }
      }
      return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    } catch (cause) {
      if (isUnknownTopic(cause)) throw KafkaUnknownTopic(`unknown topic among ${topics.join(', ')}`, { cause });
      throw KafkaAdminFailed(`cannot read the offsets of ${topics.join(', ')}${groupId === undefined ? '' : ` for group ${groupId}`}`, { cause });
    }
  }

  async function lag(groupId: string, topics: string[]): Promise<number> {
    let total = 0;
    // No commit yet: a new group starts at the earliest record still in the log.
    for (const p of await positions(topics, groupId)) total += Math.max(0, p.end - (p.committed ?? p.start));
    return total;
  }

  // The admin client's connections say so when the broker is there; only when they do not
  // (never connected, closed by the broker when idle, or the broker went away) does this
  // cost a request: one Metadata, bounded in time.
  async function reachable(): Promise<void> {
    checkOpen();
    if (admin.isConnected()) return;
    try {
      await withTimeout(admin.metadata({ topics: [], forceUpdate: true }), REACHABLE_TIMEOUT_MS, 'asking the Kafka cluster for metadata');
    } catch (cause) {
      throw KafkaAdminFailed(`the Kafka cluster (${opts.brokers.join(', ')}) does not answer`, { cause });
    }
  }

  return {
    kind: 'kafka',
    ensureTopics,
    async publish(records: OutRecord[]): Promise<void> {
      checkOpen();
      if (records.length === 0) return;
      const big = oversized(records, maxRecordBytes);
      if (big.length > 0) {
        throw RecordTooLarge(`${big.length} of ${records.length} records exceed the producer's limit of ${maxRecordBytes} bytes (first: ${records[big[0]].topic}, key ${records[big[0]].key})`, {
          details: { records: big, maxRecordBytes },
        });
      }
      const counts = await partitionCountsOf([...new Set(records.map((r) => ctx.full(r.topic)))]);
      const messages = records.map((r): ProducedMessage => {
        const topic = ctx.full(r.topic);
        const partitions = counts.get(topic)!;
        const partition = partitionOf(r, partitions);
        if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
          throw UnknownPartition(`topic ${r.topic} has no partition ${partition} (it has ${partitions})`);
        }
        return { topic, key: r.key, value: r.tombstone ? undefined : r.value, headers: r.headers, partition };
      });
      try {
        await send(messages);
      } catch (cause) {
        // The broker says which partition's batch, not which record: the caller narrows it down.
        if (isTooLarge(cause)) throw RecordTooLarge(`the broker refused a batch of ${records.length} records as too large`, { cause });
        throw KafkaPublishFailed(`publishing ${records.length} records failed`, { cause });
      }
    },
    async subscribe(sub: SubscribeOptions): Promise<Subscription> {
      checkOpen();
      const s = await subscribeKafka(ctx, sub);
      const tracked: Subscription = {
        async close() {
          subscriptions.delete(tracked);
          await s.close();
        },
        joined: () => s.joined(),
      };
      subscriptions.add(tracked);
      return tracked;
    },
    async tail(topics: string[], onRecords: TailHandler): Promise<Tail> {
      checkOpen();
      const t = await tailKafka(ctx, admin, topics, onRecords);
      return trackTail(tails, t);
    },
    lag,
    positions,
    reachable,
    async read(topic: string, readOpts?: { limit?: number }): Promise<InRecord[]> {
      checkOpen();
      return readTopic(ctx, admin, topic, readOpts?.limit ?? 1000);
    },
    async readPartition(topic: string, partition: number, readOpts?: { from?: number; limit?: number }): Promise<PartitionPage> {
      checkOpen();
      return readPartition(ctx, admin, topic, partition, readOpts?.from ?? 0, readOpts?.limit ?? 10_000);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...subscriptions, ...tails].map((s) => s.close()));
      for (const [what, client] of [['producer', producer], ['admin', admin]] as const) {
        try {
          await withTimeout(client.close(), CLOSE_TIMEOUT_MS, `closing the Kafka ${what}`);
        } catch (err) {
          log.warn({ err }, `closing the Kafka ${what} failed`);
        }
      }
    },
  };
}
