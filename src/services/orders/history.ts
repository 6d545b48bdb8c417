// An order's past, from its stream: the events as an audit trail, and the order as it was at
// a time, by replaying the events up to it. The stream is the truth and orders_view only its
// latest fold, so neither needs anything the service does not already keep. Reads only.
import { contractOf } from '#contracts/index.ts';
import type { Sql } from '#platform/db/db.ts';
import { fold } from './domain/order.ts';
import { loadEvents, loadHistory, viewOf, type OrderView, type RecordedEvent } from './store.ts';

export interface HistoryEntry {
  type: string;
  at: string;
  version: number;
  data: unknown;
  /** Who did what the event records: the owner of the message of that name (StockReserved: inventory). */
  service: string;
  /** The trace of the work that appended it, when that was traced (store.ts, orders-008). */
  traceId?: string;
}

/** The order's events, oldest first; empty when there is no such order. */
export async function orderHistory(sql: Sql, orderId: string): Promise<HistoryEntry[]> {
  const events: RecordedEvent[] = await loadHistory(sql, orderId);
  return events.map((e) => ({ type: e.type, at: e.at, version: e.version, data: e.data, service: serviceOf(e.type), ...(e.traceId === undefined ? {} : { traceId: e.traceId }) }));
}

/**
 * An order's events are named after the messages that brought them (the saga records
 * StockReserved when inventory's StockReserved arrives, or inventory's answer in rest): the
 * contract of that name says whose they are. An event with no message of its name is orders'.
 */
function serviceOf(type: string): string {
  return contractOf(type)?.owner ?? 'orders';
}

/**
 * The order's view as of `at`: the fold of the events that happened at or before it.
 * Undefined when the order did not exist yet (or at all). The events of a stream are in the
 * order they happened, so those up to a time are a prefix of it.
 */
export async function orderAsOf(sql: Sql, orderId: string, at: Date): Promise<OrderView | undefined> {
  const events = await loadEvents(sql, orderId);
  const until = at.getTime();
  let n = 0;
  while (n < events.length && Date.parse(events[n].at) <= until) n++;
  return viewOf(fold(events.slice(0, n)));
}
