/**
 * A task's input buffers: the records delivered to it but not yet processed, one queue per
 * input topic, taken in stream-time order (Kafka Streams' PartitionGroup). The bus delivers
 * each input's batches on its own, so one input may run minutes of event time ahead of
 * another (a backlog, a burst, a rebuild); processed as delivered, the slower input's records
 * would fall behind watermark − grace and be dropped as late. Taken by smallest event time
 * among the queues' heads, the inputs advance together and the watermark (the largest event
 * time processed) stays fair to all of them.
 *
 * An input with nothing buffered is waited for, since its next record may be the earliest,
 * unless it is caught up (everything there is to read of it was processed; the caller knows
 * how: processor.ts) or it has been empty and waited for `idleMs` already: then the others go
 * on without it (Kafka Streams' max.task.idle.ms), and keep going until it has data again.
 * No clock here: the caller passes `now`.
 */
import type { Pending } from './task.ts';

/** A buffered record and the delivery it belongs to (settled once all of its records are). */
export interface Buffered<D> extends Pending {
  delivery: D;
}

/** What `take` found: the records to process now, and until when it waits when it stopped early. */
export interface Taken<D> {
  records: Buffered<D>[];
  /** Set when it stopped for an input that is empty and not caught up: when its wait ends. */
  waitUntil?: number;
}

export interface InputBuffers<D> {
  /** Adds an input (waited for from now on when empty); `add` adds one too. */
  open(topic: string): void;
  add(topic: string, records: Buffered<D>[]): void;
  /** True when some input has nothing buffered (whether it is caught up decides a wait). */
  anyEmpty(): boolean;
  /** Up to `max` records in stream-time order (see the module comment). */
  take(max: number, now: number, caughtUp: (topic: string) => boolean): Taken<D>;
  /** Empties the buffers; returns what they held, for the caller to fail those deliveries. */
  clear(): Buffered<D>[];
  /** Records buffered. */
  size(): number;
}

/** Buffers for a task over `topics` (in the order opened, which breaks ties of event time). */
export function createInputBuffers<D>(topics: readonly string[], idleMs: number): InputBuffers<D> {
  const queues = new Map(topics.map((t) => [t, { items: [] as Buffered<D>[], head: 0 }]));
  // Since when an input has been empty while not caught up; deleted once it has data.
  const emptySince = new Map<string, number>();
  let size = 0;
  // An unreadable record (NaN) is skipped when processed: it goes first, holding nothing up.
  const timeOf = (b: Buffered<D>) => (Number.isNaN(b.time) ? Number.NEGATIVE_INFINITY : b.time);

  const open = (topic: string) => {
    let q = queues.get(topic);
    if (!q) queues.set(topic, (q = { items: [], head: 0 }));
    return q;
  };

  return {
    open,
    add(topic, records) {
      const q = open(topic);
      if (records.length === 0) return;
      if (q.head > 0) {
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
      q.items.push(...records);
      size += records.length;
    },
    anyEmpty: () => [...queues.values()].some((q) => q.head === q.items.length),
    take(max, now, caughtUp) {
      const records: Buffered<D>[] = [];
      while (records.length < max) {
        let best: { items: Buffered<D>[]; head: number } | undefined;
        for (const q of queues.values()) {
          if (q.head < q.items.length && (!best || timeOf(q.items[q.head]) < timeOf(best.items[best.head]))) best = q;
        }
        if (!best) break; // nothing buffered: nothing waits
        let waitUntil: number | undefined;
        for (const [topic, q] of queues) {
          if (q.head < q.items.length || caughtUp(topic)) {
            emptySince.delete(topic);
            continue;
          }
          let since = emptySince.get(topic);
          if (since === undefined) emptySince.set(topic, (since = now));
          if (now - since < idleMs) waitUntil = Math.min(waitUntil ?? Infinity, since + idleMs);
        }
        if (waitUntil !== undefined) return { records, waitUntil };
        records.push(best.items[best.head++]);
        size--;
      }
      return { records };
    },
    clear() {
      const all = [...queues.values()].flatMap((q) => q.items.slice(q.head));
      for (const q of queues.values()) {
        q.items = [];
        q.head = 0;
      }
      emptySince.clear();
      size = 0;
      return all;
    },
    size: () => size,
  };
}
