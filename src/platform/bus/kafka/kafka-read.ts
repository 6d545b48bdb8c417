/**
 * Reads a topic from its beginning (for listing dead letters), or one partition from an
 * offset (for restoring a processor's state), without a consumer group: plain Fetch requests
 * to the partition's leader, up to the end offset taken when the read began, so it neither
 * joins a group nor commits anything.
 */
import { Admin, Consumer } from '@platformatic/kafka';
import type { InRecord, PartitionPage } from '../bus.ts';
import { UnknownPartition } from '../../errors.ts';
import type { KafkaContext } from './kafka-context.ts';
import { isOrderflowError } from '../../errors.ts';
import { KafkaReadFailed, KafkaUnknownTopic, isUnknownTopic, withTimeout } from './kafka-errors.ts';

const READ_TIMEOUT_MS = 15_000;
// A page is at most `limit` records of one partition: more than a dead-letter listing.
const PARTITION_READ_TIMEOUT_MS = 60_000;
const IS_CONTROL_BATCH = 1 << 5;

export async function readTopic(ctx: KafkaContext, admin: Admin, topic: string, limit: number): Promise<InRecord[]> {
  if (limit <= 0) return [];
  return withReader(ctx, topic, READ_TIMEOUT_MS, (consumer) => readAll(ctx, admin, consumer, ctx.full(topic), limit));
}

/** One page of one partition from `from` (see Bus.readPartition). */
export async function readPartition(ctx: KafkaContext, admin: Admin, topic: string, partition: number, from: number, limit: number): Promise<PartitionPage> {
  const name = ctx.full(topic);
  return withReader(ctx, topic, PARTITION_READ_TIMEOUT_MS, async (consumer) => {
    const md = await admin.metadata({ topics: [name] });
    const meta = md.topics.get(name);
    if (!meta) throw KafkaUnknownTopic(`unknown topic ${topic}`);
    if (!Number.isInteger(partition) || partition < 0 || partition >= meta.partitionsCount) {
      throw UnknownPartition(`topic ${topic} has no partition ${partition} (it has ${meta.partitionsCount})`);
    }
    const request = (timestamp: bigint) => [{ name, partitions: [{ partitionIndex: partition, timestamp }] }];
    // Reading from before the log start would fetch nothing (OFFSET_OUT_OF_RANGE).
    const [starts, ends] = await Promise.all([admin.listOffsets({ topics: request(-2n) }), admin.listOffsets({ topics: request(-1n) })]);
    const start = starts[0]?.partitions[0]?.offset ?? 0n;
    const end = ends[0]?.partitions[0]?.offset ?? 0n;
    const records: InRecord[] = [];
    const next = await fetchRange(consumer, topic, meta, partition, BigInt(from) > start ? BigInt(from) : start, end, limit, (record) => void records.push(record));
    return { records, next: Number(next), end: Number(end) };
  });
}

async function withReader<T>(ctx: KafkaContext, topic: string, timeoutMs: number, read: (consumer: Consumer) => Promise<T>): Promise<T> {
  const consumer = new Consumer({
    ...ctx.connection,
    clientId: `${ctx.clientId}-reader`,
    bootstrapBrokers: ctx.brokers,
    groupId: `${ctx.clientId}-reader-unused`,
    retries: 2,
    retryDelay: 200,
  });
  try {
    return await withTimeout(read(consumer), timeoutMs, `reading topic ${topic}`);
  } catch (cause) {
    if (isOrderflowError(cause) && cause.code !== 'PLT_ERR_KAFKA_TIMEOUT') throw cause;
    if (isUnknownTopic(cause)) throw KafkaUnknownTopic(`unknown topic ${topic}`, { cause });
    throw KafkaReadFailed(`cannot read topic ${topic}`, { cause });
  } finally {
    await withTimeout(consumer.close(true), 5_000, 'closing the reader').catch(() => {});
  }
}

async function readAll(ctx: KafkaContext, admin: Admin, consumer: Consumer, name: string, limit: number): Promise<InRecord[]> {
  const md = await admin.metadata({ topics: [name] });
  const meta = md.topics.get(name);
  if (!meta) throw KafkaUnknownTopic(`unknown topic ${ctx.short(name)}`);
  const partitions = Array.from({ length: meta.partitionsCount }, (_, i) => i);
  const request = (timestamp: bigint) => [{ name, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }];
  const [starts, ends] = await Promise.all([admin.listOffsets({ topics: request(-2n) }), admin.listOffsets({ topics: request(-1n) })]);
  const offsetOf = (listed: typeof starts, p: number) => listed[0]?.partitions.find((x) => x.partitionIndex === p)?.offset ?? 0n;

  const out: { record: InRecord; timestamp: bigint }[] = [];
  // One partition at a time: the client keeps one incremental fetch session per broker, and
  // concurrent requests on it would race on the session epoch.
  for (const partition of partitions) {
    const taken = out.length;
    await fetchRange(consumer, ctx.short(name), meta, partition, offsetOf(starts, partition), offsetOf(ends, partition), limit, (record, timestamp) => void out.push({ record, timestamp }));
    if (out.length - taken > limit) out.length = taken + limit;
  }
  out.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.record.partition - b.record.partition || Number(BigInt(a.record.offset) - BigInt(b.record.offset))));
  return out.slice(0, limit).map((o) => o.record);
}

type TopicMeta = { id: string; partitions: Array<{ leader: number }> };

/**
 * Fetches `partition` from `from` towards `end`, handing out at most `limit` records; returns
 * the offset after the last batch read (`end` when it got there). Offsets may have gaps
 * (compaction, transaction markers), which is why it follows the batches, not a count.
 */
async function fetchRange(
  consumer: Consumer,
  topic: string,
  meta: TopicMeta,
  partition: number,
  from: bigint,
  end: bigint,
  limit: number,
  onRecord: (record: InRecord, timestamp: bigint) => void,
): Promise<bigint> {
  let offset = from;
  let taken = 0;
  while (offset < end && taken < limit) {
    const response = await consumer.fetch({
      node: meta.partitions[partition].leader,
      topics: [{ topicId: meta.id, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      maxWaitTime: 100,
      minBytes: 1,
      maxBytes: 4 * 1024 * 1024,
    });
    const batches = response.responses[0]?.partitions.find((p) => p.partitionIndex === partition)?.records ?? [];
    const before = offset;
    for (const batch of batches) {
      const batchEnd = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
      let cut = false;
      if (!(batch.attributes & IS_CONTROL_BATCH)) {
        for (const r of batch.records) {
          const at = batch.firstOffset + BigInt(r.offsetDelta);
          if (at < offset || at >= end) continue;
          if (taken >= limit) {
            // The page ends inside this batch: the next one starts at this record.
            offset = at;
            cut = true;
            break;
          }
          const headers: Record<string, string> = {};
          for (const [k, v] of r.headers) if (k) headers[k.toString()] = v?.toString() ?? '';
          onRecord({ topic, partition, offset: at.toString(), key: r.key?.toString() ?? '', value: r.value?.toString() ?? '', headers }, batch.firstTimestamp + r.timestampDelta);
          taken++;
        }
      }
      if (cut) return offset;
      if (batchEnd > offset) offset = batchEnd;
    }
    if (offset === before) break; // nothing came back: the log ends earlier than it said
  }
  return offset < end ? offset : end;
}
