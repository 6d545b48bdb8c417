/**
 * The processor on a real Kafka broker: instances of one app share the partitions through
 * the group, a stopped instance's tasks move to the other and are restored from the
 * changelog, and the outputs are those of a single instance on the embedded log.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import type { Bus, OutRecord } from '#platform/bus/bus.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaBrokers, kafkaSkip, uniqueName } from '#test/infra.ts';
import { caughtUp, closing, decodeEvent, embeddedBus, event, table, until, type Event } from '#test/support/streams.ts';
import { windowedAggregate } from './aggregate.ts';
import { windowedJoin } from './join.ts';
import { changelogTopic } from './changelog.ts';
import { input, startProcessor, type Processor } from './processor.ts';
import { hopping, reducer, tumbling } from './windows.ts';

const MIN = 60_000;
const APP = 'sales-k';
const PARTITIONS = 4;

type Totals = { n: number; cents: number };
const totals = reducer<Event, Totals>(() => ({ n: 0, cents: 0 }), (a, e) => ({ n: a.n + 1, cents: a.cents + (e.cents as number) }));

async function start(t: TestContext, bus: Bus): Promise<Processor> {
  await bus.ensureTopics([{ name: 'sales', partitions: PARTITIONS }]);
  const p = await startProcessor({
    bus,
    app: APP,
    partitions: PARTITIONS,
    inputs: [input({ topic: 'sales', decode: decodeEvent, time: (e) => e.t })],
    operators: [
      windowedAggregate({ name: 'per-minute', topics: ['sales'], windows: tumbling(MIN, { graceMs: 20_000 }), aggregator: totals, output: 'sales-out' }),
      windowedAggregate({ name: 'per-2min', topics: ['sales'], windows: hopping(2 * MIN, MIN), aggregator: totals, output: 'sales-out' }),
    ],
    maxBatch: 25,
  });
  return closing(t, p);
}

/** Sales of 8 regions over the 4 partitions, 5 s apart, every 5th one 70 s behind. */
function history(from: number, n: number): OutRecord[] {
  return Array.from({ length: n }, (_, j) => {
    const i = from + j;
    return event('sales', i % PARTITIONS, `r${i % 8}`, { t: i * 5_000 - (i % 5 === 0 ? 70_000 : 0), cents: i });
  });
}

test('two instances share the partitions; when one stops the other restores its tasks; the outputs are those of one instance', { skip: kafkaSkip(), timeout: 240_000 }, async (t) => {
  const brokers = kafkaBrokers(t);
  if (!brokers) return;
  const phase1 = history(0, 200);
  const phase2 = history(200, 200);

  // The reference: one instance, on the embedded log.
  const { bus: local } = embeddedBus(t);
  const single = await start(t, local);
  await local.publish(phase1);
  await local.publish(phase2);
  await caughtUp(local, APP, ['sales']);
  const expected = await table(local, 'sales-out');
  const expectedLate = single.stats().late;
  await single.close();

  const namespace = uniqueName('streams');
  const open = async (clientId: string) => {
    const bus = await openKafkaBus({ brokers, clientId, namespace, log: silentLogger, commitPolicy: { intervalMs: 100 } });
    t.after(() => bus.close());
    return bus;
  };
  const busA = await open('streams-a');
  const busB = await open('streams-b');
  const a = await start(t, busA);
  const b = await start(t, busB);

  await busA.publish(phase1);
  await until('both instances have tasks', () => a.stats().tasks.length > 0 && b.stats().tasks.length > 0, 90_000);
  await caughtUp(busA, APP, ['sales'], 90_000);
  const shared = { a: a.stats().tasks, b: b.stats().tasks };
  assert.ok(shared.a.length > 0 && shared.b.length > 0, `both instances hold partitions: ${JSON.stringify(shared)}`);

  // When B stops, A takes its partitions over from their changelogs.
  const restoresBefore = a.stats().restores;
  await b.close();
  await busA.publish(phase2);
  await caughtUp(busA, APP, ['sales'], 120_000);
  const after = a.stats();
  assert.deepEqual(after.tasks, [0, 1, 2, 3]);
  assert.ok(after.restores > restoresBefore, 'A restored the moved tasks');
  assert.ok(after.restoredRecords > 0);

  assert.deepEqual(await table(busA, 'sales-out'), expected);
  // Late records counted once each, across both instances (the counters live in the markers).
  assert.equal(after.late, expectedLate);

  const admin = new Admin({ clientId: 'streams-admin', bootstrapBrokers: brokers });
  t.after(() => admin.close());
  const [described] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: `${namespace}.${changelogTopic(APP)}`, configurationKeys: ['cleanup.policy'] }] });
  assert.equal(described.configs.find((c) => c.name === 'cleanup.policy')?.value, 'compact');
});

