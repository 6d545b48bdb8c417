/**
 * `orderflow analytics rebuild`: the read model derived again from the event archive
 * (platform/bus/archive.ts: every order and client event, kept for ever), by the same
 * pipeline that derives it live (pipeline.ts), and compared with the live one.
 *
 * The archive's envelopes go into a fresh embedded log in a scratch directory, keyed as they
 * were (so into the same partitions), in event-time order, while the pipeline runs over it;
 * the windows it emitted become the rebuilt read model. The archive is held in memory for
 * the sort: fine for the lab's archives, not for years of a busy shop. Nothing of the running system is touched but,
 * without --check, the read model's rows, upserted from the rebuild.
 *
 * Equal means: the same windows, each with the same value and the same final flag. The live
 * figures can differ only where live processing dropped a fact as late that the rebuild did
 * not (or the other way round): the pipeline counts those (its markers' `late`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { OutRecord } from '#platform/bus/bus.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { encode, type Envelope } from '#platform/bus/envelope.ts';
import type { Db } from '#platform/db/db.ts';
import { silentLogger } from '#platform/log.ts';
import type { WindowResult } from '#platform/streams/aggregate.ts';
import { AnalyticsTopics, startPipeline, untilIdle } from './pipeline.ts';
import { allWindows, upsertWindows, type WindowRow } from './store.ts';

export interface RebuildInput {
  /** The archived envelopes of each input topic (orders.events, client.events). */
  sources: Record<string, AsyncIterable<Envelope>>;
  partitions: number;
  graceMs: number;
  /** How long the pipeline may take over the archive. */
  timeoutMs?: number;
}

/** The read model the pipeline derives from the archived envelopes. */
export async function rebuildWindows(o: RebuildInput): Promise<WindowRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-analytics-rebuild-'));
  const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger, pollMs: 2, commitIntervalMs: 20 });
  try {
    await bus.ensureTopics(Object.keys(o.sources).map((name) => ({ name, partitions: o.partitions })));
    // In event-time order, a slice of at most half the grace at a time, each processed before
    // the next is published. A task takes its direct inputs in event-time order whatever they
    // were published in (platform/streams, stream time across inputs), but a derived input
    // (a conversion, made when the order arrives) can come after the windows processor has
    // moved past its window: published whole, the archive made some conversions late that
    // live were not. Slices keep the rebuild to the pace the facts had live.
    const all: Array<{ at: number; record: OutRecord }> = [];
    for (const [topic, envelopes] of Object.entries(o.sources)) {
      for await (const e of envelopes) all.push({ at: Date.parse(e.occurredAt), record: encode(topic, e) });
    }
    all.sort((a, b) => a.at - b.at);
    const sliceMs = Math.max(1, Math.floor(o.graceMs / 2));
    const processors = await startPipeline({ bus, partitions: o.partitions, graceMs: o.graceMs });
    try {
      for (let i = 0; i < all.length; ) {
        const until = all[i].at + sliceMs;
        let j = i;
        while (j < all.length && all[j].at < until) j++;
        for (let k = i; k < j; k += 500) await bus.publish(all.slice(k, Math.min(j, k + 500)).map((x) => x.record));
        await untilIdle(bus, o.timeoutMs ?? 600_000);
        i = j;
      }
    } finally {
      for (const p of processors) await p.close();
    }
    const last = new Map<string, WindowRow>();
    for (const p of await bus.positions([AnalyticsTopics.windows])) {
      for (let from = p.start; from < p.end; ) {
        const page = await bus.readPartition(AnalyticsTopics.windows, p.partition, { from });
        for (const r of page.records) {
          const w = JSON.parse(r.value) as WindowResult<unknown>;
          last.set(`${w.name}|${w.start}`, { name: w.name, start: w.start, end: w.end, value: w.value, final: w.final });
        }
        if (page.next <= from) break;
        from = page.next;
      }
    }
    return [...last.values()].sort(byWindow);
  } finally {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const byWindow = (a: WindowRow, b: WindowRow) => a.name.localeCompare(b.name) || a.start - b.start;

export interface WindowDifference {
  name: string;
  start: number;
  live?: WindowRow;
  rebuilt?: WindowRow;
}

/** The windows that are not the same in both, by aggregation and start. */
export function compareWindows(live: WindowRow[], rebuilt: WindowRow[]): WindowDifference[] {
  const key = (w: WindowRow) => `${w.name}|${w.start}`;
  const liveBy = new Map(live.map((w) => [key(w), w]));
  const rebuiltBy = new Map(rebuilt.map((w) => [key(w), w]));
  const out: WindowDifference[] = [];
  for (const k of new Set([...liveBy.keys(), ...rebuiltBy.keys()])) {
    const l = liveBy.get(k);
    const r = rebuiltBy.get(k);
    if (l && r && l.end === r.end && l.final === r.final && isDeepStrictEqual(l.value, r.value)) continue;
    const w = (l ?? r)!;
    out.push({ name: w.name, start: w.start, ...(l ? { live: l } : {}), ...(r ? { rebuilt: r } : {}) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.start - b.start);
}

export interface RebuildReport {
  windows: number;
  differences: WindowDifference[];
  /** Rows upserted into the read model: 0 when only checking. */
  written: number;
}

/** Rebuilds from the archive and compares with the read model in `db`; writes the rebuilt rows unless `check`. */
export async function rebuildReadModel(db: Db, input: RebuildInput, opts: { check: boolean }): Promise<RebuildReport> {
  const rebuilt = await rebuildWindows(input);
  const differences = compareWindows(await allWindows(db), rebuilt);
  if (opts.check || differences.length === 0) return { windows: rebuilt.length, differences, written: 0 };
  const changed = differences.flatMap((d) => (d.rebuilt ? [d.rebuilt] : []));
  await db.transaction((tx) => upsertWindows(tx, changed));
  return { windows: rebuilt.length, differences, written: changed.length };
}
