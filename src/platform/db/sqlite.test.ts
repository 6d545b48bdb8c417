import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { openSqlite, rewritePlaceholders } from './sqlite.ts';
import { isOrderflowError } from '../errors.ts';

const run = promisify(execFile);

function tempFile(t: TestContext, name = 'db.sqlite'): string {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-sqlite-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'a', 'b', name);
}

function open(t: TestContext, file = tempFile(t)) {
  const db = openSqlite({ file });
  t.after(() => db.close());
  return db;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets every pending promise callback and I/O callback run. */
const settle = () => new Promise((r) => setImmediate(r));

test('placeholders are rewritten to numbered SQLite ones, $10 included, outside quotes and comments', () => {
  assert.equal(rewritePlaceholders('SELECT $1, $10, $2'), 'SELECT ?1, ?10, ?2');
  assert.equal(rewritePlaceholders("SELECT '$1', \"a$1\", $1 -- $2\n, /* $3 */ $4"), "SELECT '$1', \"a$1\", ?1 -- $2\n, /* $3 */ ?4");
  assert.equal(rewritePlaceholders('SELECT price$1 FROM t'), 'SELECT price$1 FROM t');
  assert.equal(rewritePlaceholders('SELECT 1'), 'SELECT 1');
});

test('$10 binds the tenth parameter, not the first followed by a zero', async (t) => {
  const db = open(t);
  const rows = await db.query<{ one: number; ten: number; again: number }>('SELECT $10 AS ten, $1 AS one, $1 AS again', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual({ ...rows[0] }, { ten: 10, one: 1, again: 1 });
});

test('the database is opened in WAL mode with synchronous NORMAL, a busy timeout and foreign keys', async (t) => {
  const db = open(t);
  const pragma = async (name: string) => Object.values((await db.query(`PRAGMA ${name}`))[0] as object)[0];
  assert.equal(await pragma('journal_mode'), 'wal');
  assert.equal(await pragma('synchronous'), 1);
  assert.equal(await pragma('busy_timeout'), 5000);
  assert.equal(await pragma('foreign_keys'), 1);
});

test('a statement issued outside a transaction waits until the open transaction ends', async (t) => {
  const db = open(t);
  await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)');
  const gate = deferred();
  const tx = db.transaction(async (sql) => {
    await sql.execute('INSERT INTO t (id) VALUES (1)');
    await gate.promise;
    throw new Error('roll back');
  });
  await settle();
  let written = false;
  const outside = db.execute('INSERT INTO t (id) VALUES (2)').then((n) => ((written = true), n));
  await settle();
  assert.equal(written, false, 'the outside write waits for the transaction');
  gate.resolve();
  await assert.rejects(tx, /roll back/);
  assert.equal(await outside, 1);
  // Had the outside write joined the transaction, the rollback would have undone it.
  assert.deepEqual((await db.query<{ id: number }>('SELECT id FROM t')).map((r) => r.id), [2]);
});

test('transactions run one at a time in the order they were started', async (t) => {
  const db = open(t);
  const order: string[] = [];
  await Promise.all(
    ['a', 'b', 'c'].map((name) =>
      db.transaction(async () => {
        order.push(`${name}:begin`);
        await settle();
        order.push(`${name}:end`);
      }),
    ),
  );
  assert.deepEqual(order, ['a:begin', 'a:end', 'b:begin', 'b:end', 'c:begin', 'c:end']);
});

test('close waits for an open transaction to commit, then refuses new work', async (t) => {
  const file = tempFile(t);
  const db = openSqlite({ file });
  await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)');
  const gate = deferred();
  const tx = db.transaction(async (sql) => {
    await gate.promise;
    await sql.execute('INSERT INTO t (id) VALUES (1)');
  });
  await settle();
  const closing = db.close();
  gate.resolve();
  await Promise.all([tx, closing]);
  await assert.rejects(db.transaction(async () => undefined), (err) => isOrderflowError(err, 'PLT_ERR_DB_CLOSED'));
  const again = open(t, file);
  assert.equal((await again.query('SELECT id FROM t')).length, 1);
});

const node = process.execPath;
const sqliteModule = new URL('./sqlite.ts', import.meta.url).href;
const migrateModule = new URL('./migrate.ts', import.meta.url).href;

test('a committed transaction survives the process being killed with SIGKILL', async (t) => {
  const file = tempFile(t);
  const script = `
    import { openSqlite } from ${JSON.stringify(sqliteModule)};
    const db = openSqlite({ file: ${JSON.stringify(file)} });
    await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    await db.transaction((tx) => tx.execute('INSERT INTO t (id) VALUES (42)'));
    process.kill(process.pid, 'SIGKILL');`;
  await assert.rejects(run(node, ['--input-type=module', '-e', script]), (err: any) => err.signal === 'SIGKILL');
  const db = open(t, file);
  assert.deepEqual((await db.query<{ id: number }>('SELECT id FROM t')).map((r) => r.id), [42]);
});

test('two processes migrating one file at once apply each migration once', async (t) => {
  const file = tempFile(t);
  const script = `
    import { openSqlite } from ${JSON.stringify(sqliteModule)};
    import { migrate } from ${JSON.stringify(migrateModule)};
    const db = openSqlite({ file: ${JSON.stringify(file)} });
    await migrate(db, [
      { id: '001', sql: 'CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1)' },
      { id: '002', sql: 'INSERT INTO t VALUES (2)' },
    ]);
    await db.close();`;
  await Promise.all([1, 2, 3].map(() => run(node, ['--input-type=module', '-e', script])));
  const db = open(t, file);
  assert.deepEqual((await db.query<{ id: number }>('SELECT id FROM t ORDER BY id')).map((r) => r.id), [1, 2]);
});

test('an instance opening a file another process has locked waits for the lock instead of failing', async (t) => {
  const file = tempFile(t);
  open(t, file).close();
  // Another process takes the file for itself for a second: longer than this opener's
  // busy timeout, so only waiting for the lock to go can open it.
  const holder = `const { DatabaseSync } = require('node:sqlite');
    const c = new DatabaseSync(${JSON.stringify(file)});
    c.exec('PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT');
    process.stdout.write('held\\n');
    setTimeout(() => c.close(), 1000);`;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', holder], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const t0 = Date.now();
  assert.throws(() => openSqlite({ file, busyTimeoutMs: 50, openWithinMs: 0 }), (err: any) => err.errcode === 5, 'without waiting it fails: the lock is real');
  const db = openSqlite({ file, busyTimeoutMs: 50, openWithinMs: 10_000 });
  t.after(() => db.close());
  assert.ok(Date.now() - t0 >= 500, `opened only once the holder let go (${Date.now() - t0} ms)`);
  assert.equal((await db.query<{ one: number }>('SELECT 1 AS one'))[0].one, 1);
  await new Promise((r) => child.once('exit', r));
});
