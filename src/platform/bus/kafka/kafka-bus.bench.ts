/**
 * Micro-benchmark of the Kafka bus: publishes N records in batches of 50 (from C concurrent
 * publishers, as several relays would) and consumes them end to end, then measures the
 * latency of lone records. RATE (records/s, 0 = as fast as possible) paces the publishers.
 * Run: KAFKA_BROKERS=127.0.0.1:9092 node src/platform/bus/kafka/kafka-bus.bench.ts [N] [C] [RATE]
 */
import { uniqueName } from '#test/infra.ts';
import type { InRecord } from '../bus.ts';
import { openKafkaBus } from './kafka-bus.ts';

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) {
  console.error('KAFKA_BROKERS not set: start Kafka and export KAFKA_BROKERS to run this benchmark');
  process.exit(1);
}
const N = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 4);
const RATE = Number(process.argv[4] ?? 0);
const BATCH = 50;
const PARTITIONS = 8;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${pct(s, 50).toFixed(1)} ms, p95 ${pct(s, 95).toFixed(1)} ms, p99 ${pct(s, 99).toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms`;
};

const bus = await openKafkaBus({ brokers, clientId: 'kafka-bench', namespace: uniqueName('bench') });
try {
  await bus.ensureTopics([{ name: 'bench', partitions: PARTITIONS }, { name: 'lone', partitions: PARTITIONS }]);
  const latencies: number[] = [];
  let received = 0;
  let batches = 0;
  const onBatch = async (batch: InRecord[]) => {
    const now = performance.now();
    batches++;
    for (const r of batch) latencies.push(now - Number(r.headers.sentAt));
    received += batch.length;
  };
  const sub = await bus.subscribe({ groupId: 'bench', topics: ['bench'], handle: onBatch });

  const start = performance.now();
  let next = 0;
  const publishLatencies: number[] = [];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const from = next;
        next += BATCH;
        if (RATE > 0) {
          const due = start + (from / RATE) * 1000 - performance.now();
          if (due > 0) await new Promise((r) => setTimeout(r, due));
        }
        const sentAt = String(performance.now());
        const records = Array.from({ length: Math.min(BATCH, N - from) }, (_, i) => ({
          topic: 'bench',
          key: `order-${(from + i) % 1000}`,
          value: JSON.stringify({ id: from + i, type: 'OrderPlaced', payload: { items: [{ productId: 'p-1', quantity: 2 }], totalCents: 1999 } }),
          headers: { sentAt, type: 'OrderPlaced' },
        }));
        const t0 = performance.now();
        await bus.publish(records);
        publishLatencies.push(performance.now() - t0);
      }
    }),
  );
  const published = performance.now();
  while (received < N) await new Promise((r) => setTimeout(r, 5));
  const consumed = performance.now();
  await sub.close();

  console.log(`records: ${N} in batches of ${BATCH}, ${CONCURRENCY} concurrent publishers, ${PARTITIONS} partitions, rate ${RATE || 'unpaced'}`);
  console.log(`publish: ${Math.round(N / ((published - start) / 1000))} records/s; publish call ${fmt(publishLatencies)}`);
  console.log(`end to end: ${Math.round(N / ((consumed - start) / 1000))} records/s; ${batches} handler batches (avg ${(N / batches).toFixed(1)} records)`);
  console.log(`publish-to-handle latency: ${fmt(latencies)}`);

  // Lone records on an idle system: what a single saga step waits for.
  const lone: number[] = [];
  let got = 0;
  const loneSub = await bus.subscribe({
    groupId: 'lone',
    topics: ['lone'],
    handle: async (batch) => {
      for (const r of batch) lone.push(performance.now() - Number(r.headers.sentAt));
      got += batch.length;
    },
  });
  await bus.publish([{ topic: 'lone', key: 'warmup', value: 'x', headers: { sentAt: String(performance.now()) } }]);
  while (got < 1) await new Promise((r) => setTimeout(r, 5));
  lone.length = 0;
  got = 0;
  for (let i = 0; i < 200; i++) {
    await bus.publish([{ topic: 'lone', key: `k${i}`, value: 'x', headers: { sentAt: String(performance.now()) } }]);
    await new Promise((r) => setTimeout(r, 10));
  }
  while (got < 200) await new Promise((r) => setTimeout(r, 5));
  await loneSub.close();
  console.log(`lone record (200, one every ~10 ms) publish-to-handle latency: ${fmt(lone)}`);
} finally {
  await bus.close();
}
