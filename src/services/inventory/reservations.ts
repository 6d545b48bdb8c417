/**
 * Inventory's two operations on reservations, each run inside the caller's transaction:
 * the bus handlers (ReserveStock/ReleaseStock commands, choreography's events) and the
 * REST routes (PUT/DELETE /reservations/:orderId) share them, so every architecture
 * reserves by the same rules. Both are idempotent by order id.
 *
 * Never oversell. On PostgreSQL several transactions run at once. A reservation reads each
 * product's stock under a row lock (SELECT … FOR UPDATE), taken in product id order; with
 * every row locked the pure decision cannot be invalidated before commit. Because a
 * transaction may hold a whole batch of reservations, sorted order per reservation is not
 * enough against deadlocks between batches: stock writers first take one transaction-scoped
 * advisory lock (see lockStockWriters). The decrements are conditional anyway
 * (`available >= quantity`) and the column has CHECK (available >= 0): a decrement that
 * finds too little throws, which rolls back the whole transaction. We check-then-write
 * rather than write-then-undo so that a refusal writes nothing to the products table and
 * names every short product at once.
 */
import type { Dialect, Sql } from '#platform/db/db.ts';
import { decideRelease, mergeLines, replayReserve, reserve, type ReserveDecision, type StockLine } from './domain/reservation.ts';
import { decrementStock, getReservation, insertReservation, lockStock, lockStockWriters, markReleased, restoreStock } from './store.ts';
import { StockChanged } from './errors.ts';

async function decideNew(tx: Sql, dialect: Dialect, orderId: string, items: readonly StockLine[], at: string): Promise<ReserveDecision> {
  const lines = mergeLines(items);
  const stock = new Map<string, number>();
  for (const { productId } of lines) {
    const available = await lockStock(tx, dialect, productId);
    if (available !== undefined) stock.set(productId, available);
  }
  const decision = reserve(stock, lines);
  if (decision.ok) {
    for (const l of decision.lines) {
      if (!(await decrementStock(tx, l.productId, l.quantity))) {
        throw StockChanged(`stock of product ${l.productId} changed under its lock while reserving order ${orderId}`);
      }
    }
    await insertReservation(tx, { orderId, status: 'RESERVED', lines: decision.lines, missing: [] }, at);
  } else {
    await insertReservation(tx, { orderId, status: 'REJECTED', lines, missing: decision.missing }, at);
  }
  return decision;
}

/** Reserves every line of the order or none; a repeat answers the first decision. */
export async function reserveStock(tx: Sql, dialect: Dialect, orderId: string, items: readonly StockLine[], at: string): Promise<ReserveDecision> {
  await lockStockWriters(tx, dialect);
  const existing = await getReservation(tx, orderId);
  return existing ? replayReserve(existing, items) : decideNew(tx, dialect, orderId, items, at);
}

/** Gives a held reservation back to stock; true when this call released it (false: nothing held, or released before). */
export async function releaseStock(tx: Sql, dialect: Dialect, orderId: string, at: string): Promise<boolean> {
  await lockStockWriters(tx, dialect);
  const decision = decideRelease(await getReservation(tx, orderId));
  if (decision.kind === 'tombstone') {
    await insertReservation(tx, { orderId, status: 'RELEASED', lines: [], missing: [] }, at);
    return false;
  }
  if (decision.kind === 'noop') return false;
  // The conditional status change is the guard: of two releases racing, one restores.
  if (!(await markReleased(tx, orderId, at))) return false;
  for (const l of decision.lines) await restoreStock(tx, l.productId, l.quantity);
  return true;
}
