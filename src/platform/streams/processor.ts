/**
 * A stream processor: Kafka Streams' model on the Bus port, exactly once without Kafka
 * transactions. See docs/architecture.md, "Stream processing", for the whole argument.
 *
 * - A task per input partition p (task.ts). All direct inputs are co-partitioned (the same
 *   partition count, keyed by the grouping key); an input that is not names `rekey` and is
 *   re-keyed through `<app>.<topic>.repartition` by a stateless step of the processor
 *   (repartition.ts), which merges its source partitions in event-time order.
 * - Stream time across inputs. The bus delivers each input's batches on its own, so one input
 *   may run far ahead of another (a backlog, a burst, a rebuild). A task buffers what it is
 *   handed and processes the record with the smallest event time among its inputs' heads
 *   (input-buffers.ts); an input with nothing buffered is waited for, unless it is caught up
 *   (caught-up.ts: its end offset reached, and the stages that write it, the re-keying step
 *   and the upstream processors an input names, at their ends), for at most `maxIdleMs`,
 *   then the task goes on without it until it has data again (Kafka Streams'
 *   max.task.idle.ms). A batch's handle resolves only once all its records are processed and
 *   their marker written: until then the bus holds that input partition's next batch and
 *   commits nothing past it, so a buffered record is never committed unprocessed; a task that
 *   is restored or closed fails the batches it holds, and the bus delivers them again. The
 *   wait costs latency, never records: at most maxIdleMs each time an input that is not
 *   caught up runs dry, and Bus.positions reads (a few per processor every 100 ms, only
 *   while a task waits). Batches of one partition's inputs are handed in concurrently: the
 *   per-partition lock covers buffering and processing, never the wait.
 * - State lives in memory; after every batch, its changes, its outputs and last a commit
 *   marker (the next offset per input topic, the watermark, the sources' high marks) go to
 *   partition p of the compacted `<app>.changelog` in ONE publish. That is atomic on both
 *   adapters: the embedded log appends a publish in one SQLite transaction; on Kafka,
 *   @platformatic/kafka sends one partition's records of one send() as one RecordBatch
 *   (dist/apis/producer/produce-v*.js createRequest: topic_data grouped by topic, then by
 *   partition, one createRecordsBatch per partition; dist/clients/producer/producer.js
 *   #performSend: one Produce request per leader), and the broker appends a batch whole or
 *   not at all. The group's committed offset only saves re-reading: the marker is the position.
 * - Outputs are published AFTER the marker, from the outbox written with it, not before it
 *   as first proposed: a replay after a crash between outputs and marker is identical only
 *   if processing is, and it is not when a task has two input topics (their batches
 *   interleave as delivered), so a join's replayed outputs would differ from those already
 *   sent. From the outbox, they are sent again unchanged on restore: at least once, each
 *   with its source position, which processors downstream deduplicate (task.ts).
 * - Restore: a task seen for the first time, after a failure, after its partition was
 *   assigned to this member again (Bus onAssigned), or given a batch that does not start
 *   where it stopped (the partition moved away and back) reads its changelog
 *   partition from the start (compaction keeps it short), claims it (changelog.ts fences a
 *   zombie owner's late writes) and skips input below the marker.
 *
 * What is exactly once: the state, the marker's counters, and what a downstream processor
 * derives (duplicates dropped by source position). What is idempotent only: the output
 * topics as a plain consumer sees them (window results are upserts by key; join matches have
 * unique keys).
 */
import { randomUUID } from 'node:crypto';
import type { Bus, InRecord, Subscription, TopicSpec } from '#platform/bus/bus.ts';
import { ConfigError } from '#platform/errors.ts';
import { silentLogger, type Logger } from '#platform/log.ts';
import { createCaughtUp, type GroupTopics } from './caught-up.ts';
import { changelogRecords, changelogTopic, restoreTask } from './changelog.ts';
import { createInputBuffers, type Buffered, type InputBuffers } from './input-buffers.ts';
import { createRepartitionStep, newDelivery, StreamTaskReset, type Delivery, type RepartitionStep } from './repartition.ts';
import { createTask, type InputSpec, type OperatorSpec, type Task } from './task.ts';

