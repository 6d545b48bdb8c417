/**
 * Bus.tail on Kafka: plain Fetch requests from the latest offsets, as kafka-read.ts reads, so
 * it joins no group (no coordinator, no heartbeats, no rebalance to wait for) and commits
 * nothing. The partitions are grouped by their leader, and each leader gets one long poll at a
 * time (maxWaitTime 500 ms, minBytes 1: an idle tail costs two requests a second per broker;
 * a record is answered at once). The client's incremental fetch session (KIP-227) keeps the
 * request small whatever the number of partitions.
 *
 * Any failed fetch makes a new plan: the loops of the old one finish their poll, then leaders
 * are asked again and every position is checked against the log (a position the retention
 * deleted, OFFSET_OUT_OF_RANGE, moves to the first record left; one past the end, to the end),
 * and the loops start again after a pause that grows while the failures last.
 */
import { Admin, Consumer } from '@platformatic/kafka';
import { TAIL_TOPIC_RECHECK_MS, type InRecord, type Tail, type TailHandler } from '../bus.ts';
import type { KafkaContext } from './kafka-context.ts';
import { KafkaReadFailed, sleep, withTimeout } from './kafka-errors.ts';

const IS_CONTROL_BATCH = 1 << 5;
const MAX_WAIT_MS = 500;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;
const CLOSE_TIMEOUT_MS = 5_000;

interface Cursor {
  /** The topic on the broker (namespaced) and as callers know it. */
  name: string;
  short: string;
  partition: number;
  leader: number;
  offset: bigint;
}

