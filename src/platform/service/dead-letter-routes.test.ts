import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { newDeadLetterId, recordDeadLetters, type NewDeadLetter } from '../bus/dead-letter-store.ts';
import { dlqTopic } from '../bus/dead-letters.ts';
import { decode, encode, newEnvelope, type Envelope } from '../bus/envelope.ts';
import { loadPlatformConfig } from '../config.ts';
import { serviceDatabaseName } from '../db/open.ts';
import { dropPostgresDatabase } from '../db/postgres.ts';
import { silentLogger } from '../log.ts';
import { MAX_PAYLOAD_BYTES, type DeadLetterViewBody } from './dead-letter-routes.ts';
import { startServiceHost } from './host.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';

const SERVICE = 'dlqroutes';
const TOPIC = 'dlq-routes-test';
const OTHER = 'dlq-routes-other';

/** The host's own database on each store; the bus is the embedded log in both. */
const stores = [
  { name: 'SQLite', skip: undefined, env: (): Record<string, string> => ({}) },
  { name: 'PostgreSQL', skip: postgresSkip(), env: (): Record<string, string> => ({ ORDERFLOW_STORE: 'postgres', DATABASE_URL: process.env.DATABASE_URL as string, ORDERFLOW_NAMESPACE: uniqueName('dlqr') }) },
];