/** A processor: its bus, its name, its partitions, its inputs and operators. */
export interface ProcessorOptions {
  bus: Bus;
  /** Names the group and the internal topics (`<app>.changelog`, `<app>.<topic>.repartition`); without '|'. */
  app: string;
  /** Partitions of the direct inputs (checked), the internal topics and the outputs (created). */
  partitions: number;
  /** Declared with `input(...)`, which types each spec by its decoded value. */
  inputs: InputSpec[];
  operators: OperatorSpec[];
  /** Most input records per batch (and so per changelog write); default 200. */
  maxBatch?: number;
  /**
   * How long a task waits for an input that has nothing buffered and is not caught up before
   * it goes on without it (Kafka Streams' max.task.idle.ms; input-buffers.ts); default 2,000 ms.
   */
  maxIdleMs?: number;
  log?: Logger;
}

/** Counters for metrics and tests. late/duplicates/skipped are exact: they live in the markers. */
export interface ProcessorStats {
  /** Partitions this instance has had a task for (one that moved away keeps its slot, restored if it comes back). */
  tasks: number[];
  restores: number;
  /** Changelog records read by restores (not input records). */
  restoredRecords: number;
  /** Changelog records ignored by restores: written by fenced owners. */
  ignoredRecords: number;
  /** Entries held in the stores of this instance's tasks. */
  stateEntries: number;
  /** Input records this instance processed (those below a marker, skipped, are not counted). */
  processed: number;
  late: number;
  duplicates: number;
  skipped: number;
}

/** A running processor. */
export interface Processor {
  /** Its consumer groups, the re-keying step first: name them as `upstream` of an input fed by this processor's outputs. */
  readonly groups: readonly GroupTopics[];
  stats(): ProcessorStats;
  /** Stops consuming, waits for batches in flight, leaves the groups. */
  close(): Promise<void>;
}

interface TaskSlot {
  task: Task;
  gen: number;
  /** Next offset per topic this task itself expects (unset until it handled a batch of it). */
  expected: Record<string, number>;
  broken: boolean;
  /** Records delivered and not yet processed; their deliveries wait (input-buffers.ts). */
  buffers: InputBuffers<Delivery>;
  /** Deliveries whose records are not all processed yet. */
  deliveries: Set<Delivery>;
  timer?: NodeJS.Timeout;
}

const CHANGELOG_MAX_BATCH_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_IDLE_MS = 2_000;
// How often a waiting task asks again whether the inputs it waits for are caught up.
const CAUGHT_UP_TTL_MS = 100;

export { StreamTaskReset };

/** Declares an input; its functions are typed by what `decode` returns. */
export function input<V>(spec: InputSpec<V>): InputSpec {
  return spec as unknown as InputSpec;
}

