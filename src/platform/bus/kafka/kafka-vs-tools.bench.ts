/**
 * The Kafka bus adapter side by side with Kafka's own tools, in one run, on the same broker
 * and topic settings (8 partitions, 300-byte values, acks=all, idempotent producer):
 * ProducerPerformance and ConsumerPerformance (kafka-tools, fetched from Maven Central into
 * the infra folder), then the adapter's produce, consume and end-to-end throughput, and the
 * ratios adapter/tool. Also counts the adapter's Kafka requests per API in each phase.
 *
 * Run (under the shared bench lock on a shared box):
 *   KAFKA_BROKERS=127.0.0.1:9092 ORDERFLOW_INFRA_DIR=/work/infra \
 *     node src/platform/bus/kafka/kafka-vs-tools.bench.ts [N=200000] [PUBLISH_BATCH=500] [PUBLISHERS=4]
 */
import { spawn } from 'node:child_process';
import { Admin } from '@platformatic/kafka';
import { join } from 'node:path';
import { uniqueName } from '#test/infra.ts';
import { loadInfraConfig } from '#runtime/infra/config.ts';
import { fetchKafkaTools } from '#runtime/infra/kafka.ts';
import type { Bus, OutRecord } from '../bus.ts';
import { openKafkaBus } from './kafka-bus.ts';
import { watchKafkaRequests } from './kafka-requests.ts';

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) {
  console.error('KAFKA_BROKERS not set: start Kafka and export KAFKA_BROKERS to run this benchmark');
  process.exit(1);
}
const N = Number(process.argv[2] ?? 200_000);
const PUBLISH_BATCH = Number(process.argv[3] ?? 500);
const PUBLISHERS = Number(process.argv[4] ?? 4);
const PARTITIONS = 8;
const RECORD_SIZE = 300;

const namespace = uniqueName('vs_tools');
const bus = await openKafkaBus({ brokers, clientId: 'kafka-vs-tools', namespace });
const requests = watchKafkaRequests();

function java(toolsDir: string, main: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-Xms512m', '-Xmx1g', '-cp', join(toolsDir, '*'), main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${main} exited ${code}:\n${out}\n${err}`))));
  });
}

async function producerPerformance(toolsDir: string, topic: string): Promise<number> {
  const out = await java(toolsDir, 'org.apache.kafka.tools.ProducerPerformance', [
    '--topic', topic, '--num-records', String(N), '--record-size', String(RECORD_SIZE), '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${brokers.join(',')}`, 'acks=all', 'enable.idempotence=true',
  ]);
  // The summary is the last line: "<n> records sent, <rate> records/sec (<MB> MB/sec), …".
  const last = out.trim().split('\n').pop() ?? '';
  const m = /records sent, ([\d.]+) records\/sec/.exec(last);
  if (!m) throw new Error(`cannot read ProducerPerformance's output:\n${out}`);
  console.log(`  ProducerPerformance: ${last.trim()}`);
  return Number(m[1]);
}

/** nMsg.sec counts the group join too; fetch.nMsg.sec only the fetching: both are returned. */
async function consumerPerformance(toolsDir: string, topic: string): Promise<{ total: number; fetch: number }> {
  const out = await java(toolsDir, 'org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server', brokers.join(','), '--topic', topic, '--messages', String(N), '--group', `${topic}.tool-group`, '--timeout', '60000',
  ]);
  const lines = out.trim().split('\n').filter((l) => l.includes(','));
  const header = lines.find((l) => l.includes('nMsg.sec'));
  const values = lines[lines.length - 1];
  if (!header || !values || values === header) throw new Error(`cannot read ConsumerPerformance's output:\n${out}`);
  const cols = header.split(',').map((s) => s.trim());
  const vals = values.split(',').map((s) => s.trim());
  const at = (name: string) => Number(vals[cols.indexOf(name)]);
  console.log(`  ConsumerPerformance: ${cols.map((c, i) => `${c}=${vals[i]}`).join(' ')}`);
  return { total: at('nMsg.sec'), fetch: at('fetch.nMsg.sec') };
}

const value = 'x'.repeat(RECORD_SIZE);
const record = (topic: string, i: number): OutRecord => ({ topic, key: `k-${i % 10_000}`, value, headers: {} });

