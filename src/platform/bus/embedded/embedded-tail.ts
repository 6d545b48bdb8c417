/**
 * Bus.tail on the embedded log: a loop per partition, like a group subscription's but with
 * no group, no membership and no commits. Each starts at its partition's head when the tail
 * opens and waits on the process's heads poller (heads-poller.ts), so an idle tail costs
 * nothing beyond the poller's `PRAGMA data_version` read, shared with everything else the
 * process waits on. A topic not created yet is looked for again every TAIL_TOPIC_RECHECK_MS.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TAIL_TOPIC_RECHECK_MS, type InRecord, type Tail, type TailHandler } from '../bus.ts';
import type { HeadsPoller } from './heads-poller.ts';
import type { Statements } from './schema.ts';

interface RecordRow {
  offset: number;
  key: string;
  value: string;
  headers: string;
}

export interface EmbeddedTailContext {
  st: Statements;
  poller: HeadsPoller;
  log: { warn(...a: unknown[]): void };
  /** Most records handed at once; default 500. */
  maxBatch?: number;
  /** How often missing topics are looked for; default TAIL_TOPIC_RECHECK_MS. */
  recheckMs?: number;
}

export function tailEmbedded(ctx: EmbeddedTailContext, topics: string[], onRecords: TailHandler): Tail {
  const { st, poller, log } = ctx;
  const maxBatch = ctx.maxBatch ?? 500;
  const abort = new AbortController();
  const loops: Promise<void>[] = [];
  let missing = [...new Set(topics)];

  // The heads of the topics that exist, in one read: where each of their partitions starts.
  function take(names: string[], fromStart: boolean): string[] {
    if (names.length === 0) return [];
    const rows = st.heads.all(JSON.stringify(names)) as unknown as Array<{ topic: string; partition: number; next_offset: number }>;
    for (const r of rows) loops.push(run(r.topic, r.partition, fromStart ? 0 : r.next_offset));
    const found = new Set(rows.map((r) => r.topic));
    return names.filter((t) => !found.has(t));
  }

  async function run(topic: string, partition: number, from: number): Promise<void> {
    let position = from;
    while (!abort.signal.aborted) {
      let rows: RecordRow[];
      try {
        rows = st.fetch.all(topic, partition, position, maxBatch) as unknown as RecordRow[];
      } catch (err) {
        log.warn({ err, topic, partition }, 'embedded log: tail fetch failed; retrying');
        await sleep(500, undefined, { signal: abort.signal }).catch(() => {});
        continue;
      }
      if (rows.length === 0) {
        const waiter = poller.wait(topic, partition, position);
        const cancel = () => waiter.cancel();
        abort.signal.addEventListener('abort', cancel, { once: true });
        await waiter.promise;
        abort.signal.removeEventListener('abort', cancel);
        continue;
      }
      poller.touch();
      const records = rows.map((r): InRecord => ({ topic, partition, offset: String(r.offset), key: r.key, value: r.value, headers: JSON.parse(r.headers) as Record<string, string> }));
      // From the last offset, not by counting: a trim can leave gaps.
      position = rows[rows.length - 1].offset + 1;
      try {
        onRecords(records);
      } catch (err) {
        log.warn({ err, topic, partition }, 'embedded log: a tail handler threw; its records are skipped');
      }
    }
  }

  missing = take(missing, false);
  const recheck = missing.length === 0 ? undefined : setInterval(() => {
    try {
      // Created since the tail opened: everything in it came after, so from its first record.
      missing = take(missing, true);
    } catch (err) {
      log.warn({ err, topics: missing }, 'embedded log: looking for the tail\'s missing topics failed');
    }
    if (missing.length === 0) clearInterval(recheck);
  }, ctx.recheckMs ?? TAIL_TOPIC_RECHECK_MS);
  recheck?.unref();

  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        clearInterval(recheck);
        abort.abort();
        await Promise.all(loops);
      })();
      return closed;
    },
  };
}