export async function tailKafka(ctx: KafkaContext, admin: Admin, topics: string[], onRecords: TailHandler, opts: { recheckMs?: number } = {}): Promise<Tail> {
  const { log } = ctx;
  const consumer = new Consumer({
    ...ctx.connection,
    clientId: `${ctx.clientId}-tail`,
    bootstrapBrokers: ctx.brokers,
    // Required by the client; never joined: the tail sends Fetch requests only.
    groupId: `${ctx.clientId}-tail-unused`,
    retries: 0,
  });
  const cursors = new Map<string, Cursor>();
  const topicIds = new Map<string, string>();
  const names = new Map<string, string>();
  let missing = [...new Set(topics.map(ctx.full))];
  const stop = new AbortController();
  let loops: Promise<void>[] = [];
  let generation = 0;
  let fetchFailures = 0;
  const pause = (failures: number) => Math.min(RETRY_FIRST_MS * 2 ** (failures - 1), RETRY_MAX_MS);
  let replanning: Promise<void> | undefined;

  // Cursors for those of `wanted` that exist: at their end, or at their start for a topic
  // created after the tail opened (all of it came after). Returns those still missing.
  async function take(wanted: string[], fromStart: boolean): Promise<string[]> {
    if (wanted.length === 0) return [];
    const existing = new Set(await admin.listTopics());
    const found = wanted.filter((t) => existing.has(t));
    if (found.length === 0) return wanted;
    const md = await admin.metadata({ topics: found, forceUpdate: true });
    const request = found.map((name) => ({ name, partitions: Array.from({ length: md.topics.get(name)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({ partitionIndex, timestamp: fromStart ? -2n : -1n })) }));
    const offsets = await admin.listOffsets({ topics: request });
    for (const t of offsets) {
      const meta = md.topics.get(t.name)!;
      topicIds.set(t.name, meta.id);
      names.set(meta.id, t.name);
      for (const p of t.partitions) {
        cursors.set(`${t.name}:${p.partitionIndex}`, { name: t.name, short: ctx.short(t.name), partition: p.partitionIndex, leader: meta.partitions[p.partitionIndex]?.leader ?? -1, offset: p.offset });
      }
    }
    return wanted.filter((t) => !existing.has(t));
  }

  // Leaders again, and every position inside its partition's log.
  async function refresh(): Promise<void> {
    const topicNames = [...topicIds.keys()];
    if (topicNames.length === 0) return;
    const md = await admin.metadata({ topics: topicNames, forceUpdate: true });
    const request = (timestamp: bigint) => topicNames.map((name) => ({ name, partitions: Array.from({ length: md.topics.get(name)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }));
    const [starts, ends] = await Promise.all([admin.listOffsets({ topics: request(-2n) }), admin.listOffsets({ topics: request(-1n) })]);
    const end = new Map<string, bigint>();
    for (const t of ends) for (const p of t.partitions) end.set(`${t.name}:${p.partitionIndex}`, p.offset);
    for (const t of starts) {
      const meta = md.topics.get(t.name)!;
      topicIds.set(t.name, meta.id);
      names.set(meta.id, t.name);
      for (const p of t.partitions) {
        const key = `${t.name}:${p.partitionIndex}`;
        const cursor = cursors.get(key) ?? { name: t.name, short: ctx.short(t.name), partition: p.partitionIndex, leader: -1, offset: p.offset };
        cursor.leader = meta.partitions[p.partitionIndex]?.leader ?? -1;
        const last = end.get(key) ?? cursor.offset;
        if (cursor.offset < p.offset) cursor.offset = p.offset;
        else if (cursor.offset > last) cursor.offset = last;
        cursors.set(key, cursor);
      }
    }
  }

  function start(): void {
    const gen = generation;
    const byLeader = new Map<number, Cursor[]>();
    for (const c of cursors.values()) {
      if (c.leader < 0) continue;
      let list = byLeader.get(c.leader);
      if (!list) byLeader.set(c.leader, (list = []));
      list.push(c);
    }
    loops = [...byLeader].map(([node, list]) => poll(gen, node, list));
    // A partition without a leader (an election under way) is looked at again shortly.
    if (cursors.size > 0 && [...cursors.values()].some((c) => c.leader < 0)) void replan(new Error('a partition has no leader'));
  }

  // Stops the current loops (each ends after its poll in flight), then plans again.
  function replan(cause: unknown): Promise<void> {
    replanning ??= (async () => {
      generation++;
      await Promise.allSettled(loops);
      if (cause !== undefined) {
        fetchFailures++;
        await sleep(pause(fetchFailures), stop.signal);
      }
      // Counted apart from the fetches': a broker back after a long outage is read from at
      // once, not after the pause its outage grew (its first fetch often fails: a session or
      // a leader epoch the restart made stale).
      let refreshFailures = 0;
      while (!stop.signal.aborted) {
        try {
          await refresh();
          break;
        } catch (err) {
          log.warn({ err }, 'kafka tail: cannot read the leaders and offsets of its topics; retrying');
          await sleep(pause(++refreshFailures), stop.signal);
        }
      }
      replanning = undefined;
      if (!stop.signal.aborted) start();
    })();
    return replanning;
  }

  async function poll(gen: number, node: number, list: Cursor[]): Promise<void> {
    while (!stop.signal.aborted && gen === generation) {
      const byTopic = new Map<string, Cursor[]>();
      for (const c of list) {
        let l = byTopic.get(c.name);
        if (!l) byTopic.set(c.name, (l = []));
        l.push(c);
      }
      let response;
      try {
        response = await consumer.fetch({
          node,
          topics: [...byTopic].map(([name, cs]) => ({
            topicId: topicIds.get(name)!,
            partitions: cs.map((c) => ({ partition: c.partition, fetchOffset: c.offset, partitionMaxBytes: 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })),
          })),
          maxWaitTime: MAX_WAIT_MS,
          minBytes: 1,
          maxBytes: 8 * 1024 * 1024,
        });
      } catch (err) {
        if (stop.signal.aborted || gen !== generation) return;
        log.warn({ err: KafkaReadFailed(`tail fetch from broker ${node} failed`, { cause: err }) }, 'kafka tail: fetch failed; planning again');
        void replan(err);
        return;
      }
      if (stop.signal.aborted || gen !== generation) return;
      fetchFailures = 0;
      for (const topic of response.responses) {
        const name = names.get(topic.topicId) ?? topic.topicId;
        for (const p of topic.partitions) {
          const cursor = cursors.get(`${name}:${p.partitionIndex}`);
          if (!cursor) continue;
          const records: InRecord[] = [];
          for (const batch of p.records ?? []) {
            const batchEnd = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
            if (!(batch.attributes & IS_CONTROL_BATCH)) {
              for (const r of batch.records) {
                const at = batch.firstOffset + BigInt(r.offsetDelta);
                if (at < cursor.offset) continue;
                const headers: Record<string, string> = {};
                for (const [k, v] of r.headers) if (k) headers[k.toString()] = v?.toString() ?? '';
                records.push({ topic: cursor.short, partition: cursor.partition, offset: at.toString(), key: r.key?.toString() ?? '', value: r.value?.toString() ?? '', headers });
              }
            }
            if (batchEnd > cursor.offset) cursor.offset = batchEnd;
          }
          if (records.length === 0) continue;
          try {
            onRecords(records);
          } catch (err) {
            log.warn({ err, topic: cursor.short, partition: cursor.partition }, 'kafka tail: a handler threw; its records are skipped');
          }
        }
      }
    }
  }

  try {
    missing = await take(missing, false);
  } catch (cause) {
    await withTimeout(consumer.close(true), CLOSE_TIMEOUT_MS, 'closing the tail').catch(() => {});
    throw KafkaReadFailed(`cannot open a tail of ${topics.join(', ')}`, { cause });
  }
  start();
  const recheckMs = opts.recheckMs ?? TAIL_TOPIC_RECHECK_MS;
  const recheck = setInterval(() => {
    if (missing.length === 0) return clearInterval(recheck);
    if (replanning) return;
    const before = cursors.size;
    take(missing, true).then(
      (left) => {
        missing = left;
        if (cursors.size !== before && !stop.signal.aborted) void replan(undefined);
      },
      (err: unknown) => log.warn({ err }, 'kafka tail: looking for its missing topics failed'),
    );
  }, recheckMs);
  recheck.unref();

  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        clearInterval(recheck);
        stop.abort();
        generation++;
        await Promise.allSettled([...loops, replanning]);
        await withTimeout(consumer.close(true), CLOSE_TIMEOUT_MS, 'closing the tail').catch((err: unknown) => log.warn({ err }, 'kafka tail: closing its client failed'));
      })();
      return closed;
    },
  };
}
