import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from './cli.ts';
import { alive } from '#test/support/process.ts';

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
  const gateway = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /orderflow is up: (\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    exited.then((code) => reject(new Error(`orderflow up exited with ${code} before it was up`)));
  });

  const health = await fetch(`${gateway}/health`);
  assert.equal(health.status, 200);
  const products = (await (await fetch(`${gateway}/api/products`)).json()) as Array<{ id: string }>;
  assert.ok(products.length > 0, 'the demo catalog is seeded');
  const placed = await fetch(`${gateway}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customerId: 'cli-test', items: [{ productId: products[0].id, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'FR' } }),
  });
  assert.equal(placed.status, placedStatus);
  const { id, status: answered } = (await placed.json()) as { id: string; status: string };
  if (arch === 'rest') assert.equal(answered, 'CONFIRMED', 'rest answers once the saga is done');
  let status = 'PENDING';
  for (let i = 0; i < 100 && status === 'PENDING'; i++) {
    status = ((await (await fetch(`${gateway}/api/orders/${id}`)).json()) as { status: string }).status;
    if (status === 'PENDING') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 'CONFIRMED');

  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(up.pid)], { encoding: 'utf8' }).split('\n').map(Number).filter(Boolean);
  assert.equal(children.length, 5, 'one process per service');
  up.kill('SIGINT');
  assert.equal(await exited, 0);
  assert.deepEqual(children.filter(alive), [], 'no service outlives orderflow up');
}
