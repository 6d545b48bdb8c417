import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOrderflowError } from '#platform/errors.ts';
import { closing, decodeEvent, embeddedBus, event, table, type Event } from '#test/support/streams.ts';
import { MIN, OUT, SALES, run, sale, start, totals, type Totals } from '#test/support/streams-sales.ts';
import { windowedAggregate, type WindowResult } from './aggregate.ts';
import { input, startProcessor, type ProcessorOptions } from './processor.ts';
import { count, hopping, tumbling } from './windows.ts';

test('a tumbling window aggregates its records, the record on its end boundary going to the next window', async (t) => {
  const { bus } = embeddedBus(t);
  await start(t, bus);
  await run(bus, [sale(0, 'eu', 0, 100), sale(0, 'eu', 30_000, 200), sale(0, 'eu', MIN - 1, 300), sale(0, 'eu', MIN, 400)]);
  const out = await table<WindowResult<Totals>>(bus, OUT);
  assert.deepEqual(out.get(`per-minute|eu|0`), { name: 'per-minute', key: 'eu', start: 0, end: MIN, value: { n: 3, cents: 600 }, final: true });
  assert.deepEqual(out.get(`per-minute|eu|${MIN}`)?.value, { n: 1, cents: 400 });
  assert.equal(out.get(`per-minute|eu|${MIN}`)?.final, false, 'the last window is still open');
});

test('a hopping window counts each record in every window that holds it, boundaries included', async (t) => {
  const { bus } = embeddedBus(t);
  await start(t, bus);
  // Windows of 2 min every minute: [-1,1) [0,2) [1,3) [2,4) in minutes.
  await run(bus, [sale(1, 'us', 0), sale(1, 'us', 90_000), sale(1, 'us', 2 * MIN)]);
  const out = await table<WindowResult<number>>(bus, OUT);
  const counts = Object.fromEntries([-1, 0, 1, 2].map((m) => [m, out.get(`per-2min-every-min|us|${m * MIN}`)?.value]));
  assert.deepEqual(counts, { '-1': 1, 0: 2, 1: 2, 2: 1 });
  assert.equal(out.get(`per-2min-every-min|us|${-MIN}`)?.final, true, 'closed by the record at 2 min');
  assert.equal(out.get(`per-2min-every-min|us|0`)?.final, true);
  assert.equal(out.get(`per-2min-every-min|us|${MIN}`)?.final, false);
});

test('a late record within the grace still updates its window; after the grace it is dropped and counted', async (t) => {
  const { bus } = embeddedBus(t);
  // (the hopping windows wait long enough not to count anything late here)
  const p = await start(t, bus, { tumble: tumbling(MIN, { graceMs: 10_000 }), hop: hopping(2 * MIN, MIN, { graceMs: 10 * MIN }) });
  // Given window [0, 1 min) with one sale and the watermark at 65 s (inside the grace)
  await run(bus, [sale(0, 'eu', 10_000, 1), sale(0, 'eu', 65_000, 10)]);
  // When a sale of 50 s comes: within the grace
  await run(bus, [sale(0, 'eu', 50_000, 100)]);
  let out = await table<WindowResult<Totals>>(bus, OUT);
  assert.deepEqual(out.get('per-minute|eu|0')?.value, { n: 2, cents: 101 });
  assert.equal(out.get('per-minute|eu|0')?.final, false);
  // When the watermark passes 70 s, and then a sale of 55 s comes: after the grace
  await run(bus, [sale(0, 'eu', 75_000, 1000)]);
  await run(bus, [sale(0, 'eu', 55_000, 10_000)]);
  out = await table<WindowResult<Totals>>(bus, OUT);
  // Then the window was final at 70 s with 2 sales, and the late one is counted, not added
  assert.deepEqual(out.get('per-minute|eu|0'), { name: 'per-minute', key: 'eu', start: 0, end: MIN, value: { n: 2, cents: 101 }, final: true });
  assert.equal(p.stats().late, 1);
});

