/**
 * A consumer process for kafka-static-membership.test.ts, to be killed with SIGKILL: it
 * subscribes a group as the instance named in its arguments (or as a dynamic member when
 * that is "-") and prints each record's value on a line of its own.
 * Args: brokers namespace topic groupId instance
 */
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';

const [brokers, namespace, topic, groupId, instance] = process.argv.slice(2);
const bus = await openKafkaBus({
  brokers: brokers.split(','),
  clientId: 'member-child',
  namespace,
  instance: instance === '-' ? undefined : instance,
  log: { debug() {}, info() {}, warn: (o, m) => console.error(m, o), error: (o, m) => console.error(m, o) },
});
await bus.subscribe({
  groupId,
  topics: [topic],
  handle: async (batch) => {
    process.stdout.write(batch.map((r) => `${r.value}\n`).join(''));
  },
});
