// `orderflow orders rebuild-view`: orders_view derived again from order_events, the truth,
// and compared with the live rows. The view is only a fold of each stream (viewOf in
// store.ts, the same function the writers' states go through), so a row that differs from
// the fold of its stream is wrong, a stream without a row lost its row, and a row without a
// stream has nothing behind it.
//
// It works in place, a batch at a time (keyset over the ids), each batch in a transaction of
// its own that rewrites only the rows that differ: a rebuild of a healthy view writes
// nothing, one interrupted half way leaves every batch done correct and can simply be run
// again, and the live rows keep serving reads throughout (rather than a fresh table swapped
// in, which would need the writers stopped to not lose the steps committed during the copy).
//
// The service may be running meanwhile. A batch first takes its rows (on PostgreSQL FOR
// UPDATE, FOR SHARE when only checking; on SQLite a transaction holds the database's write
// lock, so the service's writes wait a few milliseconds), then reads the streams of the same
// id range: a row and the events committed with it are seen together, and a saga step on a
// taken row waits for the batch's commit and then writes its own state on top. Orders placed
// during the rebuild land past the streams it walked (UUIDv7 ids) and are compared like the
// rest. Two things it does not reach: a row that was missing (only a repair brings it back)
// while its order takes a step may come back one step behind, which a second run repairs; and
// the embedded service keeps the JSON of views it served until its own next commit
// (view-reads.ts), so a repaired row may be answered stale until the service writes anything.
import { isDeepStrictEqual } from 'node:util';
import type { Db, Sql } from '#platform/db/db.ts';
import { fold } from './domain/order.ts';
import { deleteView, putView, streamIdsAfter, streamsBetween, viewOf, viewsBetween, type OrderView } from './store.ts';

export interface ViewDifference {
  id: string;
  /** The live row; undefined when the stream has none. */
  live?: OrderView;
  /** The fold of the stream; undefined when the row has no stream behind it. */
  rebuilt?: OrderView;
}

export interface RebuildReport {
  /** Streams folded. */
  orders: number;
  /** Rows that differ from their stream's fold (or have none, or no stream). */
  differing: number;
  /** The first differences (at most `maxListed`). */
  differences: ViewDifference[];
  /** Rows written or deleted: 0 when only checking. */
  repaired: number;
}

export interface RebuildOptions {
  /** Compare only; write nothing. */
  check: boolean;
  batchSize?: number;
  maxListed?: number;
}

const ALL = Number.MAX_SAFE_INTEGER;

export async function rebuildViews(db: Db, opts: RebuildOptions): Promise<RebuildReport> {
  const batchSize = opts.batchSize ?? 500;
  const maxListed = opts.maxListed ?? 1_000;
  const report: RebuildReport = { orders: 0, differing: 0, differences: [], repaired: 0 };
  const lock = opts.check ? 'share' : 'update';

  const settle = async (tx: Sql, diffs: ViewDifference[]) => {
    for (const d of diffs) {
      report.differing++;
      if (report.differences.length < maxListed) report.differences.push(d);
      if (opts.check) continue;
      if (d.rebuilt) await putView(tx, d.rebuilt);
      else await deleteView(tx, d.id);
      report.repaired++;
    }
  };

  // Compares the locked rows with ids in (after, upTo] with the streams of the same range,
  // read after the lock: a row and the events committed with it are seen together.
  const compare = async (tx: Sql, after: string, upTo: string, rows: OrderView[]) => {
    const live = new Map(rows.map((v) => [v.id, v]));
    const diffs: ViewDifference[] = [];
    for (const [id, events] of await streamsBetween(tx, after, upTo)) {
      report.orders++;
      const rebuilt = viewOf(fold(events));
      const row = live.get(id);
      live.delete(id);
      if (!isDeepStrictEqual(row, rebuilt)) diffs.push({ id, live: row, rebuilt });
    }
    for (const row of live.values()) diffs.push({ id: row.id, live: row });
    diffs.sort((a, b) => (a.id < b.id ? -1 : 1));
    await settle(tx, diffs);
  };

  // The streams, a batch at a time, with the rows of the same id range (orphans included);
  // then the rows past the last stream seen, a batch at a time: orphans, or orders placed
  // since (ids are UUIDv7, so new orders land there), which the same comparison tells apart.
  let after = '';
  for (const phase of ['streams', 'rows'] as const) {
    for (;;) {
      const done = await db.transaction(async (tx) => {
        let upTo: string;
        let rows: OrderView[];
        if (phase === 'streams') {
          const ids = await streamIdsAfter(tx, after, batchSize);
          if (ids.length === 0) return true;
          upTo = ids[ids.length - 1];
          rows = await viewsBetween(tx, db.dialect, after, upTo, { limit: ALL, lock });
        } else {
          rows = await viewsBetween(tx, db.dialect, after, undefined, { limit: batchSize, lock });
          if (rows.length === 0) return true;
          upTo = rows[rows.length - 1].id;
        }
        await compare(tx, after, upTo, rows);
        after = upTo;
        return false;
      });
      if (done) break;
    }
  }
  return report;
}

/** The fields of a difference, one `field: live → rebuilt` each, for people. */
export function describeDifference(d: ViewDifference): string {
  if (d.live === undefined) return 'no row; its events make one';
  if (d.rebuilt === undefined) return 'a row without events; nothing makes it';
  const fields = new Set([...Object.keys(d.live), ...Object.keys(d.rebuilt)]) as Set<keyof OrderView>;
  const parts: string[] = [];
  for (const f of fields) {
    if (!isDeepStrictEqual(d.live[f], d.rebuilt[f])) parts.push(`${f}: ${JSON.stringify(d.live[f]) ?? '(none)'} → ${JSON.stringify(d.rebuilt[f]) ?? '(none)'}`);
  }
  return parts.join(', ');
}
