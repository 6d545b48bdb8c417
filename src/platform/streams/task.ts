/**
 * A task: the processing of one input partition p of a processor (processor.ts), over all
 * its co-partitioned input topics. It owns its stores, its watermark and its positions, and
 * turns one delivered batch into the batch's outputs and state changes, which the processor
 * then makes durable (changelog.ts). No clock, no randomness: event time and the watermark
 * only, so the same input from the same state gives the same result.
 *
 * Deduplication, so that effects are counted once:
 * - records below the task's position (the marker's next offset per topic) were processed
 *   already: the group's commit lags behind the marker, or the batch is a redelivery;
 * - records published by a processor (outputs, repartitioned records) carry their source
 *   position (SOURCE_HEADER: the upstream task, the offset of the input record and the index
 *   of the output it caused). Per upstream task they arrive in increasing position, and a
 *   republished batch repeats positions already seen: those are dropped. The high mark per
 *   upstream task is part of the marker, so this holds across restores;
 * - an input may name an id (an envelope's id): ids are remembered for `withinMs` of event
 *   time, which catches a producer's at-least-once duplicates (an outbox relay's).
 */
import type { InRecord, OutRecord } from '#platform/bus/bus.ts';
import type { GroupTopics } from './caught-up.ts';
import { createDeadlines, createStore, type Changes, type StateStore } from './state-store.ts';

/** Header of every record a processor publishes: JSON [upstream task, offset, index]. */
export const SOURCE_HEADER = 'x-stream-source';

/** A SOURCE_HEADER's [upstream task, offset, index], or undefined when absent or malformed. */
export function parseSource(raw: string | undefined): [string, number, number] | undefined {
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v) && v.length === 3 && typeof v[0] === 'string' && Number.isSafeInteger(v[1]) && Number.isSafeInteger(v[2])) return v as [string, number, number];
  } catch {
    // not ours: no position to deduplicate by
  }
  return undefined;
}

/** A record as operators see it: decoded value and event time. */
export interface StreamRecord<V = unknown> {
  /** The input topic (the original one for a repartitioned input). */
  topic: string;
  key: string;
  value: V;
  /** Event time, ms since the epoch. */
  time: number;
  /** A stable identity of the record: its source position. */
  id: string;
}

/** What an operator instance may do while handling a record. */
export interface OperatorContext {
  readonly partition: number;
  /** The task's watermark: the largest event time it processed (its inputs are taken in event-time order: input-buffers.ts). */
  readonly watermark: number;
  store<T>(name: string): StateStore<T>;
  /** Queues an output record; in one batch, the last value per topic and key wins (an upsert). */
  emit(topic: string, key: string, value: unknown): void;
  /** Counts records (or record-window pairs) dropped for being late. */
  late(n?: number): void;
}

/** One operator of one task (a window aggregation, a join): its in-memory indexes live here. */
export interface OperatorInstance {
  process(rec: StreamRecord): void;
  /** The watermark advanced: close and evict what is due. */
  advance(): void;
  /** The stores were restored: rebuild the in-memory indexes from them. */
  restored(): void;
}

/** An operator as declared: what it reads, keeps and writes, and how to make one per task. */
export interface OperatorSpec {
  readonly name: string;
  readonly topics: readonly string[];
  readonly stores: readonly string[];
  readonly outputs: readonly string[];
  instantiate(ctx: OperatorContext): OperatorInstance;
}

/** How an input topic's records are read. */
export interface InputSpec<V = unknown> {
  topic: string;
  /** The record's value, or undefined to skip it (counted). */
  decode(record: InRecord): V | undefined;
  /** Event time in ms; a non-finite time skips the record (counted). */
  time(value: V): number;
  /**
   * The grouping key, when the topic is not keyed by it: records are then re-keyed through
   * `<app>.<topic>.repartition` first (undefined drops the record, counted as skipped).
   */
  rekey?(value: V): string | undefined;
  /**
   * Drops a record whose id was seen within `withinMs` of event time (a producer's duplicate).
   * An id is forgotten once the watermark passes its time + withinMs; with withinMs at least
   * the largest window size + grace, a copy arriving later is late for every window anyway.
   */
  dedupe?: { id(value: V): string; withinMs: number };
  /**
   * The stages that write this topic (an upstream processor's `groups`): the input is caught
   * up, not to be waited for when it has nothing buffered, only once they have read all of
   * their inputs (caught-up.ts). Without it, only its own end offset tells.
   */
  upstream?: readonly GroupTopics[];
}

/** Where a task stands: written as the commit marker after every batch. */
export interface TaskPosition {
  /** Next offset to process, per input topic as subscribed. */
  positions: Record<string, number>;
  /** Largest event time seen; null before any record. */
  watermark: number | null;
  /** Highest source position seen per upstream task: [offset, index]. */
  sources: Record<string, [number, number]>;
  counters: { late: number; duplicates: number; skipped: number };
  /** Batches committed by this partition's tasks so far. */
  seq: number;
}

/** A delivered record read ahead of processing: its decoded value and event time (NaN when unreadable). */
export interface Pending {
  topic: string;
  record: InRecord;
  value: unknown;
  time: number;
}

/** What one batch produced, for the processor to make durable. */
export interface BatchResult {
  /** Outputs in source order (offset, then index), each with its SOURCE_HEADER. */
  outputs: OutRecord[];
  changes: Changes;
}

/** One partition's processing (see the module comment). */
export interface Task {
  readonly partition: number;
  position: TaskPosition;
  /** During a restore: applies a changelog entry (`<store>|<key>`, undefined = deleted). */
  load(storeKey: string, value: unknown): void;
  /** After a restore: rebuilds the operators' indexes. */
  restored(position: TaskPosition | undefined): void;
  /** Decodes a delivered record and reads its event time, so that it can be ordered before it is processed. */
  read(topic: string, record: InRecord): Pending;
  /** Processes records in the order given (in offset order per topic); those below the position are skipped. */
  process(records: Pending[]): BatchResult;
  stores(): Map<string, StateStore<unknown>>;
}

