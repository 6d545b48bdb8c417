import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InRecord } from './bus.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { encode, newEnvelope } from './envelope.ts';
import { deadLetterRecord, dlqTopic, listDeadLetters, replayDeadLetters } from './dead-letters.ts';
import { silentLogger } from '../log.ts';

const TOPIC = 'dl-test';

async function setup(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-dl-'));
  const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  t.after(async () => {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await bus.ensureTopics([
    { name: TOPIC, partitions: 3 },
    { name: dlqTopic(TOPIC), partitions: 1 },
  ]);
  return bus;
}

function delivered(value: string, key: string, headers: Record<string, string>, offset = '7'): InRecord {
  return { topic: TOPIC, partition: 2, offset, key, value, headers };
}

test('a dead letter lists with its message, error, attempts and origin', async (t) => {
  const bus = await setup(t);
  const m = newEnvelope({ type: 'Thing', key: 'order-1', payload: { n: 1 }, headers: { traceparent: '00-abc-def-01' } });
  const rec = encode(TOPIC, m);
  await bus.publish([deadLetterRecord(delivered(rec.value, rec.key, rec.headers), { code: 'ORD_ERR_X', message: 'boom' }, 5)]);
  const [dl] = await listDeadLetters(bus, TOPIC);
  assert.equal(dl.id, m.id);
  assert.deepEqual(dl.message, m);
  assert.deepEqual(dl.error, { code: 'ORD_ERR_X', message: 'boom' });
  assert.equal(dl.attempts, 5);
  assert.equal(dl.originalTopic, TOPIC);
  assert.equal(dl.originalPartition, 2);
  assert.equal(dl.originalOffset, '7');
  assert.ok(!Number.isNaN(Date.parse(dl.failedAt)));
  assert.deepEqual(dl.record, rec, 'the original record, without dlq headers');
});

test('a malformed record is listed by its origin, without a message', async (t) => {
  const bus = await setup(t);
  await bus.publish([deadLetterRecord(delivered('not json', 'k', {}, '3'), { code: 'PLT_ERR_MALFORMED_MESSAGE', message: 'bad' }, 0)]);
  const [dl] = await listDeadLetters(bus, TOPIC);
  assert.equal(dl.id, `${TOPIC}/2/3`);
  assert.equal(dl.message, undefined);
  assert.equal(dl.attempts, 0);
});

test('replaying republishes to the original topic, once per message, only those asked for', async (t) => {
  const bus = await setup(t);
  const a = encode(TOPIC, newEnvelope({ type: 'Thing', key: 'a', payload: {} }));
  const b = encode(TOPIC, newEnvelope({ type: 'Thing', key: 'b', payload: {} }));
  const err = { code: 'E', message: 'e' };
  await bus.publish([
    deadLetterRecord(delivered(a.value, a.key, a.headers), err, 3),
    deadLetterRecord(delivered(a.value, a.key, a.headers, '8'), err, 3),
    deadLetterRecord(delivered(b.value, b.key, b.headers, '9'), err, 3),
  ]);
  const [dlA] = await listDeadLetters(bus, TOPIC);
  assert.equal(await replayDeadLetters(bus, TOPIC, { ids: [dlA.id] }), 1);
  let back = await bus.read(TOPIC);
  assert.equal(back.length, 1);
  assert.deepEqual({ key: back[0].key, value: back[0].value, headers: back[0].headers }, { key: a.key, value: a.value, headers: a.headers });

  assert.equal(await replayDeadLetters(bus, TOPIC), 2);
  back = await bus.read(TOPIC);
  assert.equal(back.length, 3);
  assert.ok(back.every((r) => Object.keys(r.headers).every((h) => !h.startsWith('dlq-'))));
});
