/**
 * A consumer-group member of the embedded log. One active member per (group, topic) owns
 * all of the topic's partitions: joining bumps the generation and so fences the previous
 * member (a zombie process, or an instance started twice), whose commits and heartbeats
 * then change nothing and which stops delivering as soon as it notices.
 */
import type { DatabaseSync } from 'node:sqlite';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InRecord, SubscribeOptions, Subscription } from '#platform/bus/bus.ts';
import type { HeadsPoller } from './heads-poller.ts';
import { immediate, type Statements } from './schema.ts';

export interface GroupContext {
  db: DatabaseSync;
  st: Statements;
  poller: HeadsPoller;
  log: { warn(...a: unknown[]): void };
  /** Partitions of a topic; throws PLT_ERR_UNKNOWN_TOPIC when there is none. */
  partitionsOf(topic: string): number;
  heartbeatMs: number;
  /** Offsets are committed this often, or after commitEveryRecords handled records, and on close. */
  commitIntervalMs: number;
  commitEveryRecords: number;
  retryMinMs: number;
  retryMaxMs: number;
}

interface OwnedTopic {
  topic: string;
  generation: number;
  positions: number[];
  /** Aborted when this member is fenced on the topic or the subscription closes. */
  abort: AbortController;
  fenced: boolean;
  /** Partitions whose position moved since the last offset commit. */
  dirty: Set<number>;
}

interface RecordRow {
  offset: number;
  key: string;
  value: string;
  headers: string;
}

