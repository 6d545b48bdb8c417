/**
 * A processor's changelog: one compacted topic, `<app>.changelog`, with as many partitions as
 * the inputs; partition p holds the state of task p. One topic for all the processor's
 * stores (keys `<store>|<key>`), not one per store: a batch's changes and its marker must
 * go to ONE partition in ONE publish to be atomic (see processor.ts).
 *
 * The records of one batch, in order:
 *   `<store>|<key>`    the full new value (JSON), or a tombstone when deleted;
 *   `__out|<i>`        the batch's i-th output record (JSON), the batch's outbox;
 *   `__position`       the marker: TaskPosition plus the number of outputs.
 * Every record carries the header `gen`: the offset of the claim of the task that wrote it.
 *
 * Claims fence zombies. Without transactions a task that lost its partition may still be
 * finishing a batch while the new owner restores; its late writes must not count. A
 * restoring task publishes `__claim|<nonce>` (a key of its own, so compaction never removes
 * it) and reads on until it sees it: its generation is that record's offset. A reader keeps
 * the highest generation seen (claims and records); a record of a lower one was written by
 * a task fenced by a later claim, and is ignored. What a zombie wrote before the new claim
 * is read by the new owner like any record: it then holds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus, InRecord, OutRecord } from '#platform/bus/bus.ts';
import { defineError } from '#platform/errors.ts';
import type { Changes } from './state-store.ts';
import type { Task, TaskPosition } from './task.ts';

/** A restore that could not read its own claim back (the bus lost or hid it). Retryable. */
export const RestoreFailed = defineError('PLT_ERR_STREAM_RESTORE', 503);

/** Key of the commit marker, the last record of every batch. */
export const MARKER_KEY = '__position';
// How long a restore waits to read back the claim it published (it is durable once published).
const CLAIM_READ_ATTEMPTS = 100;
const CLAIM_READ_PAUSE_MS = 20;
const CLAIM_PREFIX = '__claim|';
const OUT_PREFIX = '__out|';
const GEN_HEADER = 'gen';

/** The processor's changelog topic. */
export const changelogTopic = (app: string) => `${app}.changelog`;

type Marker = TaskPosition & { outputs: number };

/** A batch's changelog records: changes, outbox, and last the marker, all for partition p. */
export function changelogRecords(app: string, partition: number, gen: number, changes: Changes, position: TaskPosition, outputs: OutRecord[]): OutRecord[] {
  const topic = changelogTopic(app);
  const headers = { [GEN_HEADER]: String(gen) };
  const out: OutRecord[] = [];
  for (const [key, value] of changes) {
    out.push(value === undefined ? { topic, key, value: '', headers, toPartition: partition, tombstone: true } : { topic, key, value: JSON.stringify(value), headers, toPartition: partition });
  }
  outputs.forEach((o, i) => out.push({ topic, key: OUT_PREFIX + i, value: JSON.stringify(o), headers, toPartition: partition }));
  const marker: Marker = { ...position, outputs: outputs.length };
  out.push({ topic, key: MARKER_KEY, value: JSON.stringify(marker), headers, toPartition: partition });
  return out;
}

/** What a restore found. */
export interface Restored {
  /** The last marker, or undefined for a partition never processed. */
  position: TaskPosition | undefined;
  /** The outputs of the last committed batch, to publish again (they may not have gone out). */
  outbox: OutRecord[];
  /** This task's generation (the offset of its claim). */
  gen: number;
  /** Changelog records read, and of those ignored (written by fenced tasks). */
  read: number;
  ignored: number;
}

/**
 * Rebuilds `task`'s stores from changelog partition p, claims the partition and returns where
 * the task stands. `nonce` must be unique to this restore.
 */
export async function restoreTask(bus: Bus, app: string, task: Task, nonce: string, pageSize = 5_000): Promise<Restored> {
  const topic = changelogTopic(app);
  const p = task.partition;
  let maxGen = -1;
  let marker: Marker | undefined;
  const outbox = new Map<number, OutRecord>();
  let read = 0;
  let ignored = 0;
  let claimedAt: number | undefined;

  const apply = (r: InRecord) => {
    read++;
    const offset = Number(r.offset);
    if (r.key.startsWith(CLAIM_PREFIX)) {
      maxGen = Math.max(maxGen, offset);
      if (r.key === CLAIM_PREFIX + nonce) claimedAt = offset;
      return;
    }
    const gen = Number(r.headers[GEN_HEADER] ?? -1);
    if (gen < maxGen) {
      ignored++;
      return;
    }
    maxGen = gen;
    if (r.key === MARKER_KEY) marker = JSON.parse(r.value) as Marker;
    else if (r.key.startsWith(OUT_PREFIX)) outbox.set(Number(r.key.slice(OUT_PREFIX.length)), JSON.parse(r.value) as OutRecord);
    else task.load(r.key, r.value === '' ? undefined : JSON.parse(r.value));
  };

  const readFrom = async (from: number): Promise<number> => {
    let next = from;
    for (;;) {
      const page = await bus.readPartition(topic, p, { from: next, limit: pageSize });
      for (const r of page.records) apply(r);
      next = page.next;
      if (next >= page.end) return page.end;
    }
  };

  let end = await readFrom(0);
  // Not empty: an empty value is a tombstone to the embedded log's compaction.
  await bus.publish([{ topic, key: CLAIM_PREFIX + nonce, value: JSON.stringify({ nonce }), headers: {}, toPartition: p }]);
  // Whatever landed between our read and our claim (a zombie's last batch) is read too.
  for (let attempt = 1; claimedAt === undefined; attempt++) {
    if (attempt > CLAIM_READ_ATTEMPTS) throw RestoreFailed(`restoring ${topic} partition ${p}: its claim ${nonce} is not to be read back`);
    if (attempt > 1) await sleep(CLAIM_READ_PAUSE_MS);
    end = await readFrom(end);
  }

  let position: TaskPosition | undefined;
  let outputs: OutRecord[] = [];
  if (marker) {
    const { outputs: n, ...rest } = marker;
    position = rest;
    // The marker's batch wrote `__out|0..n-1` atomically with it, so those are its own; a
    // larger older batch may have left higher indices behind, which are not.
    for (let i = 0; i < n; i++) {
      const o = outbox.get(i);
      if (o) outputs.push(o);
    }
  }
  task.restored(position);
  return { position, outbox: outputs, gen: claimedAt, read, ignored };
}
