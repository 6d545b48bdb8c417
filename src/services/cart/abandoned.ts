/**
 * The abandoned-cart loop: a cart with lines, untouched for CART_ABANDONED_AFTER_MS, is
 * announced with CartAbandoned, once per cart version. Each pass claims idle carts in the
 * transaction that queues their events (store.ts claimAbandoned), so two instances running
 * it at once announce each cart once. The same loop forgets clients' checkout keys past
 * their TTL and the stock holds of settled orders, so neither table grows for ever.
 */
import { CartAbandoned, message } from '#contracts/index.ts';
import { appendToOutbox } from '#platform/bus/outbox.ts';
import type { Db } from '#platform/db/db.ts';
import { startPeriodic, type Periodic } from '#platform/periodic.ts';
import { abandonedBefore, eventLines, priceLines } from './domain/cart.ts';
import { claimAbandoned, getLines, purgeCheckoutKeys, purgeHolds } from './store.ts';

export interface AbandonedCartsOptions {
  db: Db;
  clock: { now(): Date };
  log: { warn(obj: object, msg?: string): void };
  afterMs: number;
  intervalMs: number;
  idempotencyTtlMs: number;
  stockCounted: boolean;
  /** Carts claimed per transaction. */
  batch?: number;
}

/**
 * A reservation is released, if ever, within its saga's deadlines (minutes; a confirmed order
 * keeps its stock). Its StockReserved and StockReleased share a key, hence a partition, and
 * are handled in order, so the two handlings are no further apart than the two events were
 * made: an hour is far past any. A hold is a row per order, so it must not be kept longer.
 */
const HOLD_RETENTION_MS = 3_600_000;
/** Rows a purge deletes per statement, so that one pass never holds SQLite's write lock long. */
const PURGE_BATCH = 1_000;

/** Starts the loop; each pass resolves with how many carts it announced. */
export function startAbandonedCarts(o: AbandonedCartsOptions): Periodic<number> {
  const batch = o.batch ?? 100;
  return startPeriodic({
    name: 'abandoned carts',
    intervalMs: o.intervalMs,
    log: o.log,
    failed: 0,
    async run(stopped) {
      const now = o.clock.now();
      const cutoff = abandonedBefore(now, o.afterMs);
      let announced = 0;
      for (;;) {
        const n = await o.db.transaction(async (tx) => {
          const carts = await claimAbandoned(tx, cutoff, batch);
          const events = [];
          for (const cart of carts) {
            const priced = priceLines(await getLines(tx, cart.cartId, o.stockCounted));
            const payload = { cartId: cart.cartId, customerId: cart.customerId, version: cart.version, lines: eventLines(priced.lines), totalCents: priced.totalCents, idleSince: cart.updatedAt };
            events.push(message(CartAbandoned, { payload, occurredAt: now.toISOString() }));
          }
          await appendToOutbox(tx, events);
          return carts.length;
        });
        announced += n;
        if (n < batch || stopped()) break;
      }
      await purgeCheckoutKeys(o.db, new Date(now.getTime() - o.idempotencyTtlMs).toISOString());
      const holdsBefore = new Date(now.getTime() - HOLD_RETENTION_MS).toISOString();
      while ((await purgeHolds(o.db, holdsBefore, PURGE_BATCH)) === PURGE_BATCH && !stopped());
      return announced;
    },
  });
}