export function subscribeGroup(ctx: GroupContext, opts: SubscribeOptions): Subscription {
  const { db, st, poller, log } = ctx;
  const { groupId, handle } = opts;
  const maxBatch = opts.maxBatch ?? 500;
  const memberId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  const owned: OwnedTopic[] = immediate(db, () =>
    [...new Set(opts.topics)].map((topic) => {
      const partitions = ctx.partitionsOf(topic);
      const { generation } = st.join.get(groupId, topic, memberId, Date.now()) as { generation: number };
      const positions: number[] = [];
      for (let p = 0; p < partitions; p++) {
        st.initOffset.run(groupId, topic, p);
        positions.push((st.committed.get(groupId, topic, p) as { committed: number }).committed);
      }
      return { topic, generation, positions, abort: new AbortController(), fenced: false, dirty: new Set<number>() };
    }),
  );

  function fence(t: OwnedTopic): void {
    if (t.fenced) return;
    t.fenced = true;
    t.abort.abort();
    log.warn({ groupId, topic: t.topic, memberId }, 'embedded log: a newer member of the group took over the topic; this one stops delivering');
  }

  function owns(t: OwnedTopic): boolean {
    const row = st.generation.get(groupId, t.topic) as { generation: number } | undefined;
    if (row?.generation === t.generation) return true;
    fence(t);
    return false;
  }

  async function pause(ms: number, signal: AbortSignal): Promise<void> {
    await sleep(ms, undefined, { signal }).catch(() => {});
  }

  async function waitForRecords(t: OwnedTopic, partition: number, after: number): Promise<void> {
    if (t.abort.signal.aborted) return;
    const waiter = poller.wait(t.topic, partition, after);
    const onAbort = () => waiter.cancel();
    t.abort.signal.addEventListener('abort', onAbort, { once: true });
    await waiter.promise;
    t.abort.signal.removeEventListener('abort', onAbort);
  }

  async function runPartition(t: OwnedTopic, partition: number): Promise<void> {
    const { topic } = t;
    const signal = t.abort.signal;
    let position = t.positions[partition];
    let backoff = ctx.retryMinMs;
    // A rejected batch is delivered again as it was, not refetched (which could grow it).
    let pending: InRecord[] | undefined;
    const retryLater = async () => {
      await pause(backoff, signal);
      backoff = Math.min(backoff * 2, ctx.retryMaxMs);
    };

    while (!signal.aborted) {
      let batch = pending;
      try {
        if (!owns(t)) break;
        if (!batch) {
          const rows = st.fetch.all(topic, partition, position, maxBatch) as unknown as RecordRow[];
          if (rows.length === 0) {
            await waitForRecords(t, partition, position);
            continue;
          }
          poller.touch();
          batch = rows.map((r) => ({
            topic,
            partition,
            offset: String(r.offset),
            key: r.key,
            value: r.value,
            headers: JSON.parse(r.headers) as Record<string, string>,
          }));
        }
      } catch (err) {
        log.warn({ err, groupId, topic, partition }, 'embedded log: fetch failed; retrying');
        await retryLater();
        continue;
      }

      try {
        await handle(batch);
      } catch (err) {
        pending = batch;
        log.warn({ err, groupId, topic, partition, offset: batch[0].offset, records: batch.length }, 'embedded log: handler failed; the batch will be delivered again');
        await retryLater();
        continue;
      }
      pending = undefined;
      backoff = ctx.retryMinMs;
      // From the last offset, not by counting: a partition may start past the group's commit
      // (trimmed) and a trim under a clock step can leave gaps.
      position = Number(batch[batch.length - 1].offset) + 1;
      t.positions[partition] = position;
      t.dirty.add(partition);
      if (++handledSinceCommit >= ctx.commitEveryRecords) commitOffsets();
    }
  }

  // Offsets are committed for all partitions at once, every commitIntervalMs or every
  // commitEveryRecords records, and on close: one write to the shared file instead of one
  // per batch (which cost as much as the batch's fetch). A crash loses at most the last
  // interval's commits; those records are delivered again, and the consumer's inbox skips
  // them. The commit is conditional on the generation, so a fenced member's changes nothing.
  let handledSinceCommit = 0;
  function commitOffsets(): void {
    handledSinceCommit = 0;
    const due = owned.filter((t) => t.dirty.size > 0 && !t.fenced);
    if (due.length === 0) return;
    let fenced: OwnedTopic[];
    try {
      fenced = immediate(db, () =>
        due.filter((t) => {
          let refused = false;
          for (const p of t.dirty) {
            if (st.commit.run(t.positions[p], groupId, t.topic, p, groupId, t.topic, t.generation).changes === 0) refused = true;
          }
          return refused;
        }),
      );
    } catch (err) {
      // Not committed: kept dirty and tried again; meanwhile a crash redelivers (at least once).
      log.warn({ err, groupId }, 'embedded log: offset commit failed; will retry');
      return;
    }
    for (const t of due) t.dirty.clear();
    for (const t of fenced) fence(t);
  }

  const loops = owned.flatMap((t) => t.positions.map((_, p) => runPartition(t, p)));
  const committer = setInterval(commitOffsets, ctx.commitIntervalMs);
  committer.unref();

  // The heartbeat is for people (is the owner alive?) and catches fencing on a quiet
  // topic; a busy member notices fencing sooner, before each fetch and on each commit.
  const heartbeat = setInterval(() => {
    try {
      const fenced = immediate(db, () =>
        owned.filter((t) => !t.fenced && st.heartbeat.run(Date.now(), groupId, t.topic, t.generation).changes === 0),
      );
      for (const t of fenced) fence(t);
    } catch (err) {
      log.warn({ err, groupId }, 'embedded log: heartbeat failed');
    }
  }, ctx.heartbeatMs);
  heartbeat.unref();

  let closing: Promise<void> | undefined;
  return {
    joined: () => closing === undefined && owned.every((t) => !t.fenced),
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        for (const t of owned) t.abort.abort();
        await Promise.allSettled(loops);
        clearInterval(committer);
        commitOffsets();
        try {
          immediate(db, () => {
            for (const t of owned) st.leave.run(Date.now(), groupId, t.topic, t.generation);
          });
        } catch (err) {
          log.warn({ err, groupId }, 'embedded log: could not leave the group');
        }
      })();
      return closing;
    },
  };
}
