import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlatformConfig } from '#platform/config.ts';
import type { Bus } from '#platform/bus/bus.ts';
import { decode } from '#platform/bus/envelope.ts';
import { silentLogger } from '#platform/log.ts';
import { startStatelessHost } from '#platform/service/stateless-host.ts';
import { Topics } from '#contracts/index.ts';
import { registerRoutes } from './http.ts';

const product = '0190a0b0-0000-7000-8000-000000000001';

async function startIngestion(t: TestContext, wrapBus: (bus: Bus) => Bus = (b) => b) {
  const dir = mkdtempSync(join(tmpdir(), 'ingestion-test-'));
  const platform = loadPlatformConfig({ ORDERFLOW_DATA_DIR: dir, ORDERFLOW_PARTITIONS: '2' });
  const host = await startStatelessHost({ name: 'ingestion', platform, topics: [Topics.clientEvents], log: silentLogger, bodyLimit: 1024 * 1024 });
  registerRoutes(host.app, { bus: wrapBus(host.bus), clock: host.clock });
  const port = await host.listen(0);
  t.after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const post = async (body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { host, post };
}

const viewed = (sessionId: string) => ({ type: 'product.viewed', sessionId, productId: product, at: new Date().toISOString() });

test('POST /events appends the good events to the log, keyed by session, and answers 202 with the count and the rejected ones', async (t) => {
  const { host, post } = await startIngestion(t);
  const answer = await post({ customerId: 'c-1', events: [viewed('s-1'), { type: 'nope' }, viewed('s-2'), viewed('s-1')] });
  assert.equal(answer.status, 202);
  assert.equal(answer.body.accepted, 3);
  assert.deepEqual(answer.body.rejected.map((r: { index: number; error: { code: string } }) => [r.index, r.error.code]), [[1, 'ING_ERR_UNKNOWN_EVENT_TYPE']]);

  const stored = (await host.bus.read(Topics.clientEvents)).map(decode);
  assert.equal(stored.length, 3, 'the log holds exactly the accepted events');
  assert.deepEqual(stored.map((m) => m.key).sort(), ['s-1', 's-1', 's-2']);
  assert.ok(stored.every((m) => m.type === 'ProductViewed' && (m.payload as { customerId: string }).customerId === 'c-1'));
});

test('a batch that is not a list of 1 to 500 events is refused whole with 400, and nothing is stored', async (t) => {
  const { host, post } = await startIngestion(t);
  for (const body of [{}, { events: [] }, { events: 'x' }, { events: Array.from({ length: 501 }, () => viewed('s')) }, { events: [viewed('s')], extra: 1 }]) {
    const answer = await post(body);
    assert.equal(answer.status, 400, JSON.stringify(body).slice(0, 60));
    assert.equal(typeof answer.body.error.code, 'string');
  }
  assert.equal((await post({ events: Array.from({ length: 500 }, () => viewed('s')) })).body.accepted, 500, '500 is allowed');
  assert.equal((await host.bus.read(Topics.clientEvents, { limit: 1000 })).length, 500);
});

test('when the log cannot store the events the answer is 503 and no event is counted accepted', async (t) => {
  let failing = true;
  const { host, post } = await startIngestion(t, (bus) => ({
    ...bus,
    publish: (records) => (failing ? Promise.reject(new Error('broker away')) : bus.publish(records)),
  }));
  const refused = await post({ events: [viewed('s-1')] });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error.code, 'PLT_ERR_DEPENDENCY_UNAVAILABLE');
  failing = false;
  assert.equal((await post({ events: [viewed('s-1')] })).status, 202);
  assert.equal((await host.bus.read(Topics.clientEvents)).length, 1);
});

test('a batch of only bad events is answered 202 with nothing accepted and nothing published', async (t) => {
  const { host, post } = await startIngestion(t);
  const answer = await post({ events: [{ type: 'product.viewed' }] });
  assert.equal(answer.status, 202);
  assert.equal(answer.body.accepted, 0);
  assert.equal(answer.body.rejected.length, 1);
  assert.equal((await host.bus.read(Topics.clientEvents)).length, 0);
});
