/**
 * A stream–stream join within a time difference: a left record at time tl and a right record
 * at time tr of the same join key match when tl - beforeMs <= tr <= tl + afterMs (views then
 * orders within 30 minutes: beforeMs 0, afterMs 30 min). Inner join: unmatched records give
 * nothing.
 *
 * Both sides are buffered per key in stores (changelogged like any state), and each arriving
 * record is matched with the other side's buffer, so the arrival order does not matter: an
 * order processed before its view still meets it when the view comes.
 *
 * Time: a record older than watermark - grace is late (dropped, counted). A buffered record
 * is evicted once no record that is not late could match it any more: a left record when
 * the watermark passes tl + afterMs + grace, a right one past tr + beforeMs + grace.
 *
 * Each match is emitted once, keyed `<name>|<left id>|<right id>` (ids are the records'
 * source positions): an event, not an upsert, and its own key, so a repeated output is
 * recognisable downstream.
 */
import { ConfigError } from '#platform/errors.ts';
import { createDeadlines } from './state-store.ts';
import type { OperatorSpec, StreamRecord } from './task.ts';

/** One side of a join: its topic and join key. */
export interface JoinSide<V> {
  topic: string;
  /** The join key (customer, session); the record's key by default; undefined skips the record. */
  key?(value: V, record: StreamRecord<V>): string | undefined;
}

/** What `windowedJoin` joins, within which times, and where it writes. */
export interface WindowedJoinOptions<L, R> {
  /** Names the two buffer stores (`<name>.left`, `<name>.right`); without '|'. */
  name: string;
  left: JoinSide<L>;
  right: JoinSide<R>;
  beforeMs: number;
  afterMs: number;
  graceMs?: number;
  output: string;
  /** The value of a match; undefined emits nothing (e.g. the order does not hold the viewed product). */
  join(left: StreamRecord<L>, right: StreamRecord<R>): unknown;
}

interface Buffered {
  id: string;
  topic: string;
  key: string;
  time: number;
  value: unknown;
}

/** Declares a stream–stream join (see the module comment). */
export function windowedJoin<L, R>(opts: WindowedJoinOptions<L, R>): OperatorSpec {
  const { name, beforeMs, afterMs, output } = opts;
  const graceMs = opts.graceMs ?? 0;
  for (const [what, v] of [['beforeMs', beforeMs], ['afterMs', afterMs], ['graceMs', graceMs]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw ConfigError(`join ${name}: ${what} must be a whole number of ms >= 0, got ${v}`);
  }
  if (opts.left.topic === opts.right.topic) throw ConfigError(`join ${name}: the two sides must be different topics`);
  return {
    name,
    topics: [opts.left.topic, opts.right.topic],
    stores: [`${name}.left`, `${name}.right`],
    outputs: [output],
    instantiate(ctx) {
      const sides = (['left', 'right'] as const).map((side) => ({
        side,
        store: ctx.store<Buffered>(`${name}.${side}`),
        // Join key -> store keys of that key's buffered records.
        byKey: new Map<string, Set<string>>(),
        deadlines: createDeadlines(),
        // How long a record of this side can still meet one of the other.
        keepMs: (side === 'left' ? afterMs : beforeMs) + graceMs,
        keyOf: (rec: StreamRecord) => (side === 'left' ? opts.left.key : opts.right.key)?.(rec.value as never, rec as never) ?? rec.key,
      }));
      const index = (s: (typeof sides)[number], storeKey: string, b: Buffered) => {
        let set = s.byKey.get(b.key);
        if (!set) s.byKey.set(b.key, (set = new Set()));
        set.add(storeKey);
        s.deadlines.add(b.time + s.keepMs + 1, storeKey);
      };
      const asRecord = (b: Buffered): StreamRecord => ({ topic: b.topic, key: b.key, value: b.value, time: b.time, id: b.id });
      const match = (left: Buffered, right: Buffered) => {
        if (right.time < left.time - beforeMs || right.time > left.time + afterMs) return;
        const value = opts.join(asRecord(left) as StreamRecord<L>, asRecord(right) as StreamRecord<R>);
        if (value !== undefined) ctx.emit(output, `${name}|${left.id}|${right.id}`, value);
      };
      return {
        process(rec) {
          const own = sides[rec.topic === opts.left.topic ? 0 : 1];
          const other = sides[own.side === 'left' ? 1 : 0];
          const key = own.keyOf(rec);
          if (key === undefined) return;
          if (rec.time < ctx.watermark - graceMs) {
            ctx.late();
            return;
          }
          const b: Buffered = { id: rec.id, topic: rec.topic, key, time: rec.time, value: rec.value };
          for (const storeKey of other.byKey.get(key) ?? []) {
            const o = other.store.get(storeKey)!;
            if (own.side === 'left') match(b, o);
            else match(o, b);
          }
          const storeKey = `${key}|${rec.id}`;
          own.store.put(storeKey, b);
          index(own, storeKey, b);
        },
        advance() {
          for (const s of sides) {
            for (const storeKey of s.deadlines.due(ctx.watermark)) {
              const b = s.store.get(storeKey);
              if (!b) continue;
              s.store.delete(storeKey);
              const set = s.byKey.get(b.key);
              set?.delete(storeKey);
              if (set?.size === 0) s.byKey.delete(b.key);
            }
          }
        },
        restored() {
          for (const s of sides) for (const [storeKey, b] of s.store.entries()) index(s, storeKey, b);
        },
      };
    },
  };
}
