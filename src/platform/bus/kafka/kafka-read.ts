/**
 * Reads a topic from its beginning without a consumer group (for listing dead letters):
 * plain Fetch requests to each partition's leader, from the log start to the end offset
 * taken when the read began, so it neither joins a group nor commits anything.
 */
import { Admin, Consumer } from '@platformatic/kafka';
import type { InRecord } from '../bus.ts';
import type { KafkaContext } from './kafka-context.ts';
import { isOrderflowError } from '../../errors.ts';
import { KafkaReadFailed, KafkaUnknownTopic, isUnknownTopic, withTimeout } from './kafka-errors.ts';

const READ_TIMEOUT_MS = 15_000;
const IS_CONTROL_BATCH = 1 << 5;

export async function readTopic(ctx: KafkaContext, admin: Admin, topic: string, limit: number): Promise<InRecord[]> {
  if (limit <= 0) return [];
  const name = ctx.full(topic);
  const consumer = new Consumer({
    ...ctx.connection,
    clientId: `${ctx.clientId}-reader`,
    bootstrapBrokers: ctx.brokers,
    groupId: `${ctx.clientId}-reader-unused`,
    retries: 2,
    retryDelay: 200,
  });
  try {
    return await withTimeout(readAll(ctx, admin, consumer, name, limit), READ_TIMEOUT_MS, `reading topic ${topic}`);
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
    let offset = offsetOf(starts, partition);
    const end = offsetOf(ends, partition);
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
        if (!(batch.attributes & IS_CONTROL_BATCH)) {
          for (const r of batch.records) {
            const at = batch.firstOffset + BigInt(r.offsetDelta);
            if (at < offset || at >= end || taken >= limit) continue;
            const headers: Record<string, string> = {};
            for (const [k, v] of r.headers) if (k) headers[k.toString()] = v?.toString() ?? '';
            out.push({
              record: { topic: ctx.short(name), partition, offset: at.toString(), key: r.key?.toString() ?? '', value: r.value?.toString() ?? '', headers },
              timestamp: batch.firstTimestamp + r.timestampDelta,
            });
            taken++;
          }
        }
        if (batchEnd > offset) offset = batchEnd;
      }
      if (offset === before) break; // nothing came back: the log ends earlier than it said
    }
  }
  out.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.record.partition - b.record.partition || Number(BigInt(a.record.offset) - BigInt(b.record.offset))));
  return out.slice(0, limit).map((o) => o.record);
}
