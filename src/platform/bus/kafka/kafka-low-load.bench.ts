/**
 * What the Kafka bus costs the broker when little happens: requests per second per API with
 * GROUPS subscriptions idle, then with one record every 1000/RATE ms spread over the keys,
 * each record handled by every group; plus the publish-to-handle latency at that rate (the
 * settings must not add latency) and how long closing a subscription takes.
 * Run: KAFKA_BROKERS=127.0.0.1:9092 node src/platform/bus/kafka/kafka-low-load.bench.ts [SECONDS=10] [RATE=20] [GROUPS=3] [MIN_BYTES] [MAX_WAIT_MS]
 * (the last two override the fetch settings, to measure the latency/requests trade-off).
 */
import { uniqueName } from '#test/infra.ts';
import { openKafkaBus } from './kafka-bus.ts';
import { watchKafkaRequests } from './kafka-requests.ts';

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) {
  console.error('KAFKA_BROKERS not set: start Kafka and export KAFKA_BROKERS to run this benchmark');
  process.exit(1);
}
const SECONDS = Number(process.argv[2] ?? 10);
const RATE = Number(process.argv[3] ?? 20);
const GROUPS = Number(process.argv[4] ?? 3);
const fetch = {
  ...(process.argv[5] ? { minBytes: Number(process.argv[5]) } : {}),
  ...(process.argv[6] ? { maxWaitTime: Number(process.argv[6]) } : {}),
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

const bus = await openKafkaBus({ brokers, clientId: 'kafka-low-load', namespace: uniqueName('lowload'), fetch });
const requests = watchKafkaRequests();
const rates = (ms: number) =>
  Object.entries(requests.counts())
    .sort((a, b) => b[1] - a[1])
    .map(([api, n]) => `${api} ${(n / (ms / 1000)).toFixed(1)}/s`)
    .join(', ');

try {
  await bus.ensureTopics([{ name: 'events', partitions: 8 }]);
  const latencies: number[] = [];
  let handled = 0;
  const subs = await Promise.all(
    Array.from({ length: GROUPS }, (_, g) =>
      bus.subscribe({
        groupId: `g${g}`,
        topics: ['events'],
        handle: async (batch) => {
          const now = performance.now();
          for (const r of batch) latencies.push(now - Number(r.headers.sentAt));
          handled += batch.length;
        },
      }),
    ),
  );
  // Let the joins, offset fetches and the first polls settle.
  await bus.publish([{ topic: 'events', key: 'warmup', value: 'x', headers: { sentAt: String(performance.now()) } }]);
  while (handled < GROUPS) await sleep(10);
  await sleep(2_000);

  requests.reset();
  let t0 = performance.now();
  if (Object.keys(fetch).length > 0) console.log(`fetch settings ${JSON.stringify(fetch)}`);
  await sleep(SECONDS * 1000);
  console.log(`${GROUPS} groups idle for ${SECONDS} s: ${rates(performance.now() - t0)}`);

  latencies.length = 0;
  handled = 0;
  requests.reset();
  t0 = performance.now();
  const total = SECONDS * RATE;
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE - performance.now();
    if (due > 0) await sleep(due);
    await bus.publish([{ topic: 'events', key: `order-${i}`, value: JSON.stringify({ i }), headers: { sentAt: String(performance.now()) } }]);
  }
  while (handled < total * GROUPS) await sleep(5);
  const ms = performance.now() - t0;
  console.log(`${RATE} records/s for ${SECONDS} s, each handled by ${GROUPS} groups: ${rates(ms)}`);
  console.log(`  publish-to-handle latency: p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms`);

  const c0 = performance.now();
  await Promise.all(subs.map((s) => s.close()));
  console.log(`closing ${GROUPS} subscriptions: ${(performance.now() - c0).toFixed(0)} ms`);
} finally {
  requests.stop();
  await bus.close();
}
