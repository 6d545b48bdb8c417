/**
 * The pipeline end to end on a real embedded log: a known sequence of orders and views, in
 * event time, gives exactly the expected figures per window (the "a known sequence
 * of orders and views gives exactly the expected figures").
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Bus } from '#platform/bus/bus.ts';
import { encode } from '#platform/bus/envelope.ts';
import type { WindowResult } from '#platform/streams/aggregate.ts';
import type { Processor } from '#platform/streams/processor.ts';
import { message, OrderCancelled, OrderConfirmed, OrderPlaced, ProductViewed, Topics } from '#contracts/index.ts';
import { embeddedBus, table, until } from '#test/support/streams.ts';
import { conversionRates, salesView, topProducts, type ConversionFigures, type ProductFigures, type Sales } from './domain/figures.ts';
import { AnalyticsTopics, startPipeline, untilIdle } from './pipeline.ts';

const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const s = 1_000;
const m = 60 * s;
const A = '0190a0b0-0000-7000-8000-00000000000a';
const B = '0190a0b0-0000-7000-8000-00000000000b';
const C = '0190a0b0-0000-7000-8000-00000000000c';
const iso = (t: number) => new Date(t).toISOString();

const placed = (orderId: string, customerId: string, at: number, lines: Array<[string, number, number]>) => encode(Topics.ordersEvents, message(OrderPlaced, {
  occurredAt: iso(at),
  payload: { orderId, customerId, items: lines.map(([productId, quantity, unitPriceCents]) => ({ productId, quantity, unitPriceCents })), totalCents: lines.reduce((n, [, q, c]) => n + q * c, 0), paymentMethod: 'card', shippingAddress: { country: 'DE' } },
}).message);
const confirmed = (orderId: string, at: number) => encode(Topics.ordersEvents, message(OrderConfirmed, { occurredAt: iso(at), payload: { orderId } }).message);
const cancelled = (orderId: string, at: number, reason: 'PAYMENT_DECLINED') => encode(Topics.ordersEvents, message(OrderCancelled, { occurredAt: iso(at), payload: { orderId, reason } }).message);
const viewed = (sessionId: string, customerId: string | undefined, productId: string, at: number) =>
  encode(Topics.clientEvents, message(ProductViewed, { occurredAt: iso(at), payload: { sessionId, productId, ...(customerId ? { customerId } : {}) } }).message);

async function start(t: TestContext): Promise<{ bus: Bus; processors: Processor[] }> {
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: Topics.ordersEvents, partitions: 2 }, { name: Topics.clientEvents, partitions: 2 }]);
  // The service's grace, 30 s, though the sequence is published at once: a task takes its
  // inputs' records in event-time order (platform/streams/input-buffers.ts).
  const processors = await startPipeline({ bus, partitions: 2, graceMs: 30 * s });
  t.after(async () => {
    for (const p of processors) await p.close();
  });
  return { bus, processors };
}

const windows = async <V>(bus: Bus, name: string) => {
  const out = new Map<number, WindowResult<V>>();
  for (const w of (await table<WindowResult<V>>(bus, AnalyticsTopics.windows)).values()) if (w.name === name) out.set(w.start, w);
  return out;
};

test('a known sequence of orders and views gives exactly the expected sales, products and conversion per window', async (t) => {
  const { bus, processors } = await start(t);
  const [o1, o2, o3] = [randomUUID(), randomUUID(), randomUUID()];
  // Given: c1 views A and B, orders A (confirmed); a visitor views A; c3 orders B (declined);
  // c1 views B again and orders it 29 minutes later (converted), 34 minutes after the first view (not).
  await bus.publish([
    viewed('s1', 'c1', A, T0 + 10 * s),
    viewed('s1', 'c1', B, T0 + 20 * s),
    viewed('s2', undefined, A, T0 + 30 * s),
    placed(o1, 'c1', T0 + 40 * s, [[A, 2, 500]]),
    confirmed(o1, T0 + 41.5 * s),
    placed(o2, 'c3', T0 + 70 * s, [[B, 1, 700]]),
    cancelled(o2, T0 + 71 * s, 'PAYMENT_DECLINED'),
    viewed('s1', 'c1', B, T0 + 5 * m),
    placed(o3, 'c1', T0 + 34 * m, [[B, 1, 700]]),
    confirmed(o3, T0 + 34 * m + 2 * s),
    // And the clock moves on, in the same publish: a view three hours later closes every
    // window of the first hour once the records before it went through.
    viewed('s9', undefined, C, T0 + 3 * 60 * m),
  ]);

  await until('the first hour\'s windows are final', async () => {
    const [sales, conv] = [await windows(bus, 'sales-1h'), await windows(bus, 'conversion-1h')];
    return sales.get(T0)?.final === true && conv.get(T0)?.final === true;
  }, 30_000);
  await untilIdle(bus, 30_000);
  assert.deepEqual(processors.map((p) => p.stats().late), [0, 0, 0], 'nothing came late');

  const sales1m = await windows<Sales>(bus, 'sales-1m');
  const first = salesView(sales1m.get(T0)!.value);
  assert.deepEqual({ ...first, sagaLatencyMs: undefined }, { placed: 1, confirmed: 1, revenueCents: 1000, cancelled: {}, sagaLatencyMs: undefined });
  assert.ok(Math.abs(first.sagaLatencyMs.p50! - 1500) <= 15, `p50 ${first.sagaLatencyMs.p50} within the sketch's 1 %`);
  const second = salesView(sales1m.get(T0 + m)!.value);
  assert.deepEqual({ ...second, sagaLatencyMs: undefined }, { placed: 1, confirmed: 0, revenueCents: 0, cancelled: { PAYMENT_DECLINED: 1 }, sagaLatencyMs: undefined });
  assert.ok(sales1m.get(T0 + m)!.final);

  const hour = salesView((await windows<Sales>(bus, 'sales-1h')).get(T0)!.value);
  assert.deepEqual({ placed: hour.placed, confirmed: hour.confirmed, revenueCents: hour.revenueCents, cancelled: hour.cancelled }, { placed: 3, confirmed: 2, revenueCents: 1700, cancelled: { PAYMENT_DECLINED: 1 } });
  assert.ok(Math.abs(hour.sagaLatencyMs.p99! - 2000) <= 20, `p99 ${hour.sagaLatencyMs.p99}`);

  const products = topProducts([(await windows<Record<string, ProductFigures>>(bus, 'products-1h')).get(T0)!.value], 10);
  assert.deepEqual(products, [
    { productId: A, units: 2, revenueCents: 1000, views: 2 },
    { productId: B, units: 1, revenueCents: 700, views: 2 },
  ]);

  const conversion = conversionRates([(await windows<Record<string, ConversionFigures>>(bus, 'conversion-1h')).get(T0)!.value]);
  assert.deepEqual(conversion, [
    { productId: A, views: 2, converted: 1, rate: 0.5 },
    { productId: B, views: 2, converted: 1, rate: 0.5 },
  ]);
});