/** A real host (fault injection on, so a test can make its handler fail) with one consumer, listening on port 0. */
async function startHost(t: TestContext, storeEnv: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-dlq-routes-'));
  const platform = loadPlatformConfig({ ORDERFLOW_DATA_DIR: dir, ORDERFLOW_PARTITIONS: '1', ORDERFLOW_FAULTS: '1', ...storeEnv });
  const host = await startServiceHost({ name: SERVICE, platform, migrations: [], topics: [TOPIC, OTHER], validate: () => undefined, log: silentLogger });
  t.after(async () => {
    await host.close();
    if (platform.store === 'postgres') await dropPostgresDatabase(platform.databaseUrl as string, serviceDatabaseName(platform.namespace, SERVICE));
    rmSync(dir, { recursive: true, force: true });
  });
  const handled: Envelope[] = [];
  await host.consume({ groupId: SERVICE, topics: [TOPIC], handlers: { 'test.Ping': async () => {} }, onProcessed: (m) => handled.push(m) });
  const url = `http://127.0.0.1:${await host.listen(0)}`;
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(url + path, body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  const list = async (query = ''): Promise<DeadLetterViewBody[]> => {
    const res = await call('GET', `/_admin/dead-letters${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.deadLetters;
  };
  return { host, call, list, handled };
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function letter(topic: string, m: Envelope, offset: string, failedAt: string): NewDeadLetter {
  return {
    id: newDeadLetterId(),
    source: `${SERVICE}/${topic}/0/${offset}`,
    origin: 'consumer',
    consumerGroup: SERVICE,
    messageId: m.id,
    messageType: m.type,
    record: encode(topic, m),
    error: { code: 'E', message: 'boom' },
    attempts: 3,
    originalPartition: 0,
    originalOffset: offset,
    failedAt,
    dlqTopic: dlqTopic(topic),
  };
}

for (const store of stores) {
  describe(`a service's dead letters over HTTP on ${store.name}`, { skip: store.skip, timeout: 120_000 }, () => {
    test('a dead-lettered record is listed, replayed once onto its topic and handled, and a second replay replays nothing', async (t) => {
      const { host, call, list, handled } = await startHost(t, store.env());
      assert.equal((await call('PUT', '/_faults', { failTypes: ['test.Ping'] })).status, 200);
      const m = newEnvelope({ type: 'test.Ping', key: 'order-1', payload: { n: 1 } });
      await host.bus.publish([encode(TOPIC, m)]);

      const [dl] = await until('the record is dead-lettered', async () => {
        const rows = await list(`?topic=${TOPIC}`);
        return rows.length > 0 ? rows : undefined;
      });
      assert.deepEqual({ ...dl, id: '', failedAt: '', stateChangedAt: '' }, {
        id: '',
        service: SERVICE,
        origin: 'consumer',
        group: SERVICE,
        originalTopic: TOPIC,
        partition: 0,
        offset: '0',
        messageId: m.id,
        type: 'test.Ping',
        key: 'order-1',
        error: { code: 'PLT_ERR_INJECTED_FAILURE', message: 'fault injection: handlers of test.Ping fail' },
        attempts: dl.attempts,
        failedAt: '',
        state: 'pending',
        stateChangedAt: '',
        valueBytes: Buffer.byteLength(encode(TOPIC, m).value),
        payload: { n: 1 },
      });
      assert.ok(dl.attempts > 1, 'retried before it was dead-lettered');
      assert.ok(!Number.isNaN(Date.parse(dl.failedAt)));
      assert.equal(dl.stateChangedAt, dl.failedAt, 'a pending row changed state when it failed');
      assert.equal(handled.length, 0, 'not handled while the fault is on');

      assert.equal((await call('PUT', '/_faults', { failTypes: [] })).status, 200);
      const replayed = await call('POST', '/_admin/dead-letters/replay', { ids: [dl.id] });
      assert.equal(replayed.status, 200);
      assert.deepEqual(replayed.body, { replayed: [dl.id] });
      // The service's running relay publishes it; its consumer handles it this time.
      await until('the replayed message is handled', () => (handled.some((h) => h.id === m.id) ? true : undefined));
      const onTopic = (await host.bus.read(TOPIC, { limit: 10 })).map((r) => decode(r).id);
      assert.deepEqual(onTopic, [m.id, m.id], 'the original and its replay, with the same message id');

      assert.deepEqual((await call('POST', '/_admin/dead-letters/replay', { ids: [dl.id] })).body, { replayed: [] });
      assert.deepEqual((await call('POST', '/_admin/dead-letters/replay', { topic: TOPIC })).body, { replayed: [] });
      assert.deepEqual(await list(`?topic=${TOPIC}`), [], 'nothing pending');
      const [after] = await list(`?topic=${TOPIC}&state=replayed`);
      assert.equal(after.id, dl.id);
      assert.equal(after.state, 'replayed');
      assert.ok(after.stateChangedAt >= after.failedAt);
      assert.equal(handled.filter((h) => h.id === m.id).length, 1, 'handled once');
    });

    test('a listing is newest first, by state, topic and limit; discard takes pending ones once; a replay by topic takes that topic only', async (t) => {
      const { host, call, list } = await startHost(t, store.env());
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
      const [a, b, c] = [1, 2, 3].map((n) => newEnvelope({ type: 'test.Ping', key: `k${n}`, payload: { n } }));
      const o = newEnvelope({ type: 'test.Other', key: 'ko', payload: { big: 'x'.repeat(MAX_PAYLOAD_BYTES) } });
      const rows = [letter(TOPIC, a, '1', at(1)), letter(TOPIC, b, '2', at(2)), letter(TOPIC, c, '3', at(3)), letter(OTHER, o, '1', at(4))];
      const malformed: NewDeadLetter = { ...letter(OTHER, a, '2', at(5)), messageId: undefined, messageType: undefined, record: { topic: OTHER, key: 'km', value: 'not json', headers: {} }, attempts: 0 };
      const relay: NewDeadLetter = { ...letter(OTHER, b, '', at(6)), source: 'relay/x', origin: 'relay', consumerGroup: undefined, originalPartition: undefined, originalOffset: undefined, dlqTopic: undefined, attempts: 0 };
      await recordDeadLetters(host.db, [...rows, malformed, relay]);
      const [ra, rb, rc, ro] = rows.map((r) => r.id);

      assert.deepEqual((await list()).map((d) => d.id), [relay.id, malformed.id, ro, rc, rb, ra], 'every topic, newest first');
      assert.deepEqual((await list(`?topic=${TOPIC}`)).map((d) => d.id), [rc, rb, ra]);
      assert.deepEqual((await list(`?topic=${TOPIC}&limit=2`)).map((d) => d.id), [rc, rb]);
      const [rv, mv, ov] = await list(`?topic=${OTHER}`);
      assert.deepEqual([ov.payload, ov.valueBytes > MAX_PAYLOAD_BYTES], [null, true], 'a large payload is left out, its size shown');
      assert.deepEqual([mv.messageId, mv.type, mv.payload, mv.key, mv.attempts], [null, null, null, 'km', 0], 'a record that is not a message');
      assert.deepEqual([rv.origin, rv.group, rv.partition, rv.offset, rv.payload], ['relay', null, null, null, { n: 2 }], 'a relay dead letter');

      const discarded = await call('POST', '/_admin/dead-letters/discard', { ids: [ra, ro.toUpperCase()] });
      assert.equal(discarded.status, 200);
      assert.deepEqual(discarded.body, { discarded: [ra, ro] });
      assert.deepEqual((await call('POST', '/_admin/dead-letters/discard', { ids: [ra] })).body, { discarded: [] }, 'once');
      assert.deepEqual((await call('POST', '/_admin/dead-letters/discard', { topic: OTHER, ids: [rb] })).body, { discarded: [] }, 'an id of another topic');
      assert.deepEqual((await list('?state=discarded')).map((d) => [d.id, d.state]), [[ro, 'discarded'], [ra, 'discarded']]);
      assert.deepEqual((await call('POST', '/_admin/dead-letters/replay', { ids: [ra] })).body, { replayed: [] }, 'a discarded one is not replayed');

      // Two replays at once: each dead letter goes to one of them.
      const [r1, r2] = await Promise.all([1, 2].map(() => call('POST', '/_admin/dead-letters/replay', { topic: TOPIC })));
      assert.deepEqual([...r1.body.replayed, ...r2.body.replayed].sort(), [rb, rc].sort());
      assert.deepEqual((await list('?state=all')).map((d) => [d.id, d.state]), [
        [relay.id, 'pending'], [malformed.id, 'pending'], [ro, 'discarded'], [rc, 'replayed'], [rb, 'replayed'], [ra, 'discarded'],
      ]);
      assert.deepEqual((await list()).map((d) => d.id), [relay.id, malformed.id], 'pending by default');
    });
  });
}

test('bad queries and bodies get a coded 400 in the error envelope, and change nothing', async (t) => {
  const { host, call, list } = await startHost(t, {});
  const m = newEnvelope({ type: 'test.Ping', key: 'k', payload: {} });
  const row = letter(TOPIC, m, '1', new Date().toISOString());
  await recordDeadLetters(host.db, [row]);
  const bad: Array<[string, string, unknown?]> = [
    ['GET', '/_admin/dead-letters?state=lost'],
    ['GET', '/_admin/dead-letters?limit=0'],
    ['GET', '/_admin/dead-letters?limit=501'],
    ['GET', '/_admin/dead-letters?limit=ten'],
    ['GET', '/_admin/dead-letters?limit=1.5'],
    ['GET', '/_admin/dead-letters?topic='],
    ['GET', '/_admin/dead-letters?topic=a%20b'],
    ['GET', '/_admin/dead-letters?sort=asc'],
    ['POST', '/_admin/dead-letters/replay', {}],
    ['POST', '/_admin/dead-letters/replay', { ids: [] }],
    ['POST', '/_admin/dead-letters/replay', { ids: ['not-an-id'] }],
    ['POST', '/_admin/dead-letters/replay', { ids: row.id }],
    ['POST', '/_admin/dead-letters/replay', { ids: Array.from({ length: 501 }, () => row.id) }],
    ['POST', '/_admin/dead-letters/replay', { topic: TOPIC, all: true }],
    ['POST', '/_admin/dead-letters/replay', { topic: 7 }],
    ['POST', '/_admin/dead-letters/discard', { topic: TOPIC }],
    ['POST', '/_admin/dead-letters/discard', { ids: [] }],
  ];
  for (const [method, path, body] of bad) {
    const res = await call(method, path, body);
    const what = `${method} ${path} ${JSON.stringify(body) ?? ''}`;
    assert.equal(res.status, 400, what);
    assert.equal(res.body.error.code, 'PLT_ERR_VALIDATION', what);
    assert.equal(typeof res.body.error.message, 'string', what);
  }
  const notJson = await call('POST', '/_admin/dead-letters/replay', '{"ids": [');
  assert.deepEqual([notJson.status, notJson.body.error.code], [400, 'PLT_ERR_MALFORMED_JSON']);
  const wrongMethod = await call('DELETE', '/_admin/dead-letters');
  assert.deepEqual([wrongMethod.status, wrongMethod.body.error.code], [405, 'PLT_ERR_METHOD_NOT_ALLOWED']);
  assert.deepEqual((await list()).map((d) => [d.id, d.state]), [[row.id, 'pending']], 'nothing replayed or discarded');
});
