import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from './cli.ts';
import { encode } from '#platform/bus/envelope.ts';
import { message, OrderConfirmed, OrderPlaced, ProductViewed } from '#contracts/index.ts';
import { migrations as analyticsMigrations } from '#services/analytics/store.ts';
import { serviceNames } from '#runtime/system.ts';
import { alive } from '#test/support/process.ts';
import { readArchive } from '#platform/bus/archive.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { migrate } from '#platform/db/migrate.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { placeOrder } from '#services/orders/place-order.ts';
import { migrations as ordersMigrations, upsertProduct } from '#services/orders/store.ts';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));

test('a bad flag or an unknown command exits 2 with the usage', async () => {
  assert.equal(await main(['up', '--bogus']), 2);
  assert.equal(await main(['up', '--port', 'eighty']), 2);
  assert.equal(await main(['launch']), 2);
  assert.equal(await main(['dlq', 'purge', 'orders.events']), 2);
  assert.equal(await main(['up', '--arch', 'soap']), 2);
  assert.equal(await main(['lab', '--bogus']), 2);
  assert.equal(await main(['lab', '--arch', 'events,soap']), 2);
  assert.equal(await main(['lab', '--rates', 'fast']), 2);
  assert.equal(await main(['chaos', '--kills', 'many']), 2);
  assert.equal(await main(['chaos', '--kills', '-3']), 2);
  assert.equal(await main(['chaos', '--services', 'orders,billing']), 2);
  assert.equal(await main(['orders', 'stick']), 2);
  assert.equal(await main(['orders', 'stuck', '--deadline-ms', 'soon']), 2);
  assert.equal(await main(['orders', 'stuck', '--check']), 2);
  assert.equal(await main(['orders', 'rebuild-view', '--json']), 2);
  assert.equal(await main(['orders', 'rebuild-view', '--batch', '0']), 2);
});

test('orderflow orders stuck lists the orders pending past their deadline from the orders store', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-cli-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = openSqlite({ file: join(dataDir, 'orders.sqlite') });
  t.after(() => db.close());
  await migrate(db, [...outboxMigrations, ...ordersMigrations]);
  const productId = '0190a1b2-0000-7000-8000-00000000000a';
  await upsertProduct(db, { productId, sku: 'A-1', name: 'Apple', priceCents: 250 }, new Date().toISOString());
  // Placed a minute ago and never answered: past the default 30 s deadline.
  const { id } = await placeOrder(
    { db, ids: { newId: () => '0190a1b2-0000-7000-8000-0000000000c1' }, clock: { now: () => new Date(Date.now() - 60_000) } },
    { customerId: 'c-1', items: [{ productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } },
  );

  const run = (...args: string[]) => captured(t, ['orders', 'stuck', '--data-dir', dataDir, ...args]);
  const listed = await run('--json');
  assert.equal(listed.code, 0);
  const stuck = JSON.parse(listed.out) as Array<{ id: string; step: string; overdueMs: number }>;
  assert.deepEqual(stuck.map((o) => [o.id, o.step]), [[id, 'AWAITING_STOCK']]);
  assert.ok(stuck[0].overdueMs >= 29_000, String(stuck[0].overdueMs));
  assert.match((await run()).out, new RegExp(`${id}  AWAITING_STOCK  since `));
  assert.deepEqual(await run('--deadline-ms', '120000'), { code: 0, out: 'no order is pending past its deadline (120000 ms a step)\n' });

  const empty = mkdtempSync(join(tmpdir(), 'orderflow-cli-'));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  t.mock.method(process.stderr, 'write', () => true);
  assert.equal(await main(['orders', 'stuck', '--data-dir', empty]), 1, 'no orders database there');
  t.mock.restoreAll();
});

