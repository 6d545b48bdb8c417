import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus, OutRecord } from '#platform/bus/bus.ts';
import { caughtUp, closing, decodeEvent, embeddedBus, event, outputs, table, until, type Event } from '#test/support/streams.ts';
import { windowedAggregate, type WindowResult } from './aggregate.ts';
import { changelogTopic } from './changelog.ts';
import { input, startProcessor, type Processor } from './processor.ts';
import { count, hopping, reducer, tumbling, type WindowSpec } from './windows.ts';

const MIN = 60_000;
const SALES = 'sales';
const OUT = 'sales-per-window';

type Totals = { n: number; cents: number };
const totals = reducer<Event, Totals>(() => ({ n: 0, cents: 0 }), (a, e) => ({ n: a.n + 1, cents: a.cents + (e.cents as number) }));

/** A processor over `sales` (2 partitions, keyed by region) with a tumbling and a hopping aggregation. */
async function start(t: TestContext, bus: Bus, windows: { tumble?: WindowSpec; hop?: WindowSpec } = {}): Promise<Processor> {
  await bus.ensureTopics([{ name: SALES, partitions: 2 }]);
  const p = await startProcessor({
    bus,
    app: 'sales-app',
    partitions: 2,
    inputs: [input({ topic: SALES, decode: decodeEvent, time: (e) => e.t })],
    operators: [
      windowedAggregate({ name: 'per-minute', topics: [SALES], windows: windows.tumble ?? tumbling(MIN), aggregator: totals, output: OUT }),
      windowedAggregate({ name: 'per-2min-every-min', topics: [SALES], windows: windows.hop ?? hopping(2 * MIN, MIN), aggregator: count(), output: OUT }),
    ],
    maxBatch: 7,
  });
  return closing(t, p);
}

const sale = (partition: number, region: string, t: number, cents = 100) => event(SALES, partition, region, { t, cents });

async function run(bus: Bus, records: OutRecord[]): Promise<void> {
  await bus.publish(records);
  await caughtUp(bus, 'sales-app', [SALES]);
}

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

/** Sales over 2 partitions and 3 regions, 10 s apart; every 4th 75 s behind, late for some windows. */
function history(from: number, n: number): OutRecord[] {
  return Array.from({ length: n }, (_, j) => {
    const i = from + j;
    const region = ['eu', 'us', 'asia'][i % 3];
    const partition = region === 'us' ? 1 : 0;
    return sale(partition, region, i * 10_000 - (i % 4 === 0 ? 75_000 : 0), 100 + i);
  });
}

async function uninterrupted(t: TestContext, records: OutRecord[]): Promise<{ table: Map<string, unknown>; late: number }> {
  const { bus } = embeddedBus(t);
  const p = await start(t, bus);
  for (let i = 0; i < records.length; i += 10) await run(bus, records.slice(i, i + 10));
  const late = p.stats().late;
  await p.close();
  return { table: await table(bus, OUT), late };
}

test('a restarted processor restores from its changelog only, resumes, and ends as one uninterrupted run', async (t) => {
  const all = history(0, 60);
  const expected = await uninterrupted(t, all);

  const { bus, reopen } = embeddedBus(t);
  const first = await start(t, bus);
  await run(bus, all.slice(0, 40));
  assert.equal(first.stats().processed, 40);
  await first.close();
  await bus.close();

  // A new process: another handle on the log, another processor.
  const bus2 = reopen();
  const changelog = (await bus2.positions([changelogTopic('sales-app')])).reduce((n, p) => n + p.end, 0);
  const second = await start(t, bus2);
  await run(bus2, all.slice(40));
  const s = second.stats();
  assert.equal(s.processed, 20, 'only the new records were processed');
  assert.equal(s.restores, 2, 'one restore per partition');
  assert.equal(s.restoredRecords, changelog + 2, 'it read the changelog (and its own two claims), not the input');
  assert.deepEqual(await table(bus2, OUT), expected.table);
  assert.equal(s.late, expected.late, 'the late counter came back with the state');
});

