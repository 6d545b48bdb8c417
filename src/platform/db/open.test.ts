import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openServiceDb, serviceDatabaseName } from './open.ts';
import { dropPostgresDatabase } from './postgres.ts';
import { isOrderflowError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';

test('the embedded store keeps each service in its own file under the data folder', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-open-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = await openServiceDb({ store: 'sqlite', dataDir, namespace: 'of' }, 'inventory');
  t.after(() => db.close());
  assert.equal(db.dialect, 'sqlite');
  assert.ok(existsSync(join(dataDir, 'inventory.sqlite')));
});

test('a service database name keeps only lower-case letters, digits and underscores', () => {
  assert.equal(serviceDatabaseName('Lab-Run.7', 'orders'), 'lab_run_7_orders');
  assert.throws(() => serviceDatabaseName('x'.repeat(60), 'orders'), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
});

test('choosing postgres without a database URL is a configuration error', async () => {
  await assert.rejects(
    openServiceDb({ store: 'postgres', dataDir: '.', namespace: 'of' }, 'orders'),
    (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'),
  );
});

test('the distributed store creates the service database on first open', { skip: postgresSkip() }, async (t) => {
  const url = process.env.DATABASE_URL as string;
  const namespace = uniqueName('of_open');
  const cfg = { store: 'postgres' as const, dataDir: '.', databaseUrl: url, namespace };
  // Two replicas starting together both find, or create, the one database.
  const [a, b] = await Promise.all([openServiceDb(cfg, 'payments', silentLogger), openServiceDb(cfg, 'payments', silentLogger)]);
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await dropPostgresDatabase(url, `${namespace}_payments`);
  });
  const [row] = await a.query<{ name: string }>('SELECT current_database() AS name');
  assert.equal(row.name, `${namespace}_payments`);
  assert.equal(b.dialect, 'postgres');
});
