import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { newEnvelope } from '../bus/envelope.ts';
import { appendToOutbox } from '../bus/outbox.ts';
import { loadPlatformConfig } from '../config.ts';
import { startServiceHost } from '../service/host.ts';
import { zipkinSkip } from '#test/infra.ts';
import { capturingLogger } from '#test/support/log.ts';
import { readTrace, tracesOf, zipkinUrl } from '#test/support/zipkin.ts';

test('a message continues the trace that wrote it: append and send under the writer, process under the send, what it emits under the process; background work stays out', { skip: zipkinSkip() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'message-spans-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const service = `spans-test-${Date.now().toString(36)}`;
  const platform = loadPlatformConfig({
    ORDERFLOW_DATA_DIR: dir,
    ORDERFLOW_PARTITIONS: '1',
    OTEL_TRACES_EXPORTER: 'zipkin',
    OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${zipkinUrl}/api/v2/spans`,
    OTEL_SERVICE_NAME: service,
  });
  const { log, lines } = capturingLogger();
  const host = await startServiceHost({ name: 'spans', platform, migrations: [], topics: ['trace.a', 'trace.b'], validate: () => undefined, log });
  let closed = false;
  t.after(async () => {
    if (!closed) await host.close();
  });

  let pong!: () => void;
  const ponged = new Promise<void>((resolve) => (pong = resolve));
  await host.consume({
    groupId: 'first',
    topics: ['trace.a'],
    handlers: {
      Ping: async (ctx) => {
        await ctx.tx.query('SELECT 1 AS one');
        log.info('ping');
        ctx.emit('trace.b', newEnvelope({ type: 'Pong', key: ctx.message.key, payload: {}, cause: ctx.message }));
      },
    },
  });
  await host.consume({ groupId: 'second', topics: ['trace.b'], handlers: { Pong: async () => pong() } });

  const traceId = await trace.getTracer('test').startActiveSpan('test request', async (span) => {
    await host.db.transaction((tx) => appendToOutbox(tx, [{ topic: 'trace.a', message: newEnvelope({ type: 'Ping', key: 'k1', payload: {} }) }]));
    span.end();
    return span.spanContext().traceId;
  });
  await ponged;
  // The relay deletes published rows a little later, and polls: none of that may join the trace.
  await new Promise((resolve) => setTimeout(resolve, 300));
  closed = true;
  await host.close(); // flushes the spans to Zipkin

  const spans = await readTrace(traceId);
  const one = (name: string) => {
    const found = spans.filter((s) => s.name === name);
    assert.equal(found.length, 1, `one span named ${name}: ${spans.map((s) => s.name).join(', ')}`);
    return found[0];
  };
  const root = one('test request');
  const parentOf = (s: (typeof spans)[number]) => spans.find((p) => p.id === s.parentId);
  const appendPing = spans.find((s) => s.name === 'outbox append' && s.parentId === root.id);
  assert.ok(appendPing, 'the append is a child of the writer');
  const sendA = one('send trace.a');
  assert.equal(sendA.kind, 'PRODUCER');
  assert.equal(parentOf(sendA), root);
  assert.equal(sendA.tags?.['messaging.system'], 'orderflow.log');
  assert.equal(sendA.tags?.['messaging.destination.name'], 'trace.a');
  const processA = one('process trace.a');
  assert.equal(processA.kind, 'CONSUMER');
  assert.equal(parentOf(processA), sendA);
  assert.equal(processA.tags?.['messaging.consumer.group.name'], 'first');
  const select = one('select');
  assert.equal(select.kind, 'CLIENT');
  assert.equal(parentOf(select), processA, "the handler's SQL is a child of its process span");
  assert.equal(select.tags?.['db.system.name'], 'sqlite');
  const sendB = one('send trace.b');
  assert.equal(parentOf(sendB), processA, 'what the handler emitted is sent under its process span');
  assert.ok(spans.some((s) => s.name === 'outbox append' && s.parentId === processA.id));
  assert.equal(parentOf(one('process trace.b')), sendB);
  const line = lines.find((l) => l.msg === 'ping');
  assert.equal(line?.trace_id, traceId, "the handler's log line names its trace");
  assert.equal(line?.span_id, processA.id, '… and its process span');
  assert.equal(parentOf(one('insert outbox')), root, "the writer's own INSERT");
  // Nothing else: the inbox, BEGIN/COMMIT of the batch, the batch's outbox INSERT, the
  // relay's deletes and polls ran for no one in particular and left no span (and started
  // no trace of their own).
  assert.equal(spans.length, 9, spans.map((s) => s.name).join(', '));
  const traces = await tracesOf(service);
  assert.deepEqual(traces.map((tr) => tr[0].traceId), [traceId], 'the only trace of this service');
});
