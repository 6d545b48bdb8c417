import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus, OutRecord } from '#platform/bus/bus.ts';
import { caughtUp, closing, decodeEvent, embeddedBus, table, type Event } from '#test/support/streams.ts';
import { windowedAggregate, type WindowResult } from './aggregate.ts';
import { windowedJoin } from './join.ts';
import { input, startProcessor, type Processor } from './processor.ts';
import { count, tumbling } from './windows.ts';

const MIN = 60_000;

interface Conversion {
  customer: string;
  product: string;
  viewedAt: number;
  orderedAt: number;
}

/**
 * Views (keyed by customer) joined with orders (keyed by order id, so re-keyed by customer)
 * when the order comes within 30 minutes after the view and holds the viewed product.
 */
async function conversions(t: TestContext, bus: Bus): Promise<Processor> {
  await bus.ensureTopics([{ name: 'views', partitions: 2 }, { name: 'orders', partitions: 2 }]);
  const p = await startProcessor({
    bus,
    app: 'conv',
    partitions: 2,
    inputs: [
      input({ topic: 'views', decode: decodeEvent, time: (e) => e.t }),
      input({ topic: 'orders', decode: decodeEvent, time: (e) => e.t, rekey: (e) => e.customer as string }),
    ],
    operators: [
      windowedJoin<Event, Event>({
        name: 'view-order',
        left: { topic: 'views' },
        right: { topic: 'orders' },
        beforeMs: 0,
        afterMs: 30 * MIN,
        graceMs: 10 * MIN,
        output: 'conversions',
        join: (view, order): Conversion | undefined =>
          (order.value.products as string[]).includes(view.value.product as string)
            ? { customer: view.key, product: view.value.product as string, viewedAt: view.time, orderedAt: order.time }
            : undefined,
      }),
    ],
  });
  return closing(t, p);
}

const view = (customer: string, product: string, t: number): OutRecord => ({ topic: 'views', key: customer, value: JSON.stringify({ t, product }), headers: {} });
const order = (id: string, customer: string, products: string[], t: number): OutRecord => ({ topic: 'orders', key: id, value: JSON.stringify({ t, customer, products }), headers: {} });

async function run(bus: Bus, records: OutRecord[]): Promise<void> {
  await bus.publish(records);
  await caughtUp(bus, 'conv.repartition', ['orders']);
  await caughtUp(bus, 'conv', ['views', 'conv.orders.repartition']);
}

async function matches(bus: Bus): Promise<Conversion[]> {
  return [...(await table<Conversion>(bus, 'conversions')).values()].sort((a, b) => a.customer.localeCompare(b.customer));
}

test('a view then an order of the viewed product within 30 minutes match; outside the 30 minutes, another product, or an order before the view do not', async (t) => {
  const { bus } = embeddedBus(t);
  const p = await conversions(t, bus);
  await run(bus, [view('c1', 'p1', 0), view('c2', 'p1', 0), view('c4', 'p2', 0), order('o5', 'c5', ['p1'], 1 * MIN)]);
  await run(bus, [order('o1', 'c1', ['p1', 'p9'], 10 * MIN), order('o4', 'c4', ['p1'], 1 * MIN), view('c5', 'p1', 2 * MIN)]);
  await run(bus, [order('o2', 'c2', ['p1'], 30 * MIN + 1)]);
  assert.deepEqual(await matches(bus), [{ customer: 'c1', product: 'p1', viewedAt: 0, orderedAt: 10 * MIN }]);
  assert.equal(p.stats().late, 0);
});

test('an order processed before its view still meets it when the view comes', async (t) => {
  const { bus } = embeddedBus(t);
  await conversions(t, bus);
  await run(bus, [order('o3', 'c3', ['p1'], 5 * MIN)]);
  await run(bus, [view('c3', 'p1', 1 * MIN)]);
  assert.deepEqual(await matches(bus), [{ customer: 'c3', product: 'p1', viewedAt: 1 * MIN, orderedAt: 5 * MIN }]);
});

test('the join window includes its bounds: an order exactly 30 minutes after the view, or at the same time, matches', async (t) => {
  const { bus } = embeddedBus(t);
  await conversions(t, bus);
  await run(bus, [view('c6', 'p1', 0), view('c7', 'p1', 0)]);
  await run(bus, [order('o7', 'c7', ['p1'], 0), order('o6', 'c6', ['p1'], 30 * MIN)]);
  assert.deepEqual((await matches(bus)).map((m) => m.customer), ['c6', 'c7']);
});

test('buffered views are evicted by the watermark, and a view older than the grace is dropped as late', async (t) => {
  const { bus } = embeddedBus(t);
  const p = await conversions(t, bus);
  // Given a view at 0, and then the watermark moved past 0 + 30 min + 10 min of grace in its partition
  await run(bus, [view('c8', 'p1', 0)]);
  assert.equal(p.stats().stateEntries, 1);
  await run(bus, [view('c8', 'p2', 41 * MIN)]);
  assert.equal(p.stats().stateEntries, 1, 'the view at 0 was evicted, the one at 41 min is buffered');
  // When an order at 30 min comes (itself late: older than 41 - 10 min)
  await run(bus, [order('o8', 'c8', ['p1'], 30 * MIN)]);
  // Then nothing matches, and the order is counted late
  assert.deepEqual(await matches(bus), []);
  assert.equal(p.stats().late, 1);
});

test('conversions per product: the join chained into a windowed count, restarted in between, counts each match once', async (t) => {
  const { bus } = embeddedBus(t);
  let join = await conversions(t, bus);
  await bus.ensureTopics([{ name: 'conversions', partitions: 2 }]);
  const perProduct = closing(
    t,
    await startProcessor({
      bus,
      app: 'conv-per-product',
      partitions: 2,
      inputs: [input({ topic: 'conversions', decode: (r) => JSON.parse(r.value) as Conversion, time: (c) => c.orderedAt, rekey: (c) => c.product })],
      operators: [windowedAggregate({ name: 'per-hour', topics: ['conversions'], windows: tumbling(60 * MIN), aggregator: count(), output: 'conversions-per-product' })],
    }),
  );
  await run(bus, [view('a', 'p1', 0), view('b', 'p1', 0), view('c', 'p2', 0)]);
  await run(bus, [order('oa', 'a', ['p1'], 5 * MIN)]);
  // The join restarts: it sends its last batch's outputs again.
  await join.close();
  join = await conversions(t, bus);
  await run(bus, [order('ob', 'b', ['p1'], 6 * MIN), order('oc', 'c', ['p2', 'p1'], 7 * MIN)]);
  await caughtUp(bus, 'conv-per-product.repartition', ['conversions']);
  await caughtUp(bus, 'conv-per-product', ['conv-per-product.conversions.repartition']);
  const out = await table<WindowResult<number>>(bus, 'conversions-per-product');
  assert.equal(out.get('per-hour|p1|0')?.value, 2);
  assert.equal(out.get('per-hour|p2|0')?.value, 1);
  assert.ok(perProduct.stats().duplicates >= 1, `the repeated match was recognised (${perProduct.stats().duplicates})`);
});
