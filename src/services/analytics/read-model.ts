/**
 * Keeps the read model (store.ts) up to date from analytics.windows: a plain subscription,
 * not the platform's consumer, because these records are the pipeline's window results
 * (upserts with full values), not messages with ids to deduplicate: writing one twice
 * writes the same row. One transaction per batch, the last value per window only; the bus
 * commits its offset after it.
 */
import type { Bus, Subscription } from '#platform/bus/bus.ts';
import type { Db } from '#platform/db/db.ts';
import type { WindowResult } from '#platform/streams/aggregate.ts';
import { AnalyticsTopics } from './pipeline.ts';
import { upsertWindows, type WindowRow } from './store.ts';

export async function startReadModel(o: { bus: Bus; db: Db }): Promise<Subscription> {
  return o.bus.subscribe({
    groupId: 'analytics-read-model',
    topics: [AnalyticsTopics.windows],
    async handle(batch) {
      const last = new Map<string, WindowRow>();
      for (const r of batch) {
        let w: WindowResult<unknown>;
        try {
          w = JSON.parse(r.value) as WindowResult<unknown>;
        } catch {
          continue; // not a window result: nothing of ours
        }
        last.set(`${w.name}|${w.start}`, { name: w.name, start: w.start, end: w.end, value: w.value, final: w.final });
      }
      if (last.size > 0) await o.db.transaction((tx) => upsertWindows(tx, [...last.values()]));
    },
  });
}
