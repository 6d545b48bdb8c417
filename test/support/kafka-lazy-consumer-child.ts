/**
 * A consumer process for kafka-commits.test.ts, to be killed with SIGKILL: it subscribes a
 * group with the lazy commit policy given in its arguments and prints one JSON line per
 * handled batch, after the handler ran (so a printed batch is one whose offset may be marked).
 * Args: brokers namespace topic groupId intervalMs everyRecords
 */
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';

const [brokers, namespace, topic, groupId, intervalMs, everyRecords] = process.argv.slice(2);
const bus = await openKafkaBus({
  brokers: brokers.split(','),
  clientId: 'lazy-consumer-child',
  namespace,
  // Warnings (a failed commit) go to stderr, which the test shows.
  log: { debug() {}, info() {}, warn: (o, m) => console.error(m, o), error: (o, m) => console.error(m, o) },
  commitPolicy: { intervalMs: Number(intervalMs), everyRecords: Number(everyRecords) },
});
await bus.subscribe({
  groupId,
  topics: [topic],
  handle: async (batch) => {
    process.stdout.write(`${JSON.stringify(batch.map((r) => ({ partition: r.partition, offset: r.offset, key: r.key, value: r.value })))}\n`);
  },
});
process.stdout.write('"subscribed"\n');
