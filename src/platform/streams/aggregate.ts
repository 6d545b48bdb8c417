/**
 * A windowed aggregation: per grouping key and window, an accumulator kept in a store and
 * emitted in update mode (every batch that changes a window emits its new value; the window
 * emits once more with `final: true` when the watermark closes it, and is then evicted).
 *
 * Outputs are upserts: keyed `<name>|<group>|<window start>`, each carrying the full value,
 * so a reader keeping the last value per key holds the current table of windows, and a
 * repeated output changes nothing.
 */
import { createDeadlines } from './state-store.ts';
import type { OperatorSpec, StreamRecord } from './task.ts';
import { windowsOf, type Aggregator, type WindowSpec } from './windows.ts';

/** An output record's value. */
export interface WindowResult<A> {
  /** The aggregation's name. */
  name: string;
  /** The grouping key. */
  key: string;
  start: number;
  end: number;
  value: A;
  /** True once the window is closed: the value will not change again. */
  final: boolean;
}

/** What `windowedAggregate` aggregates, how, and where it writes. */
export interface WindowedAggregateOptions<V, A> {
  /** Names the store and prefixes output keys: unique in the processor, without '|'. */
  name: string;
  /** Input topics (as declared in the processor's inputs). */
  topics: string[];
  windows: WindowSpec;
  /**
   * The grouping key; the record's key by default. It must be the key the input is
   * partitioned by (or re-keyed by, InputSpec.rekey), or each partition would aggregate
   * its own share of a group.
   */
  groupBy?(value: V, record: StreamRecord<V>): string;
  /** Records to leave out (e.g. other message types on the topic). */
  filter?(value: V): boolean;
  aggregator: Aggregator<V, A>;
  /** Output topic of the WindowResult records. */
  output: string;
}

interface Entry<A> {
  key: string;
  start: number;
  end: number;
  value: A;
}

/** Declares a windowed aggregation (see the module comment). */
export function windowedAggregate<V, A>(opts: WindowedAggregateOptions<V, A>): OperatorSpec {
  const { name, windows, aggregator, output } = opts;
  return {
    name,
    topics: opts.topics,
    stores: [name],
    outputs: [output],
    instantiate(ctx) {
      const store = ctx.store<Entry<A>>(name);
      const deadlines = createDeadlines();
      const emit = (e: Entry<A>, final: boolean) => {
        const result: WindowResult<A> = { name, key: e.key, start: e.start, end: e.end, value: e.value, final };
        ctx.emit(output, `${name}|${e.key}|${e.start}`, result);
      };
      return {
        process(rec) {
          const value = rec.value as V;
          if (opts.filter && !opts.filter(value)) return;
          const group = opts.groupBy ? opts.groupBy(value, rec as StreamRecord<V>) : rec.key;
          for (const w of windowsOf(windows, rec.time)) {
            if (ctx.watermark >= w.end + windows.graceMs) {
              ctx.late();
              continue;
            }
            const storeKey = `${w.start}|${group}`;
            let e = store.get(storeKey);
            if (!e) {
              e = { key: group, start: w.start, end: w.end, value: aggregator.init() };
              deadlines.add(w.end + windows.graceMs, storeKey);
            }
            e.value = aggregator.add(e.value, value);
            store.put(storeKey, e);
            emit(e, false);
          }
        },
        advance() {
          for (const storeKey of deadlines.due(ctx.watermark)) {
            const e = store.get(storeKey);
            if (!e) continue;
            emit(e, true);
            store.delete(storeKey);
          }
        },
        restored() {
          for (const [storeKey, e] of store.entries()) deadlines.add(e.end + windows.graceMs, storeKey);
        },
      };
    },
  };
}
