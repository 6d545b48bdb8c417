import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { newEnvelope } from '../bus/envelope.ts';
import { appendToOutbox } from '../bus/outbox.ts';
import { loadPlatformConfig } from '../config.ts';
import { startServiceHost } from '../service/host.ts';
import { logMixin, withLogFields } from './log-context.ts';
import { traceSql } from './sql-spans.ts';
import { activeTraceparent, tracingOn } from './tracing.ts';
import { capturingLogger } from '#test/support/log.ts';

test('log fields hold for the work they were set for, across awaits, and nowhere else', async () => {
  assert.deepEqual(logMixin(), {});
  await withLogFields({ correlationId: 'c-1', orderId: 'o-1' }, async () => {
    assert.deepEqual(logMixin(), { correlationId: 'c-1', orderId: 'o-1' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(logMixin(), { correlationId: 'c-1', orderId: 'o-1' }, 'after an await');
  });
  assert.deepEqual(logMixin(), {});
});

test('with tracing off nothing is traced: no traceparent of its own, a cause\'s carried through, SQL run as it is', () => {
  assert.equal(tracingOn(), false);
  assert.equal(activeTraceparent(), undefined);
  const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
  const cause = newEnvelope({ type: 'A', key: 'k', payload: {}, headers: { traceparent } });
  assert.equal(newEnvelope({ type: 'B', key: 'k', payload: {}, cause }).headers.traceparent, traceparent);
  assert.equal(newEnvelope({ type: 'C', key: 'k', payload: {} }).headers.traceparent, undefined);
  // A synchronous statement (SQLite) stays synchronous.
  assert.equal(traceSql('sqlite', 'db', 'SELECT 1', () => 42), 42);
});

test("a handler's log lines name the message, its correlation and its order", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'log-context-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { lines, log } = capturingLogger();
  const host = await startServiceHost({
    name: 'logs',
    platform: loadPlatformConfig({ ORDERFLOW_DATA_DIR: dir, ORDERFLOW_PARTITIONS: '1' }),
    migrations: [],
    topics: ['logs.a'],
    validate: () => undefined,
    log,
  });
  t.after(() => host.close());
  let handled!: () => void;
  const done = new Promise<void>((resolve) => (handled = resolve));
  await host.consume({
    groupId: 'logs',
    topics: ['logs.a'],
    handlers: {
      Placed: async () => {
        log.info('handling');
        handled();
      },
    },
  });
  const message = newEnvelope({ type: 'Placed', key: 'order-7', payload: { orderId: 'order-7' } });
  await host.db.transaction((tx) => appendToOutbox(tx, [{ topic: 'logs.a', message }]));
  await done;
  const line = lines.find((l) => l.msg === 'handling');
  assert.ok(line);
  assert.equal(line.messageId, message.id);
  assert.equal(line.messageType, 'Placed');
  assert.equal(line.correlationId, message.headers.correlationId);
  assert.equal(line.orderId, 'order-7');
  assert.equal(line.trace_id, undefined, 'no trace ids with tracing off');
});
