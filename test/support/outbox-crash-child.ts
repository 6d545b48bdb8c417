/**
 * A service process that dies with outbox rows committed but not fully relayed, for the
 * relay's crash tests (src/platform/bus/outbox-relay.test.ts). It commits the messages the
 * parent asks for, with a relay that hangs at the point given, prints "committed", and waits
 * for the parent's kill -9.
 *
 *   argv: <sqlite file | postgres url> <postgres database | -> <embedded log file | kafka|brokers|namespace>
 *         <topic> <before-publish | after-publish> <keys> <messages per key>
 *
 * before-publish: the relay's publish never completes (a crash between commit and publish).
 * after-publish:  publish completes, the DELETE of the published rows never does (a crash
 *                 after the publish and before the rows are marked published); "committed"
 *                 is printed once the DELETE is reached, so the publish has completed.
 */
import type { Bus } from '#platform/bus/bus.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { newEnvelope, type Envelope } from '#platform/bus/envelope.ts';
import { appendToOutbox, outboxMigrations } from '#platform/bus/outbox.ts';
import { startOutboxRelay } from '#platform/bus/outbox-relay.ts';
import type { Db } from '#platform/db/db.ts';
import { migrate } from '#platform/db/migrate.ts';
import { openPostgres } from '#platform/db/postgres.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { silentLogger } from '#platform/log.ts';

const [where, database, busFile, topic, mode, keysArg, perKeyArg] = process.argv.slice(2);
const never = new Promise<never>(() => {});


const real: Db = database === '-' ? openSqlite({ file: where }) : await openPostgres({ url: where, database });
await migrate(real, outboxMigrations);
const [kind, brokers, namespace] = busFile.split('|');
const log: Bus = kind === 'kafka' ? await openKafkaBus({ brokers: brokers.split(','), clientId: 'outbox-crash-child', namespace, log: silentLogger }) : openEmbeddedLog({ file: busFile, log: silentLogger });

let deleteReached!: () => void;
const reached = new Promise<void>((resolve) => (deleteReached = resolve));
const hangOnDelete = () => {
  deleteReached();
  return never;
};
const db: Db = mode === 'after-publish' ? { ...real, execute: (sql, params) => (sql.startsWith('DELETE FROM outbox') ? hangOnDelete() : real.execute(sql, params)) } : real;
const bus: Bus = mode === 'before-publish' ? { ...log, publish: () => never } : log;
startOutboxRelay({ db, bus, log: silentLogger, idlePollMs: 60_000 });

const messages: Array<{ topic: string; message: Envelope }> = [];
for (let n = 0; n < Number(perKeyArg); n++) {
  for (let k = 0; k < Number(keysArg); k++) messages.push({ topic, message: newEnvelope({ type: 'TestHappened', key: `k${k}`, payload: { n } }) });
}
if (mode === 'before-publish') {
  // One transaction per message, keys interleaved: rows queue behind the publish that hangs.
  for (const m of messages) await real.transaction((tx) => appendToOutbox(tx, [m]));
} else {
  // One transaction: the fast path publishes all of them, then hangs on their DELETE.
  await real.transaction((tx) => appendToOutbox(tx, messages));
}
// Let the fast path reach the point where it hangs.
if (mode === 'after-publish') await reached;
else await new Promise((resolve) => setTimeout(resolve, 200));
process.stdout.write('committed\n');
// Alive until killed.
setInterval(() => {}, 60_000);
