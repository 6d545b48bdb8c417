/**
 * The rebuild: the same envelopes through the pipeline on a scratch log give the windows the
 * live pipeline gave; against a read model, equal windows are no difference, a spoiled row is
 * one, and a rebuild without --check writes it right.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decode, encode, type Envelope } from '#platform/bus/envelope.ts';
import type { OutRecord } from '#platform/bus/bus.ts';
import type { WindowResult } from '#platform/streams/aggregate.ts';
import { message, OrderCancelled, OrderConfirmed, OrderPlaced, ProductViewed, Topics } from '#contracts/index.ts';
import { sqliteTestDb } from '#test/support/db.ts';
import { embeddedBus, table } from '#test/support/streams.ts';
import { AnalyticsTopics, startPipeline, untilIdle } from './pipeline.ts';
import { compareWindows, rebuildReadModel, rebuildWindows } from './rebuild.ts';
import { allWindows, migrations, upsertWindows, type WindowRow } from './store.ts';

const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const iso = (t: number) => new Date(t).toISOString();
const products = ['0190a0b0-0000-7000-8000-00000000000a', '0190a0b0-0000-7000-8000-00000000000b', '0190a0b0-0000-7000-8000-00000000000c'];

/** Forty shoppers over two hours: views, orders a few seconds later, most confirmed, some declined; then a view that closes the windows. */
function story(): OutRecord[] {
  const out: OutRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const at = T0 + i * 180_000;
    const customerId = `c${i % 7}`;
    const productId = products[i % 3];
    const orderId = randomUUID();
    out.push(encode(Topics.clientEvents, message(ProductViewed, { occurredAt: iso(at), payload: { sessionId: `s${i}`, customerId, productId } }).message));
    out.push(encode(Topics.ordersEvents, message(OrderPlaced, { occurredAt: iso(at + 5_000), payload: { orderId, customerId, items: [{ productId, quantity: 1 + (i % 2), unitPriceCents: 300 }], totalCents: 300 * (1 + (i % 2)), paymentMethod: 'card', shippingAddress: { country: 'DE' } } }).message));
    out.push(i % 5 === 4
      ? encode(Topics.ordersEvents, message(OrderCancelled, { occurredAt: iso(at + 6_000), payload: { orderId, reason: 'PAYMENT_DECLINED' } }).message)
      : encode(Topics.ordersEvents, message(OrderConfirmed, { occurredAt: iso(at + 5_000 + 500 * (i % 4)), payload: { orderId } }).message));
  }
  return out;
}

async function* envelopes(records: OutRecord[], topic: string): AsyncIterable<Envelope> {
  for (const r of records) if (r.topic === topic) yield decode(r);
}

test('the windows rebuilt from the envelopes are the live pipeline\'s, value and final flag alike', async (t) => {
  const records = story();
  const closing = encode(Topics.clientEvents, message(ProductViewed, { occurredAt: iso(T0 + 5 * 3_600_000), payload: { sessionId: 'late', productId: products[0] } }).message);
  // Live: the story as it happens, half an hour at a time (well within the grace: no fact is
  // late), then the view that closes its windows.
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: Topics.ordersEvents, partitions: 2 }, { name: Topics.clientEvents, partitions: 2 }]);
  const processors = await startPipeline({ bus, partitions: 2, graceMs: 3_600_000 });
  t.after(async () => {
    for (const p of processors) await p.close();
  });
  for (let start = T0; start < T0 + 2 * 3_600_000 + 60_000; start += 1_800_000) {
    await bus.publish(records.filter((r) => {
      const at = Date.parse(decode(r).occurredAt);
      return at >= start && at < start + 1_800_000;
    }));
    await untilIdle(bus, 30_000);
  }
  await bus.publish([closing]);
  await untilIdle(bus, 30_000);
  const live: WindowRow[] = [...(await table<WindowResult<unknown>>(bus, AnalyticsTopics.windows)).values()].map((w) => ({ name: w.name, start: w.start, end: w.end, value: w.value, final: w.final }));
  assert.ok(live.some((w) => w.name === 'sales-1h' && w.final), 'the live run closed some windows');

  const all = [...records, closing];
  const rebuilt = await rebuildWindows({ sources: { [Topics.ordersEvents]: envelopes(all, Topics.ordersEvents), [Topics.clientEvents]: envelopes(all, Topics.clientEvents) }, partitions: 2, graceMs: 3_600_000 });
  assert.equal(rebuilt.length, live.length);
  assert.deepEqual(compareWindows(live, rebuilt), []);

  // Against a read model holding the live windows, one of them spoiled.
  const db = await sqliteTestDb(t, 'analytics-rebuild', migrations);
  await db.transaction((tx) => upsertWindows(tx, live));
  const spoiled = live.find((w) => w.name === 'sales-1m')!;
  await db.transaction((tx) => upsertWindows(tx, [{ ...spoiled, value: { ...(spoiled.value as object), placed: 999 } }]));
  const input = () => ({ sources: { [Topics.ordersEvents]: envelopes(all, Topics.ordersEvents), [Topics.clientEvents]: envelopes(all, Topics.clientEvents) }, partitions: 2, graceMs: 3_600_000 });
  const checked = await rebuildReadModel(db, input(), { check: true });
  assert.deepEqual(checked.differences.map((d) => [d.name, d.start]), [[spoiled.name, spoiled.start]]);
  assert.equal(checked.written, 0);
  const repaired = await rebuildReadModel(db, input(), { check: false });
  assert.equal(repaired.written, 1);
  assert.deepEqual(compareWindows(await allWindows(db), rebuilt), [], 'the read model is the rebuild again');
});
