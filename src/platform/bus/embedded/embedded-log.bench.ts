/**
 * Micro-benchmark of the embedded log:
 *   node src/platform/bus/embedded/embedded-log.bench.ts [records=50000] [partitions=8]
 * Publishes in batches of 50 (as the outbox relay does), then drains the backlog with a
 * consumer on a second connection (as another process would), then runs both at once, and
 * finally measures the latency of single records published at a slow pace (one saga hop).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus, InRecord, OutRecord } from '#platform/bus/bus.ts';
import { encode, newEnvelope } from '#platform/bus/envelope.ts';
import { openEmbeddedLog } from './embedded-log.ts';

const total = Number(process.argv[2] ?? 50_000);
const partitions = Number(process.argv[3] ?? 8);
const batchSize = 50;
const dir = mkdtempSync(join(tmpdir(), 'embedded-log-bench-'));
const file = join(dir, 'bus.sqlite');

function record(topic: string, i: number): OutRecord {
  const env = newEnvelope({
    type: 'OrderPlaced',
    key: `order-${i % 5000}`,
    payload: { customerId: 'c-1', items: [{ productId: 'p-1', quantity: 2, priceCents: 1999 }], totalCents: 3998 },
  });
  const r = encode(topic, env);
  r.headers.sentAt = String(performance.now());
  return r;
}

/** Records are built outside the timing; `yieldEach` lets a consumer in this process run between batches, as it would in its own process. */
async function publishAll(bus: Bus, topic: string, n: number, yieldEach = false): Promise<number> {
  const batches: OutRecord[][] = [];
  for (let i = 0; i < n; i += batchSize) batches.push(Array.from({ length: Math.min(batchSize, n - i) }, (_, j) => record(topic, i + j)));
  const start = performance.now();
  for (const batch of batches) {
    for (const r of batch) r.headers.sentAt = String(performance.now());
    await bus.publish(batch);
    if (yieldEach) await new Promise((r) => setImmediate(r));
  }
  return performance.now() - start;
}

/** Subscribes and resolves when `n` records were handled, with per-record latencies. */
async function consume(bus: Bus, topic: string, group: string, n: number) {
  const latencies: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const start = performance.now();
  const sub = await bus.subscribe({
    groupId: group,
    topics: [topic],
    async handle(batch: InRecord[]) {
      const now = performance.now();
      for (const r of batch) latencies.push(now - Number(r.headers.sentAt));
      if (latencies.length >= n) done();
    },
  });
  return { finished: finished.then(() => performance.now() - start), sub, latencies };
}

const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en')} records/s`;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))].toFixed(2);

const producer = openEmbeddedLog({ file });
const consumer = openEmbeddedLog({ file });
try {
  await producer.ensureTopics([
    { name: 'backlog', partitions },
    { name: 'live', partitions },
    { name: 'hops', partitions },
  ]);

  const publishMs = await publishAll(producer, 'backlog', total);
  console.log(`publish   ${total} records in batches of ${batchSize}: ${rate(total, publishMs)}`);

  const drain = await consume(consumer, 'backlog', 'drain', total);
  const drainMs = await drain.finished;
  await drain.sub.close();
  console.log(`drain     ${total} records from another connection: ${rate(total, drainMs)}`);

  const live = await consume(consumer, 'live', 'live', total);
  await publishAll(producer, 'live', total, true);
  const liveMs = await live.finished;
  await live.sub.close();
  console.log(
    `live      publish + consume on another connection: ${rate(total, liveMs)} end to end, ` +
      `latency p50 ${pct(live.latencies, 50)} ms p99 ${pct(live.latencies, 99)} ms`,
  );

  const hops = 300;
  const hop = await consume(consumer, 'hops', 'hops', hops);
  for (let i = 0; i < hops; i++) {
    await producer.publish([record('hops', i)]);
    await new Promise((r) => setTimeout(r, 3 + (i % 7)));
  }
  await hop.finished;
  await hop.sub.close();
  console.log(`hop       ${hops} single records at a slow pace, polled: latency p50 ${pct(hop.latencies, 50)} ms p99 ${pct(hop.latencies, 99)} ms`);
} finally {
  await producer.close();
  await consumer.close();
  rmSync(dir, { recursive: true, force: true });
}
