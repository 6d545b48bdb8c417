// Admission control for POST /orders in the events and choreography architectures. There,
// accepting an order costs a few inserts and the saga runs later, over the bus: with the
// downstream stopped or slow, orders would be accepted faster than they finish, without
// end. Past a bound of orders still PENDING, a new order is refused with 503 and
// Retry-After, before anything is written.
//
// The signal is the saga backlog itself: the orders still PENDING in this service's
// database. It grows whatever holds the sagas back (a service stopped, a consumer paused or
// slow, the broker away, the relay stuck), counts every orders instance (they share the
// database) and survives a restart. The outbox backlog would miss a stopped consumer
// (the relay keeps publishing to the broker), and consumer lag is another service's
// group, one broker round trip per read. The count is cheap: it reads the partial index
// orders_view_pending, which holds only PENDING rows, and admission keeps those near the
// bound; it is read at most every refreshMs, one read shared by the requests that wait for it.
import type { Db } from '#platform/db/db.ts';
import { defineError } from '#platform/errors.ts';
import type { Logger } from '#platform/log.ts';
import { countPendingOrders } from './store.ts';

export const SagaBacklogFull = defineError('ORD_ERR_SAGA_BACKLOG_FULL', 503);

export interface AdmissionOptions {
  db: Db;
  /** Orders still PENDING past which new ones are refused; 0 admits everything. */
  maxPending: number;
  /** The count is read again when older than this. */
  refreshMs?: number;
  /** Retry-After of a refusal. */
  retryAfterS?: number;
  log?: Logger;
}

export interface Admission {
  /** Resolves when a new order may be taken; throws SagaBacklogFull when not. */
  admit(): Promise<void>;
  /** An order was taken (committed): counted until the next read sees it. */
  accepted(): void;
}

export function createAdmission(opts: AdmissionOptions): Admission {
  const refreshMs = opts.refreshMs ?? 250;
  let pending = 0; // at the last read
  let acceptedTotal = 0; // by this process, ever
  let acceptedAtRead = 0; // acceptedTotal when the last read began
  let readAt = -Infinity;
  let reading: Promise<void> | undefined;

  function refresh(): Promise<void> {
    reading ??= (async () => {
      const before = acceptedTotal;
      try {
        pending = await countPendingOrders(opts.db);
        acceptedAtRead = before;
      } catch (err) {
        // The database did not answer: admit on the last count; the write itself will tell.
        opts.log?.warn({ err }, 'admission: could not count the pending orders');
      } finally {
        readAt = performance.now();
        reading = undefined;
      }
    })();
    return reading;
  }

  return {
    async admit() {
      if (opts.maxPending === 0) return;
      if (performance.now() - readAt >= refreshMs) await refresh();
      // What the read saw, plus what this process took since (some of them may be counted
      // twice: the estimate errs on the side of refusing).
      const estimate = pending + (acceptedTotal - acceptedAtRead);
      if (estimate >= opts.maxPending) {
        throw SagaBacklogFull(`${estimate} orders are still pending, the bound is ${opts.maxPending}; the order was not taken, retry later`, {
          retryAfterS: opts.retryAfterS ?? 1,
        });
      }
    },
    accepted() {
      acceptedTotal++;
    },
  };
}
