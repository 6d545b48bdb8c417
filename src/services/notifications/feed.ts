/**
 * New notifications as they commit, for the live streams (SSE) of every customer connected
 * to this process.
 *
 * One query per process, not one per stream: while streams are open, the feed reads the
 * rows past its watermark (`seq`, which commits in order: store.ts) and hands each to the
 * streams of its customer. It reads when a local commit made notifications (wake: at once on
 * one process, SQLite or PostgreSQL) and every pollMs for what other replicas committed.
 *
 * Why a short poll and not PostgreSQL's LISTEN/NOTIFY: LISTEN needs a connection held out of
 * the pool by each replica, which the Db port does not offer, and it still needs this read
 * to learn the rows; one indexed range read a second per replica, only while someone
 * listens, costs little, and works the same on SQLite (whose replicas share one file and have
 * no notification at all).
 */
import type { Db } from '#platform/db/db.ts';
import type { Logger } from '#platform/log.ts';
import { startPeriodic } from '#platform/periodic.ts';
import { lastSeq, notificationsAfter, type FeedRow } from './store.ts';

export type FeedListener = (row: FeedRow) => void;

export interface Feed {
  /**
   * Listens to one customer's new notifications; resolves, once listening, with the seq
   * past which it will hand them (every row above it, none at or below).
   */
  subscribe(customerId: string, listener: FeedListener): Promise<{ from: number; unsubscribe: () => void }>;
  /** A local commit made notifications: read now. */
  wake(): void;
  /** Streams open on this process. */
  size(): number;
  stop(): Promise<void>;
}

const PAGE = 500;

export function startFeed(o: { db: Db; pollMs: number; log: Logger }): Feed {
  const listeners = new Map<string, Set<FeedListener>>();
  let count = 0;
  let watermark: Promise<number> | undefined;
  let current = 0;
  let ready = false;

  async function run(): Promise<number> {
    if (count === 0 || watermark === undefined) return 0;
    await watermark;
    let handed = 0;
    for (;;) {
      const rows = await notificationsAfter(o.db, current, PAGE);
      for (const row of rows) {
        current = row.seq;
        for (const l of listeners.get(row.customerId) ?? []) {
          try {
            l(row);
            handed++;
          } catch (err) {
            o.log.warn({ err }, 'a notification stream listener threw');
          }
        }
      }
      if (rows.length < PAGE) return handed;
    }
  }

  const periodic = startPeriodic({ name: 'notification feed', intervalMs: o.pollMs, log: o.log, run, failed: 0 });
  let woken = false;
  let stopped = false;

  return {
    async subscribe(customerId, listener) {
      if (count === 0 || watermark === undefined) {
        // Rows committed while nobody listened are nobody's to hand: start from the last.
        ready = false;
        const started = lastSeq(o.db).then((seq) => {
          current = seq;
          ready = true;
          return seq;
        });
        watermark = started;
        started.catch(() => {
          if (watermark === started) watermark = undefined;
        });
      }
      const set = listeners.get(customerId) ?? new Set<FeedListener>();
      listeners.set(customerId, set);
      set.add(listener);
      count++;
      const unsubscribe = () => remove(customerId, listener, set);
      // Every row above `current` is handed from now on (a pass dispatches after its read).
      if (ready) return { from: current, unsubscribe };
      try {
        return { from: await watermark, unsubscribe };
      } catch (err) {
        unsubscribe();
        throw err;
      }
    },
    wake() {
      if (woken || stopped || count === 0) return;
      woken = true;
      setImmediate(() => {
        woken = false;
        periodic.pass().catch(() => undefined);
      });
    },
    size: () => count,
    stop() {
      stopped = true;
      return periodic.stop();
    },
  };

  function remove(customerId: string, listener: FeedListener, set: Set<FeedListener>): void {
    if (!set.delete(listener)) return;
    count--;
    if (set.size === 0) listeners.delete(customerId);
    if (count === 0) watermark = undefined;
  }
}
