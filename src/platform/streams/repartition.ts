/**
 * A processor's re-keying step (processor.ts): each record of an input that is not keyed by
 * its grouping key goes to `<app>.<topic>.repartition`, keyed by it. Its source position goes
 * with it (kept when it came from a processor), qualified by the partition it came through,
 * so that downstream sees it in order and drops repeats. Stateless: a record is re-keyed
 * again when redelivered, and the copy dropped downstream by its position.
 *
 * A repartition partition gathers records from every partition of the source topics, so the
 * step merges them in event-time order, as a task merges its inputs (input-buffers.ts, one
 * lane per source topic partition; caught-up.ts): written as delivered, a burst of partition
 * 1 (its last record hours later) could land before partition 0's records of the same
 * minutes, which would then be late downstream. A batch's handle resolves once its records
 * are published; a lane with nothing buffered that is not caught up holds the others back at
 * most maxIdleMs. On Kafka the step's group spreads the source partitions over the instances:
 * each merges its own, and the grace covers the skew between instances.
 */
import type { Bus, InRecord, OutRecord } from '#platform/bus/bus.ts';
import { defineError } from '#platform/errors.ts';
import { createCaughtUp, type GroupTopics } from './caught-up.ts';
import { createInputBuffers, type Buffered } from './input-buffers.ts';
import { parseSource, SOURCE_HEADER, type InputSpec } from './task.ts';

/** A batch handed to a task or step that was reset (restored) or closed before it was processed; the bus delivers it again. */
export const StreamTaskReset = defineError('PLT_ERR_STREAM_TASK_RESET', 503);

/** A delivered batch: its handle resolves once its last record is done, or rejects. */
export interface Delivery {
  left: number;
  resolve(): void;
  reject(err: unknown): void;
}

/** A delivery and the promise its handle awaits (which never counts as unhandled). */
export function newDelivery(records: number): { delivery: Delivery; done: Promise<void> } {
  let delivery!: Delivery;
  const done = new Promise<void>((resolve, reject) => (delivery = { left: records, resolve, reject }));
  done.catch(() => {}); // failed before its handle awaits it: awaited all the same
  return { delivery, done };
}

export interface RepartitionStep {
  readonly group: GroupTopics;
  handle(batch: InRecord[]): Promise<void>;
  /** The subscription's onAssigned: its partitions become lanes. */
  assigned(topic: string, partitions: number[]): void;
  /** Fails the batches waiting (they are delivered again to the next owner). */
  close(): void;
}

export function createRepartitionStep(opts: {
  bus: Bus;
  app: string;
  inputs: readonly InputSpec[];
  maxBatch: number;
  maxIdleMs: number;
  caughtUpTtlMs: number;
}): RepartitionStep {
  const { bus, app, inputs, maxBatch } = opts;
  const group: GroupTopics = { groupId: `${app}.repartition`, topics: inputs.map((i) => i.topic) };
  const laneOf = (topic: string, q: number) => `${topic}:${q}`;
  // Lanes are the partitions assigned to this member (on Kafka the group spreads them): one
  // another member reads is not waited for.
  const buffers = createInputBuffers<Delivery>([], opts.maxIdleMs);
  const caught = createCaughtUp(bus, inputs.map((i) => ({ topic: i.topic, producers: i.upstream ?? [] })), opts.caughtUpTtlMs, group.groupId);
  // Next offset delivered per lane: a lane with nothing buffered is caught up once that is its end.
  const delivered = new Map<string, number>();
  const deliveries = new Set<Delivery>();
  let lock: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closing = false;

  const locked = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lock.then(fn, fn);
    lock = run.catch(() => {});
    return run;
  };

  function read(r: InRecord): Buffered<Delivery> & { key?: string } {
    const input = inputs.find((i) => i.topic === r.topic)!;
    let key: string | undefined;
    let time = NaN;
    try {
      const value = input.decode(r);
      if (value !== undefined) {
        key = input.rekey!(value);
        time = input.time(value);
      }
    } catch {
      key = undefined; // unreadable: the task would skip it too
    }
    return { topic: laneOf(r.topic, r.partition), record: r, value: undefined, time, key, delivery: undefined as unknown as Delivery };
  }

  function out(b: Buffered<Delivery> & { key?: string }): OutRecord | undefined {
    const { record: r, key } = b;
    if (key === undefined) return undefined;
    let source = `${app}|rekey|${r.topic}`;
    let position: [number, number] = [Number(r.offset), 0];
    const upstream = parseSource(r.headers[SOURCE_HEADER]);
    if (upstream) [source, ...position] = upstream;
    return { topic: `${app}.${r.topic}.repartition`, key, value: r.value, headers: { ...r.headers, [SOURCE_HEADER]: JSON.stringify([`${source}@${r.topic}:${r.partition}`, ...position]) } };
  }

  function fail(err: unknown): void {
    clearTimeout(timer);
    for (const b of buffers.clear()) delivered.delete(b.topic);
    for (const d of deliveries) d.reject(err);
    deliveries.clear();
  }

  async function drain(): Promise<void> {
    clearTimeout(timer);
    try {
      for (;;) {
        if (closing) return;
        if (buffers.size() > 0 && buffers.anyEmpty() && caught.stale(Date.now())) await caught.refresh();
        const { records, waitUntil } = buffers.take(maxBatch, Date.now(), (lane) => {
          const at = lane.lastIndexOf(':');
          return caught.caughtUp(lane.slice(0, at), Number(lane.slice(at + 1)), delivered.get(lane));
        });
        const rekeyed = records.map(out).filter((o) => o !== undefined);
        if (rekeyed.length > 0) await bus.publish(rekeyed);
        for (const r of records) {
          if (--r.delivery.left > 0) continue;
          deliveries.delete(r.delivery);
          r.delivery.resolve();
        }
        if (waitUntil !== undefined) {
          timer = setTimeout(() => void locked(drain), Math.max(0, Math.min(waitUntil - Date.now(), opts.caughtUpTtlMs)));
          return;
        }
        if (records.length === 0) return;
      }
    } catch (err) {
      fail(err);
    }
  }

  return {
    group,
    async handle(batch) {
      if (closing) throw StreamTaskReset(`stream processor ${app} is closing`);
      const { delivery, done } = newDelivery(batch.length);
      await locked(async () => {
        const lane = laneOf(batch[0].topic, batch[0].partition);
        delivered.set(lane, Number(batch[batch.length - 1].offset) + 1);
        deliveries.add(delivery);
        buffers.add(lane, batch.map((r) => ({ ...read(r), delivery })));
        await drain();
      });
      await done;
    },
    assigned(topic, partitions) {
      for (const q of partitions) buffers.open(laneOf(topic, q));
    },
    close() {
      closing = true;
      fail(StreamTaskReset(`stream processor ${app} is closing`));
    },
  };
}
