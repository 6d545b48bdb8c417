/**
 * Bus handlers of the inventory: ReserveStock and ReleaseStock. The consumer runs each in a
 * transaction with inbox deduplication; these handlers are also idempotent by order id, so
 * a different message asking the same thing gets the same answer and changes nothing.
 *
 * Never oversell. On PostgreSQL several partitions' transactions run at once. A reservation
 * reads each product's stock under a row lock (SELECT … FOR UPDATE), taken in product id
 * order; with every row locked the pure decision cannot be invalidated before commit.
 * Because a transaction holds a whole batch of messages, sorted order per message is not
 * enough against deadlocks between batches: stock writers first take one transaction-scoped
 * advisory lock (see lockStockWriters). The decrements are conditional anyway
 * (`available >= quantity`) and the column has CHECK (available >= 0): a decrement that
 * finds too little throws, which rolls back the whole transaction and lets the consumer
 * retry. We check-then-write rather than write-then-undo so that a refusal writes nothing
 * to the products table and names every short product at once.
 */
import type { MessageContext, MessageHandler } from '#platform/bus/consumer.ts';
import type { Dialect } from '#platform/db/db.ts';
import {
  message, ReleaseStock, ReserveStock, StockReleased, StockReserved, StockUnavailable,
  type Contract, type PayloadOf,
} from '#contracts/index.ts';
import { decideRelease, mergeLines, replayReserve, reserve, type ReserveDecision } from './domain/reservation.ts';
import { decrementStock, getReservation, insertReservation, lockStock, lockStockWriters, markReleased, restoreStock } from './store.ts';
import { StockChanged } from './errors.ts';

export interface InventoryHandlerDeps {
  dialect: Dialect;
  clock: { now(): Date };
}

export function createHandlers(deps: InventoryHandlerDeps): Record<string, MessageHandler> {
  const { dialect, clock } = deps;

  function reply<C extends Contract>(ctx: MessageContext, contract: C, key: string, payload: PayloadOf<C>, at: string): void {
    const m = message(contract, { key, payload, cause: ctx.message, occurredAt: at });
    ctx.emit(m.topic, m.message);
  }

  async function decideNew(ctx: MessageContext, orderId: string, items: PayloadOf<typeof ReserveStock>['items'], at: string): Promise<ReserveDecision> {
    const lines = mergeLines(items);
    const stock = new Map<string, number>();
    for (const { productId } of lines) {
      const available = await lockStock(ctx.tx, dialect, productId);
      if (available !== undefined) stock.set(productId, available);
    }
    const decision = reserve(stock, lines);
    if (decision.ok) {
      for (const l of decision.lines) {
        if (!(await decrementStock(ctx.tx, l.productId, l.quantity))) {
          throw StockChanged(`stock of product ${l.productId} changed under its lock while reserving order ${orderId}`);
        }
      }
      await insertReservation(ctx.tx, { orderId, status: 'RESERVED', lines: decision.lines, missing: [] }, at);
    } else {
      await insertReservation(ctx.tx, { orderId, status: 'REJECTED', lines, missing: decision.missing }, at);
    }
    return decision;
  }

  return {
    async [ReserveStock.type](ctx) {
      const { orderId, items } = ctx.message.payload as PayloadOf<typeof ReserveStock>;
      const at = clock.now().toISOString();
      await lockStockWriters(ctx.tx, dialect);
      const existing = await getReservation(ctx.tx, orderId);
      const decision = existing ? replayReserve(existing, items) : await decideNew(ctx, orderId, items, at);
      if (decision.ok) reply(ctx, StockReserved, orderId, { orderId, items: decision.lines }, at);
      else reply(ctx, StockUnavailable, orderId, { orderId, productIds: decision.missing }, at);
    },

    async [ReleaseStock.type](ctx) {
      const { orderId } = ctx.message.payload as PayloadOf<typeof ReleaseStock>;
      const at = clock.now().toISOString();
      await lockStockWriters(ctx.tx, dialect);
      const decision = decideRelease(await getReservation(ctx.tx, orderId));
      if (decision.kind === 'tombstone') {
        await insertReservation(ctx.tx, { orderId, status: 'RELEASED', lines: [], missing: [] }, at);
        return;
      }
      if (decision.kind === 'noop') return;
      // The conditional status change is the guard: of two releases racing, one restores.
      if (!(await markReleased(ctx.tx, orderId, at))) return;
      for (const l of decision.lines) await restoreStock(ctx.tx, l.productId, l.quantity);
      reply(ctx, StockReleased, orderId, { orderId }, at);
    },
  };
}
