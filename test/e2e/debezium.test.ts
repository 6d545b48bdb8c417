/**
 * The whole system with the Debezium relay (ORDERFLOW_RELAY=debezium): the saga settles
 * with every invariant, and stopping the system leaves no replication slot behind.
 * Needs Kafka, Kafka Connect (CONNECT_URL) and a PostgreSQL at wal_level=logical.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { createClient } from '#lab/client.ts';
import { dropPostgresDatabase } from '#platform/db/postgres.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { databaseServices, freePortsForAll, startSystem, unlimitedGateway, type System } from '#runtime/system.ts';
import { connectSkip, kafkaSkip, logicalWalSkip, postgresSkip, uniqueName } from '../infra.ts';
import { settledInvariants } from '#lab/invariants.ts';
import { createCatalog, expectation, placeBurst, waitAllTerminal } from '#lab/scenario.ts';

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end().catch(() => {});
  }
}

const databaseUrl = process.env.DATABASE_URL ?? '';
const walLevel = databaseUrl ? (await query<{ wal_level: string }>(databaseUrl, 'SHOW wal_level').catch(() => []))[0]?.wal_level : undefined;
const skip = kafkaSkip() ?? postgresSkip() ?? connectSkip() ?? logicalWalSkip(walLevel);

describe('the system with the Debezium outbox relay', { skip, timeout: 300_000 }, () => {
  test('orders settle with every invariant, and stopping the system drops every replication slot', async (t) => {
    const namespace = uniqueName('dbz').toLowerCase();
    const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-dbz-'));
    const databases = databaseServices.map((s) => serviceDatabaseName(namespace, s));
    let system: System | undefined;
    const client = { current: undefined as ReturnType<typeof createClient> | undefined };
    t.after(async () => {
      await client.current?.close();
      await system?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      for (const d of databases) await dropPostgresDatabase(databaseUrl, d);
    });
    system = await startSystem({
      dataDir,
      ports: freePortsForAll,
      stdio: 'pipe',
      env: {
        ORDERFLOW_ARCH: 'events', ORDERFLOW_BUS: 'kafka', ORDERFLOW_STORE: 'postgres', ORDERFLOW_RELAY: 'debezium',
        KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '', DATABASE_URL: databaseUrl, CONNECT_URL: process.env.CONNECT_URL ?? '',
        ORDERFLOW_NAMESPACE: namespace, ORDERFLOW_PARTITIONS: '4', LOG_LEVEL: 'warn',
        // The gateway's rate limits off, as for every end-to-end run (deployments.ts).
        ...unlimitedGateway,
      },
    });
    const slots = () => query<{ slot_name: string }>(databaseUrl, 'SELECT slot_name FROM pg_replication_slots WHERE slot_name = ANY($1)', [databases]);
    assert.equal((await slots()).length, databases.length, 'a slot per service database while the system runs');

    client.current = createClient(system.gatewayUrl, 32, system.demoUsers);
    const initialStock = await createCatalog(client.current, 3, 60);
    const { placed } = await placeBurst(client.current, [...initialStock.keys()], { count: 60, concurrency: 12, declineRatio: 0.15, unservedRatio: 0.1, seed: 11 });
    const views = await waitAllTerminal(client.current, placed, 90_000);
    assert.ok(views.some((v) => v.status === 'CONFIRMED'), 'some orders confirmed');
    assert.deepEqual(await settledInvariants(client.current, expectation(initialStock, placed)), []);
    // The outbox tables stay empty: each append deletes its rows in its own transaction.
    for (const d of databases) {
      const url = new URL(databaseUrl);
      url.pathname = `/${d}`;
      assert.deepEqual(await query(url.toString(), 'SELECT id FROM outbox'), [], `outbox of ${d}`);
    }

    await system.stop();
    assert.deepEqual(await slots(), [], 'no slot left to retain WAL');
  });
});