test('orderflow orders rebuild-view --check reports a corrupt row of orders_view (exit 1); the rebuild repairs it', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-cli-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = openSqlite({ file: join(dataDir, 'orders.sqlite') });
  t.after(() => db.close());
  await migrate(db, [...outboxMigrations, ...ordersMigrations]);
  const productId = '0190a1b2-0000-7000-8000-00000000000a';
  await upsertProduct(db, { productId, sku: 'A-1', name: 'Apple', priceCents: 250 }, new Date().toISOString());
  const ids = ['0190a1b2-0000-7000-8000-0000000000c1', '0190a1b2-0000-7000-8000-0000000000c2'];
  for (const id of ids) {
    await placeOrder(
      { db, ids: { newId: () => id }, clock: { now: () => new Date() } },
      { customerId: 'c-1', items: [{ productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } },
    );
  }
  const run = (...args: string[]) => captured(t, ['orders', 'rebuild-view', '--data-dir', dataDir, ...args]);
  assert.deepEqual(await run('--check'), { code: 0, out: 'orders_view matches the events of 2 orders\n' });
  await db.execute("UPDATE orders_view SET total_cents = 1 WHERE id = $1", [ids[1]]);
  assert.deepEqual(await run('--check', '--batch', '1'), {
    code: 1,
    out: `${ids[1]}  totalCents: 1 → 250\n1 row of orders_view differs from the events (2 orders); orderflow orders rebuild-view repairs them\n`,
  });
  assert.deepEqual(await run(), { code: 0, out: `${ids[1]}  totalCents: 1 → 250\norders_view rebuilt from the events of 2 orders: 1 row repaired\n` });
  assert.deepEqual(await run('--check'), { code: 0, out: 'orders_view matches the events of 2 orders\n' });
});

test('orderflow analytics rebuild derives the read model from the archive; --check finds a spoiled window (exit 1)', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-cli-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const archive = join(dataDir, 'archive');
  mkdirSync(archive);
  const at = Date.parse('2026-12-05T10:00:10.000Z');
  const orderId = '0190a1b2-0000-7000-8000-0000000000d1';
  const productId = '0190a1b2-0000-7000-8000-00000000000a';
  const line = (topic: string, m: { message: unknown }) => appendFileSync(join(archive, `${topic}.jsonl`), `${encode(topic, m.message as never).value}\n`);
  line('client.events', message(ProductViewed, { occurredAt: new Date(at).toISOString(), payload: { sessionId: 's-1', customerId: 'c-1', productId } }));
  line('orders.events', message(OrderPlaced, { occurredAt: new Date(at + 1_000).toISOString(), payload: { orderId, customerId: 'c-1', items: [{ productId, quantity: 1, unitPriceCents: 250 }], totalCents: 250, paymentMethod: 'card', shippingAddress: { country: 'DE' } } }));
  line('orders.events', message(OrderConfirmed, { occurredAt: new Date(at + 2_000).toISOString(), payload: { orderId } }));
  const db = openSqlite({ file: join(dataDir, 'analytics.sqlite') });
  t.after(() => db.close());
  await migrate(db, analyticsMigrations);
  const run = (...args: string[]) => captured(t, ['analytics', 'rebuild', '--data-dir', dataDir, ...args]);

  const first = await run();
  assert.equal(first.code, 0);
  assert.match(first.out, /rebuilt from the archive: \d+ windows, \d+ written/);
  assert.match((await run('--check')).out, /the read model matches the archive/);
  await db.execute("UPDATE analytics_windows SET value = '{}' WHERE name = 'sales-1m'");
  const spoiled = await run('--check');
  assert.equal(spoiled.code, 1);
  assert.match(spoiled.out, /^sales-1m 2026-12-05T10:00:00.000Z  live \{\}/m);
  assert.equal((await captured(t, ['analytics', 'rebuild', '--data-dir', join(dataDir, 'nowhere')])).code, 1);
});

test('orderflow lab --help describes its options without running anything', async (t) => {
  const out: string[] = [];
  t.mock.method(process.stdout, 'write', (chunk: string) => out.push(String(chunk)));
  assert.equal(await main(['lab', '--help']), 0);
  t.mock.restoreAll();
  assert.match(out.join(''), /usage: orderflow lab .*--arch events,choreography,rest/s);
  assert.match(out.join(''), /--quick/);
});

test('orderflow up serves the API, places an order, and stops every process on Ctrl-C', { timeout: 120_000 }, async (t) => {
  await upPlacesAnOrder(t, 'events', 202);
});

test('orderflow up --arch rest answers an order with its final status', { timeout: 120_000 }, async (t) => {
  await upPlacesAnOrder(t, 'rest', 201);
});

/** `orderflow <argv>` in this process, with its exit code and what it wrote to stdout. */
async function captured(t: TestContext, argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  t.mock.method(process.stdout, 'write', (chunk: string) => out.push(String(chunk)));
  try {
    return { code: await main(argv), out: out.join('') };
  } finally {
    t.mock.restoreAll();
  }
}

