/**
 * One hop of the outbox relay: from the commit of an outbox append to the record reaching a
 * Kafka consumer, 300 lone messages 20 ms apart, with the in-process relay or Debezium.
 * Run (PostgreSQL at wal_level=logical for debezium):
 *   KAFKA_BROKERS=… DATABASE_URL=… CONNECT_URL=… node src/platform/bus/relay-hop.bench.ts inprocess|debezium [poll ms]
 */
import { openPostgres, dropPostgresDatabase } from '../db/postgres.ts';
import { migrate } from '../db/migrate.ts';
import { appendToOutbox, outboxMigrations, publishOutboxFromWal } from './outbox.ts';
import { startOutboxRelay } from './outbox-relay.ts';
import { registerOutboxConnector, removeOutboxConnector } from './debezium.ts';
import { openKafkaBus } from './kafka/kafka-bus.ts';
import { decode, newEnvelope } from './envelope.ts';
const [mode, poll] = [process.argv[2] === 'debezium' ? 'debezium' : 'inprocess', process.argv[3] === undefined ? undefined : Number(process.argv[3])];
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ns = `hop_${Date.now().toString(36)}`;
const database = `${ns}_svc`;
const db = await openPostgres({ url, database });
await migrate(db, outboxMigrations);
const bus = await openKafkaBus({ brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), clientId: 'hop', namespace: ns });
await bus.ensureTopics([{ name: 'hop', partitions: 4 }]);
const target = { connectUrl: process.env.CONNECT_URL ?? 'http://127.0.0.1:18083', databaseUrl: url, database, namespace: ns, pollIntervalMs: poll };
let relay;
if (mode === 'debezium') { publishOutboxFromWal(true); await registerOutboxConnector(target); }
else relay = startOutboxRelay({ db, bus });
const committed = new Map<string, bigint>();
const lat: number[] = [];
const sub = await bus.subscribe({ groupId: 'hop', topics: ['hop'], handle: async (batch) => {
  const now = process.hrtime.bigint();
  for (const r of batch) { const c = committed.get(decode(r).id); if (c) lat.push(Number(now - c) / 1e6); }
} });
await new Promise((r) => setTimeout(r, 3000));
const N = 300;
for (let i = 0; i < N; i++) {
  const m = newEnvelope({ type: 'Hop', key: `k${i % 16}`, payload: { i } });
  await db.transaction((tx) => appendToOutbox(tx, [{ topic: 'hop', message: m }]));
  committed.set(m.id, process.hrtime.bigint());
  await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, 3000));
lat.sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
console.log(`${mode}${mode === 'debezium' ? ` poll ${poll} ms` : ''}: received ${lat.length}/${N}, commit->consumer p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} ms`);
await sub.close(); await relay?.close();
if (mode === 'debezium') await removeOutboxConnector(target);
await bus.close(); await db.close(); await dropPostgresDatabase(url, database);
