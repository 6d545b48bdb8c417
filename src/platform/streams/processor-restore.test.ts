/**
 * The processor across restarts and faults: restored from its changelog, compacted or not;
 * failed writes; redelivery past the marker; a partition given back; outputs sent again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus } from '#platform/bus/bus.ts';
import { caughtUp, embeddedBus, outputs, table, until } from '#test/support/streams.ts';
import { OUT, SALES, history, run, sale, start, uninterrupted, type Totals } from '#test/support/streams-sales.ts';
import type { WindowResult } from './aggregate.ts';
import { changelogTopic, restoreTask } from './changelog.ts';
import { createTask } from './task.ts';

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

test('a partition given back after another instance claimed it is restored, so what follows is not fenced', async (t) => {
  const { bus: inner } = embeddedBus(t);
  // The group's assignments, as the bus reports them to the processor.
  let assigned: ((topic: string, partitions: number[]) => void) | undefined;
  const observed: Bus = { ...inner, kind: inner.kind, subscribe: (opts) => ((assigned = opts.onAssigned), inner.subscribe(opts)) };
  const p = await start(t, observed);
  await run(inner, [sale(0, 'eu', 1_000, 1), sale(0, 'eu', 2_000, 2)]);
  // Another instance had partition 0 for a while: it restored and claimed it, and processed nothing.
  const other = createTask({ app: 'sales-app', partition: 0, operators: [], inputOf: () => undefined });
  await restoreTask(inner, 'sales-app', other, 'other-instance');
  // When the partition is given back, and more sales come
  assigned!(SALES, [0]);
  await run(inner, [sale(0, 'eu', 3_000, 4)]);
  assert.equal(p.stats().restores, 1 + 1, 'partition 0 restored at its first batch, and again on getting it back');
  // Then a later restore sees all three sales: the last batch was written under a new claim.
  const later = createTask({ app: 'sales-app', partition: 0, operators: [], inputOf: () => undefined });
  await restoreTask(inner, 'sales-app', later, 'later');
  assert.deepEqual((later.stores().get('per-minute')?.get('0|eu') as { value: Totals } | undefined)?.value, { n: 3, cents: 7 });
});