/** Starts a processor: creates its internal and output topics, checks co-partitioning, subscribes. */
export async function startProcessor(opts: ProcessorOptions): Promise<Processor> {
  const { bus, app, partitions, operators } = opts;
  const log = opts.log ?? silentLogger;
  const inputs = opts.inputs;
  validate(opts);
  const repartitionTopic = (topic: string) => `${app}.${topic}.repartition`;
  const bySubscribed = new Map<string, InputSpec>();
  for (const i of inputs) bySubscribed.set(i.rekey ? repartitionTopic(i.topic) : i.topic, i);
  const direct = inputs.filter((i) => !i.rekey).map((i) => i.topic);
  const rekeyed = inputs.filter((i) => i.rekey);

  const outputs = [...new Set(operators.flatMap((o) => o.outputs))];
  const specs: TopicSpec[] = [
    { name: changelogTopic(app), partitions, compact: true, maxRecordBytes: CHANGELOG_MAX_BATCH_BYTES },
    ...rekeyed.map((i) => ({ name: repartitionTopic(i.topic), partitions })),
    ...outputs.map((name) => ({ name, partitions })),
  ];
  await bus.ensureTopics(specs);
  if (direct.length > 0) {
    const counts = new Map<string, number>();
    for (const pos of await bus.positions(direct)) counts.set(pos.topic, (counts.get(pos.topic) ?? 0) + 1);
    for (const t of direct) {
      if (counts.get(t) !== partitions) throw ConfigError(`processor ${app}: input ${t} has ${counts.get(t) ?? 0} partitions, not ${partitions}: inputs must be co-partitioned (or re-keyed)`);
    }
  }

  const slots = new Map<number, TaskSlot>();
  const locks = new Map<number, Promise<unknown>>();
  const totals = { restores: 0, restoredRecords: 0, ignoredRecords: 0, processed: 0 };
  const maxBatch = opts.maxBatch ?? 200;
  const maxIdleMs = opts.maxIdleMs ?? DEFAULT_MAX_IDLE_MS;
  const subscribed = [...bySubscribed.keys()];
  const step: RepartitionStep | undefined = rekeyed.length > 0
    ? createRepartitionStep({ bus, app, inputs: rekeyed, maxBatch, maxIdleMs, caughtUpTtlMs: CAUGHT_UP_TTL_MS })
    : undefined;
  const stepGroup = step?.group;
  const groups: GroupTopics[] = [...(stepGroup ? [stepGroup] : []), { groupId: app, topics: subscribed }];
  const caught = createCaughtUp(bus, subscribed.map((topic) => {
    const i = bySubscribed.get(topic)!;
    return { topic, producers: [...(i.upstream ?? []), ...(stepGroup && i.rekey ? [{ groupId: stepGroup.groupId, topics: [i.topic] }] : [])] };
  }), CAUGHT_UP_TTL_MS);
  let closing = false;

  // Batches of two topics of one partition are delivered concurrently: one task, one at a time.
  function locked<T>(p: number, fn: () => Promise<T>): Promise<T> {
    const run = (locks.get(p) ?? Promise.resolve()).then(fn, fn);
    locks.set(p, run.catch(() => {}));
    return run;
  }

  // The deliveries waiting in a task that is dropped are failed: the bus delivers them again.
  function fail(slot: TaskSlot, err: unknown): void {
    slot.broken = true;
    clearTimeout(slot.timer);
    slot.buffers.clear();
    for (const d of slot.deliveries) d.reject(err);
    slot.deliveries.clear();
  }

  async function restore(p: number): Promise<TaskSlot> {
    const old = slots.get(p);
    if (old) fail(old, StreamTaskReset(`stream task ${app}:${p} restored: its buffered batches are delivered again`));
    const task = createTask({ app, partition: p, operators, inputOf: (t) => bySubscribed.get(t) });
    const r = await restoreTask(bus, app, task, randomUUID());
    totals.restores++;
    totals.restoredRecords += r.read;
    totals.ignoredRecords += r.ignored;
    // The last batch's outputs may not have gone out before the previous owner stopped.
    if (r.outbox.length > 0) await bus.publish(r.outbox);
    log.info({ app, partition: p, read: r.read, ignored: r.ignored, gen: r.gen }, 'stream task restored');
    const slot: TaskSlot = { task, gen: r.gen, expected: {}, broken: false, buffers: createInputBuffers(subscribed, maxIdleMs), deliveries: new Set() };
    slots.set(p, slot);
    return slot;
  }

  // Processes what the buffers give in stream-time order, a changelog write per maxBatch
  // records, and settles the deliveries whose records are all durable; when it stops for an
  // input that is not caught up, it comes back when that wait ends (or to ask again).
  async function drain(p: number, slot: TaskSlot): Promise<void> {
    clearTimeout(slot.timer);
    const task = slot.task;
    try {
      for (;;) {
        if (slot.broken || closing) return;
        if (slot.buffers.size() > 0 && slot.buffers.anyEmpty() && caught.stale(Date.now())) await caught.refresh();
        const { records, waitUntil } = slot.buffers.take(maxBatch, Date.now(), (t) => caught.caughtUp(t, p, task.position.positions[t]));
        if (records.length > 0) {
          const { outputs: out, changes } = task.process(records);
          await bus.publish(changelogRecords(app, p, slot.gen, changes, task.position, out));
          totals.processed += records.length;
          if (out.length > 0) await bus.publish(out);
          for (const r of records) if (--r.delivery.left === 0) settle(slot, r.delivery);
        }
        if (waitUntil !== undefined) {
          const delay = Math.max(0, Math.min(waitUntil - Date.now(), CAUGHT_UP_TTL_MS));
          slot.timer = setTimeout(() => void locked(p, () => (slots.get(p) === slot ? drain(p, slot) : Promise.resolve())), delay);
          return;
        }
        if (records.length === 0) return;
      }
    } catch (err) {
      // The stores may hold half a batch, or a batch whose write is in doubt: start over from the changelog.
      fail(slot, err);
    }
  }

  function settle(slot: TaskSlot, d: Delivery): void {
    slot.deliveries.delete(d);
    d.resolve();
  }

  async function handle(batch: InRecord[]): Promise<void> {
    const { topic, partition: p } = batch[0];
    if (closing) throw StreamTaskReset(`stream processor ${app} is closing`);
    // The wait for the batch's records to be processed is outside the lock: the other
    // inputs' batches must get in meanwhile.
    const waiting = await locked(p, async () => {
      let slot = slots.get(p);
      const first = Number(batch[0].offset);
      if (!slot || slot.broken || (slot.expected[topic] !== undefined && slot.expected[topic] !== first)) slot = await restore(p);
      const task = slot.task;
      const from = task.position.positions[topic];
      if (slot.expected[topic] === undefined && from !== undefined && first > from) {
        log.warn({ app, topic, partition: p, first, expected: from }, 'stream task: input offsets skipped past the marker');
      }
      slot.expected[topic] = Number(batch[batch.length - 1].offset) + 1;
      const fresh = from === undefined ? batch : batch.filter((r) => Number(r.offset) >= from);
      if (fresh.length === 0) return undefined; // all processed already
      const { delivery, done } = newDelivery(fresh.length);
      slot.deliveries.add(delivery);
      slot.buffers.add(topic, fresh.map((r): Buffered<Delivery> => ({ ...task.read(topic, r), delivery })));
      await drain(p, slot);
      return { done };
    });
    await waiting?.done;
  }

  const subscriptions: Subscription[] = [];
  try {
    if (step) subscriptions.push(await bus.subscribe({ groupId: step.group.groupId, topics: [...step.group.topics], maxBatch, handle: step.handle, onAssigned: step.assigned }));
    subscriptions.push(
      await bus.subscribe({
        groupId: app,
        topics: subscribed,
        maxBatch,
        handle,
        // A task is one partition of every input: one member must get them all.
        copartitioned: true,
        // A partition given back to us may have been another member's meanwhile (its claim
        // then fences what this task would write): its task starts over from the changelog.
        // The batches it still holds fail (they belong to the ownership before; the embedded
        // log waits for their handles before a member takes a topic over).
        onAssigned: (_topic, partitions) => {
          for (const p of partitions) {
            const slot = slots.get(p);
            if (slot) fail(slot, StreamTaskReset(`stream task ${app}:${p} reassigned: its buffered batches are delivered again`));
          }
        },
      }),
    );
  } catch (err) {
    await Promise.allSettled(subscriptions.map((s) => s.close()));
    throw err;
  }

  return {
    groups,
    stats() {
      const s: ProcessorStats = { tasks: [...slots.keys()].sort((a, b) => a - b), ...totals, late: 0, duplicates: 0, skipped: 0, stateEntries: 0 };
      for (const slot of slots.values()) {
        for (const store of slot.task.stores().values()) s.stateEntries += store.size;
        s.late += slot.task.position.counters.late;
        s.duplicates += slot.task.position.counters.duplicates;
        s.skipped += slot.task.position.counters.skipped;
      }
      return s;
    },
    async close() {
      // Records buffered but not processed are not committed: their batches fail, and are
      // delivered again to whoever has the partition next.
      closing = true;
      const closed = subscriptions.reverse().map((s) => s.close());
      step?.close();
      for (const slot of slots.values()) fail(slot, StreamTaskReset(`stream processor ${app} is closing`));
      await Promise.all(closed);
    },
  };
}

function validate(opts: ProcessorOptions): void {
  const { app, partitions, inputs, operators } = opts;
  if (!app || app.includes('|')) throw ConfigError(`a processor's app name must be non-empty without '|', got ${JSON.stringify(app)}`);
  if (!Number.isInteger(partitions) || partitions < 1) throw ConfigError(`processor ${app}: partitions must be a whole number >= 1, got ${partitions}`);
  const topics = new Set(inputs.map((i) => i.topic));
  if (topics.size !== inputs.length) throw ConfigError(`processor ${app}: an input topic is declared twice`);
  const names = new Set<string>();
  for (const o of operators) {
    // '__' starts the changelog's own keys (marker, claims, outbox, seen ids).
    if (!o.name || o.name.includes('|') || o.name.startsWith('__') || names.has(o.name)) {
      throw ConfigError(`processor ${app}: operator name ${JSON.stringify(o.name)} is empty, repeated, holds '|' or starts with '__'`);
    }
    names.add(o.name);
    for (const t of o.topics) if (!topics.has(t)) throw ConfigError(`processor ${app}: operator ${o.name} reads ${t}, which is not among the inputs`);
  }
}
