/**
 * A consumer-group member of the embedded log. One active member per (group, topic) owns
 * all of the topic's partitions; the others stand by. Taking a topic over bumps the
 * generation and so fences the previous owner, whose commits and heartbeats then change
 * nothing and which stops delivering as soon as it notices.
 *
 * A member takes a topic over when it is free: nobody owns it, its owner left cleanly, or
 * its owner's heartbeat is older than the session timeout (the process died). A member of
 * the same instance (ORDERFLOW_INSTANCE: the same instance restarted, or started twice)
 * takes over at once when it subscribes: that is the same member coming back, and the old
 * one, if it still runs, is the zombie. Members without an instance name are all one
 * instance (one process per service, as before replicas). A standby tries again every
 * heartbeat, so a topic whose owner died is taken over within session + heartbeat; a fenced
 * member becomes a standby too (taking over only what is free, never at once again).
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
  /** An owner whose heartbeat is older than this is presumed dead. */
  sessionMs: number;
  /** This process's instance name; absent: the anonymous instance every unnamed member shares. */
  instance?: string;
  /** Offsets are committed this often, or after commitEveryRecords handled records, and on close. */
  commitIntervalMs: number;
  commitEveryRecords: number;
  retryMinMs: number;
  retryMaxMs: number;
}

interface OwnedTopic {
  topic: string;
  /** Owned: delivering; standby: waiting until the topic is free. */
  active: boolean;
  generation: number;
  positions: number[];
  /** Aborted when this member is fenced on the topic or the subscription closes. */
  abort: AbortController;
  fenced: boolean;
  /** Partitions whose position moved since the last offset commit. */
  dirty: Set<number>;
  /** The partition loops of the current ownership, settled before a later one starts. */
  loops: Promise<void>[];
}

interface MemberRow {
  member_id: string | null;
  generation: number;
  heartbeat_at: number | null;
}

/** The instance part of a member id (`instance|host:pid:rand`); '' for an unnamed one. */
const instanceOf = (memberId: string) => (memberId.includes('|') ? memberId.slice(0, memberId.indexOf('|')) : '');

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
  const instance = ctx.instance ?? '';
  const memberId = `${instance}|${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  for (const topic of opts.topics) ctx.partitionsOf(topic);

  const owned: OwnedTopic[] = [...new Set(opts.topics)].map((topic) => ({
    topic, active: false, generation: 0, positions: [], abort: new AbortController(), fenced: false, dirty: new Set<number>(), loops: [],
  }));

  // Takes the topic over when it is free (see the top of the file); in the transaction that
  // bumps the generation, reads the committed positions to deliver from.
  function tryTakeOver(t: OwnedTopic, sameInstanceAtOnce: boolean): boolean {
    const now = Date.now();
    const took = immediate(db, () => {
      const row = st.member.get(groupId, t.topic) as MemberRow | undefined;
      const free = !row || row.member_id === null || row.heartbeat_at === null || now - row.heartbeat_at > ctx.sessionMs
        || (sameInstanceAtOnce && instanceOf(row.member_id) === instance);
      if (!free) return false;
      const { generation } = st.join.get(groupId, t.topic, memberId, now) as { generation: number };
      const positions: number[] = [];
      for (let p = 0; p < ctx.partitionsOf(t.topic); p++) {
        st.initOffset.run(groupId, t.topic, p);
        positions.push((st.committed.get(groupId, t.topic, p) as { committed: number }).committed);
      }
      Object.assign(t, { active: true, generation, positions, abort: new AbortController(), fenced: false, dirty: new Set<number>() });
      return true;
    });
    if (took) {
      opts.onAssigned?.(t.topic, t.positions.map((_, p) => p));
      t.loops = t.positions.map((_, p) => runPartition(t, p));
    }
    return took;
  }

  function fence(t: OwnedTopic): void {
    if (t.fenced) return;
    t.fenced = true;
    t.active = false;
    t.abort.abort();
    log.warn({ groupId, topic: t.topic, memberId }, 'embedded log: a newer member of the group took over the topic; this one stops delivering and stands by');
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

  for (const t of owned) tryTakeOver(t, true);

  // A standby tries again each heartbeat, once the loops of its last ownership have ended.
  let checking = false;
  async function standbyCheck(): Promise<void> {
    if (checking || closing) return;
    checking = true;
    try {
      for (const t of owned) {
        if (t.active || closing) continue;
        await Promise.allSettled(t.loops);
        if (closing) break;
        try {
          if (tryTakeOver(t, false)) log.warn({ groupId, topic: t.topic, memberId }, 'embedded log: took over the topic from a member that left or stopped heartbeating');
        } catch (err) {
          log.warn({ err, groupId, topic: t.topic }, 'embedded log: taking over the topic failed; will retry');
        }
      }
    } finally {
      checking = false;
    }
  }
  const standby = setInterval(() => void standbyCheck(), ctx.heartbeatMs);
  standby.unref();

  const committer = setInterval(commitOffsets, ctx.commitIntervalMs);
  committer.unref();

  // The heartbeat is for people (is the owner alive?) and catches fencing on a quiet
  // topic; a busy member notices fencing sooner, before each fetch and on each commit.
  const heartbeat = setInterval(() => {
    try {
      const fenced = immediate(db, () =>
        owned.filter((t) => t.active && !t.fenced && st.heartbeat.run(Date.now(), groupId, t.topic, t.generation).changes === 0),
      );
      for (const t of fenced) fence(t);
    } catch (err) {
      log.warn({ err, groupId }, 'embedded log: heartbeat failed');
    }
  }, ctx.heartbeatMs);
  heartbeat.unref();

  let closing: Promise<void> | undefined;
  return {
    // A member of the group: owning its topics or standing by to take them over.
    joined: () => closing === undefined,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        clearInterval(standby);
        for (const t of owned) t.abort.abort();
        await Promise.allSettled(owned.flatMap((t) => t.loops));
        clearInterval(committer);
        commitOffsets();
        try {
          immediate(db, () => {
            for (const t of owned) if (t.active) st.leave.run(Date.now(), groupId, t.topic, t.generation);
          });
        } catch (err) {
          log.warn({ err, groupId }, 'embedded log: could not leave the group');
        }
      })();
      return closing;
    },
  };
}
