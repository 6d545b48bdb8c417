/**
 * A consumer process killed after handling, before its lazily committed offsets went out,
 * for test/bus/lazy-commit-crash.test.ts. It consumes `topic` as group `crash` through the
 * consumer layer (inbox in its SQLite file, one effect row per message), with offset commits
 * far apart, prints "handled" once `count` messages are handled, and waits for kill -9.
 *
 *   argv: <embedded | kafka> <bus file | brokers> <namespace> <db file> <topic> <count>
 */
import type { Bus } from '#platform/bus/bus.ts';
import { startConsumer } from '#platform/bus/consumer.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { silentLogger } from '#platform/log.ts';
import { crashMigrations, recordEffect } from './consumer-crash-effects.ts';
import { migrate } from '#platform/db/migrate.ts';

const [kind, where, namespace, dbFile, topic, countArg] = process.argv.slice(2);
const FAR = 600_000;
const bus: Bus =
  kind === 'embedded'
    ? openEmbeddedLog({ file: where, log: silentLogger, commitIntervalMs: FAR })
    : await openKafkaBus({ brokers: where.split(','), clientId: 'crash-child', namespace, log: silentLogger, commitPolicy: { intervalMs: FAR, everyRecords: 1_000_000 } });
const db = openSqlite({ file: dbFile });
await migrate(db, crashMigrations);
let handled = 0;
await startConsumer({
  db, bus, groupId: 'crash', topics: [topic], validate: () => undefined, log: silentLogger,
  handlers: { Counted: recordEffect },
  onProcessed: () => {
    if (++handled === Number(countArg)) process.stdout.write('handled\n');
  },
});
setInterval(() => {}, 60_000);