test('a join on three instances keeps both inputs of a partition on one instance, and matches as one instance does', { skip: kafkaSkip(), timeout: 240_000 }, async (t) => {
  const brokers = kafkaBrokers(t);
  if (!brokers) return;
  const startJoin = async (bus: Bus) => {
    await bus.ensureTopics([{ name: 'views', partitions: PARTITIONS }, { name: 'orders', partitions: PARTITIONS }]);
    return closing(
      t,
      await startProcessor({
        bus,
        app: 'conv-k',
        partitions: PARTITIONS,
        inputs: [input({ topic: 'views', decode: decodeEvent, time: (e) => e.t }), input({ topic: 'orders', decode: decodeEvent, time: (e) => e.t })],
        operators: [
          windowedJoin<Event, Event>({
            name: 'view-order',
            left: { topic: 'views' },
            right: { topic: 'orders' },
            beforeMs: 0,
            afterMs: 30 * MIN,
            graceMs: 24 * 60 * MIN,
            output: 'conversions',
            join: (v, o) => ((o.value.products as string[]).includes(v.value.product as string) ? { customer: v.key, product: v.value.product, at: o.time } : undefined),
          }),
        ],
        maxBatch: 10,
      }),
    );
  };
  // 24 customers: each views p<i%3> at i min, and orders it (or not) 10 or 40 min later.
  const views: OutRecord[] = [];
  const orders: OutRecord[] = [];
  for (let i = 0; i < 24; i++) {
    views.push({ topic: 'views', key: `c${i}`, value: JSON.stringify({ t: i * MIN, product: `p${i % 3}` }), headers: {} });
    orders.push({ topic: 'orders', key: `c${i}`, value: JSON.stringify({ t: i * MIN + (i % 2 === 0 ? 10 : 40) * MIN, products: [`p${i % 3}`] }), headers: {} });
  }

  const { bus: local } = embeddedBus(t);
  await startJoin(local);
  await local.publish(views);
  await local.publish(orders);
  await caughtUp(local, 'conv-k', ['views', 'orders']);
  const expected = await table(local, 'conversions');
  assert.equal(expected.size, 12);

  const namespace = uniqueName('streams-join');
  const buses = await Promise.all(['x', 'y', 'z'].map(async (n) => {
    const bus = await openKafkaBus({ brokers, clientId: `streams-${n}`, namespace, log: silentLogger, commitPolicy: { intervalMs: 100 } });
    t.after(() => bus.close());
    return bus;
  }));
  const instances: Processor[] = [];
  for (const bus of buses) instances.push(await startJoin(bus));
  await buses[0].publish(views.slice(0, 12));
  await until('all three instances have tasks', () => instances.every((p) => p.stats().tasks.length > 0), 90_000);
  await caughtUp(buses[0], 'conv-k', ['views', 'orders'], 90_000);
  await buses[0].publish(orders.slice(0, 12));
  await caughtUp(buses[0], 'conv-k', ['views', 'orders'], 90_000);
  await instances[2].close();
  await buses[0].publish([...views.slice(12), ...orders.slice(12)]);
  await caughtUp(buses[0], 'conv-k', ['views', 'orders'], 120_000);
  assert.deepEqual(await table(buses[0], 'conversions'), expected);
  assert.equal(instances.reduce((n, p) => n + p.stats().ignoredRecords, 0), 0, 'no instance wrote under another one\'s claim');
});