const SEEN_STORE = '__seen';

// A record its input cannot read (a decoder that throws) is skipped and counted, not retried
// for ever: the same bytes would fail the same way. An operator's error fails the batch.
function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** Where a partition never processed stands. */
export function emptyPosition(): TaskPosition {
  return { positions: {}, watermark: null, sources: {}, counters: { late: 0, duplicates: 0, skipped: 0 }, seq: 0 };
}

/** Creates the task of `partition`; `inputOf` maps a subscribed topic to its input spec. */
export function createTask(opts: { app: string; partition: number; operators: readonly OperatorSpec[]; inputOf(topic: string): InputSpec | undefined }): Task {
  const { app, partition } = opts;
  let changes: Changes = new Map();
  const stores = new Map<string, ReturnType<typeof createStore<unknown>>>();
  const storeOf = (name: string) => {
    let s = stores.get(name);
    if (!s) stores.set(name, (s = createStore<unknown>(name, changes)));
    return s;
  };
  let position = emptyPosition();
  let outputs = new Map<string, { record: OutRecord; offset: number; index: number }>();
  let current = { offset: 0, index: 0, source: '' };

  const ctx: OperatorContext = {
    partition,
    get watermark() {
      return position.watermark ?? Number.NEGATIVE_INFINITY;
    },
    store: <T>(name: string) => storeOf(name) as StateStore<T>,
    emit(topic, key, value) {
      const index = current.index++;
      const headers = { [SOURCE_HEADER]: JSON.stringify([current.source, current.offset, index]) };
      const id = `${topic}\u0000${key}`;
      outputs.delete(id); // re-inserted last: the order is that of the last update
      outputs.set(id, { record: { topic, key, value: JSON.stringify(value), headers }, offset: current.offset, index });
    },
    late(n = 1) {
      position.counters.late += n;
    },
  };
  const operators = opts.operators.map((o) => ({ spec: o, instance: o.instantiate(ctx) }));
  const seen = createDeadlines();

  // A store's changes map is the task's: a new map per batch means new stores would miss it,
  // so the map is cleared, never replaced, once stores exist.
  function takeChanges(): Changes {
    const taken = new Map(changes);
    changes.clear();
    return taken;
  }

  function isDuplicateSource(r: InRecord): boolean {
    const parsed = parseSource(r.headers[SOURCE_HEADER]);
    if (!parsed) return false;
    const [source, offset, index] = parsed;
    const mark = position.sources[source];
    if (mark && (offset < mark[0] || (offset === mark[0] && index <= mark[1]))) return true;
    position.sources[source] = [offset, index];
    return false;
  }

  function read(topic: string, r: InRecord): Pending {
    const input = opts.inputOf(topic);
    const value = input ? attempt(() => input.decode(r)) : undefined;
    const time = value === undefined ? NaN : attempt(() => input!.time(value)) ?? NaN;
    return { topic, record: r, value, time };
  }

  function handle({ topic, record: r, value, time }: Pending): void {
    const input = opts.inputOf(topic);
    if (!input) return;
    if (isDuplicateSource(r)) {
      position.counters.duplicates++;
      return;
    }
    if (value === undefined || !Number.isFinite(time)) {
      position.counters.skipped++;
      return;
    }
    if (input.dedupe) {
      const seenKey = `${input.topic}|${input.dedupe.id(value)}`;
      const store = storeOf(SEEN_STORE);
      if (store.get(seenKey) !== undefined) {
        position.counters.duplicates++;
        return;
      }
      // Forgotten once a copy would be late anyway for every window that cares (withinMs).
      store.put(seenKey, time + input.dedupe.withinMs);
      seen.add(time + input.dedupe.withinMs, seenKey);
    }
    const before = position.watermark;
    if (before === null || time > before) position.watermark = time;
    const rec: StreamRecord = { topic: input.topic, key: r.key, value, time, id: `${r.topic}:${r.partition}:${r.offset}` };
    for (const o of operators) if (o.spec.topics.includes(input.topic)) o.instance.process(rec);
    if (position.watermark !== before) {
      for (const key of seen.due(position.watermark! - 1)) storeOf(SEEN_STORE).delete(key);
      for (const o of operators) o.instance.advance();
    }
  }

  return {
    partition,
    get position() {
      return position;
    },
    set position(p: TaskPosition) {
      position = p;
    },
    load(storeKey, value) {
      const at = storeKey.indexOf('|');
      storeOf(storeKey.slice(0, at)).load(storeKey.slice(at + 1), value);
    },
    restored(p) {
      position = p ? structuredClone(p) : emptyPosition();
      changes.clear();
      for (const [key, until] of storeOf(SEEN_STORE).entries()) seen.add(until as number, key);
      for (const o of operators) o.instance.restored();
    },
    read,
    process(records) {
      outputs = new Map();
      for (const pending of records) {
        const { topic, record: r } = pending;
        const offset = Number(r.offset);
        if (offset < (position.positions[topic] ?? 0)) continue;
        position.positions[topic] = offset + 1;
        current = { offset, index: 0, source: `${app}|${topic}|${partition}` };
        handle(pending);
      }
      position.seq++;
      // In the order of their last update, which is processing order: per source (one input
      // topic), increasing positions, as a downstream task's deduplication expects.
      const out = [...outputs.values()].map((o) => o.record);
      return { outputs: out, changes: takeChanges() };
    },
    stores: () => stores as Map<string, StateStore<unknown>>,
  };
}