async function publishAll(b: Bus, topic: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      while (next < N) {
        const from = next;
        next += PUBLISH_BATCH;
        const records: OutRecord[] = [];
        for (let i = from; i < Math.min(from + PUBLISH_BATCH, N); i++) records.push(record(topic, i));
        await b.publish(records);
      }
    }),
  );
}

/** Resolves when `n` records were handled; `first` is when the first batch arrived. */
async function consumeAll(b: Bus, topic: string, groupId: string, n: number) {
  let received = 0;
  let first = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const sub = await b.subscribe({
    groupId,
    topics: [topic],
    handle: async (batch) => {
      if (first === 0) first = performance.now();
      received += batch.length;
      if (received >= n) done();
    },
  });
  return { sub, all, first: () => first };
}

const perSecond = (count: number, ms: number) => Math.round(count / (ms / 1000));
const requestRates = (ms: number) =>
  Object.entries(requests.counts())
    .sort((a, b) => b[1] - a[1])
    .map(([api, n]) => `${api} ${n} (${perSecond(n, ms)}/s)`)
    .join(', ');

try {
  await bus.ensureTopics([
    { name: 'tool', partitions: PARTITIONS },
    { name: 'produce', partitions: PARTITIONS },
    { name: 'e2e', partitions: PARTITIONS },
  ]);
  const toolsDir = await fetchKafkaTools(loadInfraConfig().dir);
  console.log(`${N} records of ${RECORD_SIZE} bytes, ${PARTITIONS} partitions, acks=all, idempotent; adapter publishes batches of ${PUBLISH_BATCH} from ${PUBLISHERS} concurrent publishers`);

  console.log('Kafka tools:');
  const toolProduce = await producerPerformance(toolsDir, `${namespace}.tool`);
  const toolConsume = await consumerPerformance(toolsDir, `${namespace}.tool`);

  console.log('adapter:');
  requests.reset();
  let t0 = performance.now();
  await publishAll(bus, 'produce');
  let ms = performance.now() - t0;
  const adapterProduce = perSecond(N, ms);
  console.log(`  produce: ${adapterProduce} records/s; requests ${requestRates(ms)}`);

  requests.reset();
  t0 = performance.now();
  const c = await consumeAll(bus, 'produce', 'consume', N);
  await c.all;
  const end = performance.now();
  ms = end - t0;
  const adapterConsume = perSecond(N, end - c.first());
  const adapterConsumeTotal = perSecond(N, ms);
  await c.sub.close();
  console.log(`  consume: ${adapterConsume} records/s from the first batch (${adapterConsumeTotal} with the group join); requests ${requestRates(ms)}`);

  requests.reset();
  t0 = performance.now();
  const e = await consumeAll(bus, 'e2e', 'e2e', N);
  await publishAll(bus, 'e2e');
  await e.all;
  ms = performance.now() - t0;
  const adapterE2e = perSecond(N, ms);
  await e.sub.close();
  console.log(`  end to end (publish and consume at once, group join included): ${adapterE2e} records/s; requests ${requestRates(ms)}`);

  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  console.log('\n| | records/s | adapter/tool |\n|---|---:|---:|');
  console.log(`| ProducerPerformance | ${Math.round(toolProduce)} | |`);
  console.log(`| adapter produce | ${adapterProduce} | ${ratio(adapterProduce, toolProduce)} |`);
  console.log(`| ConsumerPerformance (fetch.nMsg.sec; nMsg.sec ${Math.round(toolConsume.total)}) | ${Math.round(toolConsume.fetch)} | |`);
  console.log(`| adapter consume (from first batch; ${adapterConsumeTotal} with join) | ${adapterConsume} | ${ratio(adapterConsume, toolConsume.fetch)} (vs nMsg.sec ${ratio(adapterConsumeTotal, toolConsume.total)}) |`);
  console.log(`| adapter end to end | ${adapterE2e} | ${ratio(adapterE2e, toolProduce)} of ProducerPerformance |`);
} finally {
  requests.stop();
  await bus.close();
  // ~3 × N × 300 bytes: not worth keeping on a shared broker.
  const admin = new Admin({ clientId: 'kafka-vs-tools-cleanup', bootstrapBrokers: brokers });
  await admin.deleteTopics({ topics: ['tool', 'produce', 'e2e'].map((t) => `${namespace}.${t}`) }).catch(() => {});
  await admin.close();
}