test('a restore after the changelog was compacted reads far fewer records and ends in the same state', async (t) => {
  const all = history(0, 60);
  const expected = await uninterrupted(t, all);
  const HOUR = 3_600_000;
  const { bus, reopen } = embeddedBus(t, { retentionMs: HOUR, intervalMs: HOUR, now: () => Date.now() + 2 * HOUR });
  const first = await start(t, bus);
  for (let i = 0; i < 40; i += 10) await run(bus, all.slice(i, i + 10));
  await first.close();
  const stored = async () => {
    let n = 0;
    for (const p of [0, 1]) n += (await bus.readPartition(changelogTopic('sales-app'), p)).records.length;
    return n;
  };
  const before = await stored();
  // The trim also drops the output topic's old records (no group reads it): kept aside here.
  const earlier = await table(bus, OUT);
  assert.ok((await bus.trim()) > 0, 'compaction removed superseded records');
  const kept = await stored();
  await bus.close();

  const bus2 = reopen();
  const second = await start(t, bus2);
  await run(bus2, all.slice(40));
  assert.ok(second.stats().restoredRecords <= kept + 2 && kept < before / 2, `read ${second.stats().restoredRecords}, kept ${kept} of ${before} written`);
  assert.deepEqual(new Map([...earlier, ...(await table(bus2, OUT))]), expected.table);
  assert.equal(second.stats().late, expected.late);
});

test('a failed changelog write, then a failed output write, change nothing: state and outputs equal the uninterrupted run (exactly once)', async (t) => {
  const all = history(0, 60);
  const expected = await uninterrupted(t, all);

  const { bus: inner } = embeddedBus(t);
  // A bus that fails the 3rd changelog write before it happens, and the 6th output write after the marker.
  let changelogWrites = 0;
  let outputWrites = 0;
  const faulty: Bus = {
    ...inner,
    kind: inner.kind,
    async publish(records) {
      if (records[0]?.topic === changelogTopic('sales-app') && !records[0].key.startsWith('__claim') && ++changelogWrites === 3) throw new Error('injected: changelog write lost');
      if (records[0]?.topic === OUT && ++outputWrites === 6) throw new Error('injected: crash before the outputs');
      return inner.publish(records);
    },
  };
  const p = await start(t, faulty);
  for (let i = 0; i < all.length; i += 10) await run(inner, all.slice(i, i + 10));
  assert.ok(changelogWrites >= 3 && outputWrites >= 6, 'both faults were hit');
  assert.ok(p.stats().restores >= 4, `tasks restored after each fault (${p.stats().restores})`);
  assert.deepEqual(await table(inner, OUT), expected.table);
  assert.equal(p.stats().late, expected.late);
  assert.ok(expected.late > 0, 'the history has late records, so lateness is part of what is compared');
});

test('outputs sent twice carry the same source position, so a downstream processor can drop the copy', async (t) => {
  const { bus } = embeddedBus(t);
  const first = await start(t, bus);
  await run(bus, history(0, 20));
  await first.close();
  // A restore always sends the last batch's outbox again.
  const second = await start(t, bus);
  await run(bus, history(20, 1));
  await second.close();
  const all = await outputs(bus, OUT);
  const distinct = new Set(all.map((o) => `${o.key} ${o.source}`));
  assert.ok(all.length > distinct.size, 'some outputs were sent again');
  const bySource = new Map<string, string>();
  for (const o of all) {
    const prior = bySource.get(o.source);
    if (prior !== undefined) assert.equal(JSON.stringify(o.value), prior, 'a repeated source position repeats the same value');
    bySource.set(o.source, JSON.stringify(o.value));
  }
});

test('records redelivered after their marker was written are not counted twice, also within a longer batch', async (t) => {
  const { bus: inner } = embeddedBus(t);
  // A process that handles batches (state and marker written) but dies before any offset commit.
  const neverAcked: Bus = {
    ...inner,
    kind: inner.kind,
    subscribe: (opts) =>
      inner.subscribe({
        ...opts,
        async handle(batch) {
          await opts.handle(batch);
          throw new Error('injected: died before acknowledging');
        },
      }),
  };
  const first = await start(t, neverAcked);
  await inner.publish([sale(0, 'eu', 1_000, 1), sale(0, 'eu', 2_000, 2), sale(0, 'eu', 3_000, 4)]);
  await until('the three sales are processed', () => first.stats().processed === 3);
  await first.close();
  assert.equal((await inner.positions([SALES], 'sales-app')).find((x) => x.partition === 0)?.committed ?? 0, 0, 'nothing was committed');
  // When a new process starts, the group hands it the three again with two new ones in one batch
  await inner.publish([sale(0, 'eu', 4_000, 8), sale(0, 'eu', 5_000, 16)]);
  const second = await start(t, inner);
  await caughtUp(inner, 'sales-app', [SALES]);
  // Then each sale counts once
  const out = await table<WindowResult<Totals>>(inner, OUT);
  assert.deepEqual(out.get('per-minute|eu|0')?.value, { n: 5, cents: 31 });
  assert.equal(second.stats().processed, 2);
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
