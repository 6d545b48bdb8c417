/**
 * A service-like consumer process for kafka-crash-inbox.test.ts, to be killed with SIGKILL:
 * startConsumer (inbox + handler in one SQLite transaction) on the Kafka bus with lazy offset
 * commits, recording each handled message as an effect row. Prints "ready", then one line per
 * processed message id.
 * Args: brokers namespace topic groupId dbFile
 */
import { openSqlite } from '#platform/db/sqlite.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { startConsumer } from '#platform/bus/consumer.ts';

const [brokers, namespace, topic, groupId, dbFile] = process.argv.slice(2);
const db = openSqlite({ file: dbFile });
// Never committed by the timer: everything this process handled is redelivered after the kill.
const bus = await openKafkaBus({ brokers: brokers.split(','), clientId: 'inbox-child', namespace, commitPolicy: { intervalMs: 600_000, everyRecords: 1_000_000_000 } });
await startConsumer({
  db,
  bus,
  groupId,
  topics: [topic],
  validate: () => undefined,
  handlers: {
    Counted: async ({ tx, message }) => {
      await tx.execute('INSERT INTO effects (message_id, key, n) VALUES ($1, $2, $3)', [message.id, message.key, (message.payload as { n: number }).n]);
    },
  },
  onProcessed: (m) => process.stdout.write(`${m.id}\n`),
});
process.stdout.write('ready\n');