test('the watermark is per partition: one partition far ahead does not close the windows of another', async (t) => {
  const { bus } = embeddedBus(t);
  const p = await start(t, bus);
  await run(bus, [sale(0, 'eu', 10_000), sale(1, 'us', 60 * MIN)]);
  await run(bus, [sale(0, 'eu', 20_000)]);
  const out = await table<WindowResult<Totals>>(bus, OUT);
  assert.deepEqual(out.get('per-minute|eu|0')?.value, { n: 2, cents: 200 });
  assert.equal(out.get('per-minute|eu|0')?.final, false);
  assert.equal(p.stats().late, 0);
});

test('an input that names an id drops a producer duplicate seen within its time, and counts it', async (t) => {
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: SALES, partitions: 2 }]);
  const p = closing(
    t,
    await startProcessor({
      bus,
      app: 'sales-app',
      partitions: 2,
      inputs: [input({ topic: SALES, decode: decodeEvent, time: (e) => e.t, dedupe: { id: (e) => e.id as string, withinMs: 2 * MIN } })],
      operators: [windowedAggregate({ name: 'per-minute', topics: [SALES], windows: tumbling(MIN), aggregator: totals, output: OUT })],
    }),
  );
  const s = (id: string, t: number) => event(SALES, 0, 'eu', { id, t, cents: 1 });
  // An outbox relay published o1 twice, around another sale
  await run(bus, [s('o1', 1_000), s('o2', 2_000), s('o1', 1_000)]);
  await run(bus, [s('o3', 61_000)]);
  const out = await table<WindowResult<Totals>>(bus, OUT);
  assert.deepEqual(out.get('per-minute|eu|0')?.value, { n: 2, cents: 2 });
  assert.equal(p.stats().duplicates, 1);
  assert.equal(p.stats().stateEntries, 3 + 1, 'ids o1 o2 o3, and the window of 1 min (the one of 0 closed at 61 s)');
  // Ids are forgotten once their time plus 2 min is behind the watermark, as closed windows are
  await run(bus, [s('o4', 182_000)]);
  assert.equal(p.stats().stateEntries, 1 + 1, "o4's id and its window: the rest was evicted");
});

test('a record its input cannot read, or without a time, is skipped and counted, and the rest goes on', async (t) => {
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: SALES, partitions: 2 }]);
  const p = closing(
    t,
    await startProcessor({
      bus,
      app: 'sales-app',
      partitions: 2,
      inputs: [input({ topic: SALES, decode: (r) => JSON.parse(r.value) as Event, time: (e) => e.t })],
      operators: [windowedAggregate({ name: 'per-minute', topics: [SALES], windows: tumbling(MIN), aggregator: totals, output: OUT })],
    }),
  );
  await run(bus, [sale(0, 'eu', 1_000, 1), { ...sale(0, 'eu', 0), value: 'not json' }, event(SALES, 0, 'eu', { t: Number.NaN, cents: 5 }), sale(0, 'eu', 2_000, 2)]);
  const out = await table<WindowResult<Totals>>(bus, OUT);
  assert.deepEqual(out.get('per-minute|eu|0')?.value, { n: 2, cents: 3 });
  assert.equal(p.stats().skipped, 2);
});

test('a processor declared wrong is refused with a coded error before it subscribes', async (t) => {
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: SALES, partitions: 2 }, { name: 'three', partitions: 3 }]);
  const agg = (name: string, topic = SALES) => windowedAggregate({ name, topics: [topic], windows: tumbling(MIN), aggregator: count(), output: OUT });
  const sales = input({ topic: SALES, decode: decodeEvent, time: (e) => e.t });
  const cases: Array<[string, Pick<ProcessorOptions, 'inputs' | 'operators'>]> = [
    ['an operator named like the changelog keys', { inputs: [sales], operators: [agg('__out')] }],
    ['two operators of one name', { inputs: [sales], operators: [agg('a'), agg('a')] }],
    ['an operator reading a topic not among the inputs', { inputs: [sales], operators: [agg('a', 'other')] }],
    ['an input with another partition count', { inputs: [sales, input({ topic: 'three', decode: decodeEvent, time: (e) => e.t })], operators: [agg('a')] }],
  ];
  for (const [why, opts] of cases) {
    await assert.rejects(startProcessor({ bus, app: 'bad', partitions: 2, ...opts }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'), why);
  }
});