async function upPlacesAnOrder(t: TestContext, arch: string, placedStatus: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-cli-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const up = spawn(process.execPath, [cli, 'up', '--arch', arch, '--data-dir', dataDir, '--port', '0', '--service-ports', '0'], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => up.kill('SIGKILL'));
  up.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: up.stdout! });
  // The banner: the gateway's address, then the demo accounts a user logs in with.
  const banner = await new Promise<string[]>((resolve, reject) => {
    const seen: string[] = [];
    lines.on('line', (line) => {
      seen.push(line);
      if (/^Ctrl-C stops/.test(line)) resolve(seen);
    });
    exited.then((code) => reject(new Error(`orderflow up exited with ${code} before it was up`)));
  });
  const gateway = /orderflow is up: (\S+)/.exec(banner.join('\n'))![1];
  const [, email, password] = /demo customer\s+(\S+)\s+password (\S+)/.exec(banner.join('\n'))!;
  // Where the notifications' e-mail goes (the SMTP server of SMTP_URL), or that it is off.
  assert.match(banner.join('\n'), process.env.SMTP_URL ? /^e-mail: sent over smtp:\/\//m : /^e-mail: off, SMTP_URL is not set/m);

  const health = await fetch(`${gateway}/health`);
  assert.equal(health.status, 200);
  const products = (await (await fetch(`${gateway}/api/products`)).json()) as Array<{ id: string }>;
  assert.ok(products.length > 0, 'the demo catalog is seeded');
  const login = await fetch(`${gateway}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  assert.equal(login.status, 200, 'the printed demo customer logs in');
  const auth = { authorization: `Bearer ${((await login.json()) as { accessToken: string }).accessToken}` };
  const placed = await fetch(`${gateway}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ items: [{ productId: products[0].id, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'FR' } }),
  });
  assert.equal(placed.status, placedStatus);
  const { id, status: answered } = (await placed.json()) as { id: string; status: string };
  if (arch === 'rest') assert.equal(answered, 'CONFIRMED', 'rest answers once the saga is done');
  let status = 'PENDING';
  for (let i = 0; i < 100 && status === 'PENDING'; i++) {
    status = ((await (await fetch(`${gateway}/api/orders/${id}`, { headers: auth })).json()) as { status: string }).status;
    if (status === 'PENDING') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 'CONFIRMED');
  // The event archive is on by default: the order's events land in <data-dir>/archive.
  const archived = async () => {
    const types: string[] = [];
    for await (const e of readArchive(join(dataDir, 'archive'), 'orders.events')) if (e.key === id) types.push(e.type);
    return types;
  };
  for (let i = 0; i < 100 && !(await archived()).includes('OrderConfirmed'); i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual((await archived()).filter((type) => type === 'OrderPlaced' || type === 'OrderConfirmed'), ['OrderPlaced', 'OrderConfirmed']);

  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(up.pid)], { encoding: 'utf8' }).split('\n').map(Number).filter(Boolean);
  assert.equal(children.length, serviceNames.length, 'one process per service');
  up.kill('SIGINT');
  assert.equal(await exited, 0);
  assert.deepEqual(children.filter(alive), [], 'no service outlives orderflow up');
}

test('orderflow users create-admin makes an admin, then promotes rather than duplicates; users new-key prints a private P-256 JWK', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-cli-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const run = (...args: string[]) => execFileSync(process.execPath, [cli, 'users', ...args], { encoding: 'utf8', env: { ...process.env, ORDERFLOW_STORE: 'sqlite', USERS_ARGON2_MEMORY_KIB: '8192', USERS_ARGON2_PASSES: '1' } });
  assert.match(run('create-admin', '--email', 'Root@Example.org', '--data-dir', dataDir), /^admin root@example\.org created \(id [0-9a-f-]{36}\); password \S{20}\n$/);
  assert.match(run('create-admin', '--email', 'root@example.org', '--data-dir', dataDir), /exists: now an admin/);
  const jwk = JSON.parse(run('new-key')) as Record<string, string>;
  assert.deepEqual([jwk.kty, jwk.crv, typeof jwk.d], ['EC', 'P-256', 'string']);
});
