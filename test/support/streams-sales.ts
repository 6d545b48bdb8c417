/**
 * The sales processor of the stream processor's tests: a tumbling and a hopping aggregation
 * of sales (2 partitions, keyed by region) into one output topic, and a history of sales.
 */
import type { TestContext } from 'node:test';
import type { Bus, OutRecord } from '#platform/bus/bus.ts';
import { windowedAggregate } from '#platform/streams/aggregate.ts';
import { input, startProcessor, type Processor } from '#platform/streams/processor.ts';
import { count, hopping, reducer, tumbling, type WindowSpec } from '#platform/streams/windows.ts';
import { caughtUp, closing, decodeEvent, embeddedBus, event, table, type Event } from './streams.ts';

export const MIN = 60_000;
export const SALES = 'sales';
export const OUT = 'sales-per-window';

export type Totals = { n: number; cents: number };
export const totals = reducer<Event, Totals>(() => ({ n: 0, cents: 0 }), (a, e) => ({ n: a.n + 1, cents: a.cents + (e.cents as number) }));

/** A processor over `sales` (2 partitions, keyed by region) with a tumbling and a hopping aggregation. */
export async function start(t: TestContext, bus: Bus, windows: { tumble?: WindowSpec; hop?: WindowSpec } = {}): Promise<Processor> {
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

export const sale = (partition: number, region: string, t: number, cents = 100) => event(SALES, partition, region, { t, cents });

export async function run(bus: Bus, records: OutRecord[]): Promise<void> {
  await bus.publish(records);
  await caughtUp(bus, 'sales-app', [SALES]);
}

/** Sales over 2 partitions and 3 regions, 10 s apart; every 4th 75 s behind, late for some windows. */
export function history(from: number, n: number): OutRecord[] {
  return Array.from({ length: n }, (_, j) => {
    const i = from + j;
    const region = ['eu', 'us', 'asia'][i % 3];
    const partition = region === 'us' ? 1 : 0;
    return sale(partition, region, i * 10_000 - (i % 4 === 0 ? 75_000 : 0), 100 + i);
  });
}

export async function uninterrupted(t: TestContext, records: OutRecord[]): Promise<{ table: Map<string, unknown>; late: number }> {
  const { bus } = embeddedBus(t);
  const p = await start(t, bus);
  for (let i = 0; i < records.length; i += 10) await run(bus, records.slice(i, i + 10));
  const late = p.stats().late;
  await p.close();
  return { table: await table(bus, OUT), late };
}
