import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { encode, newEnvelope, type Envelope } from '../bus/envelope.ts';
import { loadPlatformConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { startServiceHost } from './host.ts';

const TOPIC = 'faults-test';
const LATENCY = 300;

/** A real host (SQLite + embedded log in a temp dir) with one route and one consumer, listening on port 0. */
async function startHost(t: TestContext, faults: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-faults-'));
  const platform = loadPlatformConfig({ ORDERFLOW_DATA_DIR: dir, ORDERFLOW_PARTITIONS: '1', ...(faults ? { ORDERFLOW_FAULTS: '1' } : {}) });
  const host = await startServiceHost({ name: 'slowpoke', platform, migrations: [], topics: [TOPIC], validate: () => undefined, log: silentLogger });
  t.after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });
  host.app.get('/things/:id', async (req) => ({ id: (req.params as { id: string }).id }));
  const handled = new Map<string, number>();
  await host.consume({
    groupId: 'slowpoke',
    topics: [TOPIC],
    handlers: { 'test.Ping': async () => {} },
    onProcessed: (m: Envelope) => handled.set(m.id, performance.now()),
  });
  const url = `http://127.0.0.1:${await host.listen(0)}`;

  /** Publishes one message and resolves with the ms until it was handled. */
  async function roundTrip(): Promise<number> {
    const message = newEnvelope({ type: 'test.Ping', key: 'k', payload: {} });
    const sent = performance.now();
    await host.bus.publish([encode(TOPIC, message)]);
    while (!handled.has(message.id)) await new Promise((r) => setTimeout(r, 5));
    return handled.get(message.id)! - sent;
  }
  return { host, url, roundTrip };
}

async function timed(url: string, init?: RequestInit): Promise<{ status: number; body: unknown; ms: number }> {
  const start = performance.now();
  const res = await fetch(url, init);
  const body = await res.json();
  return { status: res.status, body, ms: performance.now() - start };
}

const putLatency = (url: string, body: unknown) =>
  timed(`${url}/_faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('a latency set on PUT /_faults delays requests and consumed batches until it is set back to 0', async (t) => {
  const { url, roundTrip } = await startHost(t, true);
  assert.deepEqual((await timed(`${url}/_faults`)).body, { latencyMs: 0, failTypes: [] });
  assert.ok((await timed(`${url}/things/1`)).ms < LATENCY);

  const set = await putLatency(url, { latencyMs: LATENCY });
  assert.equal(set.status, 200);
  assert.deepEqual(set.body, { latencyMs: LATENCY, failTypes: [] });
  assert.deepEqual((await timed(`${url}/_faults`)).body, { latencyMs: LATENCY, failTypes: [] });

  const slow = await timed(`${url}/things/2`);
  assert.equal(slow.status, 200);
  assert.deepEqual(slow.body, { id: '2' });
  assert.ok(slow.ms >= LATENCY - 5, `a request took ${slow.ms} ms under a ${LATENCY} ms latency`);
  assert.ok((await roundTrip()) >= LATENCY - 5, 'a consumed batch waits the latency');

  const health = await timed(`${url}/health`);
  assert.equal(health.status, 200);
  assert.ok(health.ms < LATENCY, `/health took ${health.ms} ms: it must never be slowed`);
  const scrapeStart = performance.now();
  await (await fetch(`${url}/metrics`)).text();
  assert.ok(performance.now() - scrapeStart < LATENCY, '/metrics must never be slowed');

  assert.equal((await putLatency(url, { latencyMs: 0 })).status, 200);
  assert.ok((await timed(`${url}/things/3`)).ms < LATENCY);
  assert.ok((await roundTrip()) < LATENCY);
});

test('PUT /_faults refuses a latency that is not an integer from 0 to 60000, or a bad list of types, with a coded 400', async (t) => {
  const { url } = await startHost(t, true);
  for (const body of [{ latencyMs: -1 }, { latencyMs: 60_001 }, { latencyMs: 1.5 }, { latencyMs: '100' }, {}, { latencyMs: 10, extra: true }, { failTypes: 'test.Ping' }, { failTypes: [''] }, { failTypes: ['a', 'a'] }]) {
    const res = await putLatency(url, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal((res.body as { error: { code: string } }).error.code, 'PLT_ERR_VALIDATION', JSON.stringify(body));
  }
  assert.deepEqual((await timed(`${url}/_faults`)).body, { latencyMs: 0, failTypes: [] });
});

test('a type in failTypes fails its handler on every attempt: the message is dead-lettered, and handled again once the fault is off', async (t) => {
  const { host, url, roundTrip } = await startHost(t, true);
  const set = await putLatency(url, { failTypes: ['test.Ping'] });
  assert.deepEqual(set.body, { latencyMs: 0, failTypes: ['test.Ping'] });
  const message = newEnvelope({ type: 'test.Ping', key: 'k', payload: {} });
  await host.bus.publish([encode(TOPIC, message)]);
  const { listDeadLetters } = await import('../bus/dead-letters.ts');
  let letters: Awaited<ReturnType<typeof listDeadLetters>> = [];
  for (const until = Date.now() + 20_000; letters.length === 0 && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 50));
    letters = await listDeadLetters(host.bus, TOPIC);
  }
  assert.deepEqual(letters.map((l) => [l.id, l.error.code]), [[message.id, 'PLT_ERR_INJECTED_FAILURE']]);
  assert.ok(letters[0].attempts > 1, 'retried before it was dead-lettered');

  assert.deepEqual((await putLatency(url, { failTypes: [] })).body, { latencyMs: 0, failTypes: [] });
  assert.ok((await roundTrip()) >= 0, 'handled again once the fault is off');
});

test('without fault injection there is no /_faults route', async (t) => {
  const { url, roundTrip } = await startHost(t, false);
  const get = await timed(`${url}/_faults`);
  assert.equal(get.status, 404);
  assert.equal((get.body as { error: { code: string } }).error.code, 'PLT_ERR_ROUTE_NOT_FOUND');
  assert.equal((await putLatency(url, { latencyMs: LATENCY })).status, 404);
  assert.ok((await timed(`${url}/things/1`)).ms < LATENCY);
  assert.ok((await roundTrip()) < LATENCY);
});

test('a host counts its consumed messages and times its batches on /metrics, per group', async (t) => {
  const { url, roundTrip } = await startHost(t, false);
  for (let i = 0; i < 3; i++) await roundTrip();
  const text = await (await fetch(`${url}/metrics`)).text();
  assert.match(text, /^orderflow_messages_handled_total\{group="slowpoke",service="slowpoke"\} 3$/m);
  assert.match(text, /^orderflow_message_batch_duration_seconds_count\{service="slowpoke",group="slowpoke"\} 3$/m);
  assert.match(text, /^orderflow_messages_total\{group="slowpoke",type="test.Ping",outcome="handled",service="slowpoke"\} 3$/m);
  assert.match(text, /^orderflow_batch_size_count\{service="slowpoke",group="slowpoke"\} 3$/m);
  assert.match(text, /^orderflow_consumer_lag\{group="slowpoke",topic="faults-test",partition="0",service="slowpoke"\} [0-3]$/m, 'at most the three messages, until the offsets are committed');
  assert.match(text, /^orderflow_dead_letters\{topic="faults-test",service="slowpoke"\} 0$/m);
  assert.match(text, /^orderflow_outbox_pending\{service="slowpoke"\} 0$/m);
  assert.match(text, /^process_cpu_user_seconds_total\{service="slowpoke"\} /m, "Node's default metrics are still collected");
});
