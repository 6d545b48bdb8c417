/**
 * Bus handlers of the inventory (events architecture): the ReserveStock and ReleaseStock
 * commands. The consumer runs each in a transaction with inbox deduplication; the
 * operations (reservations.ts) are also idempotent by order id, so a different message
 * asking the same thing gets the same answer and changes nothing.
 */
import type { MessageContext, MessageHandler } from '#platform/bus/consumer.ts';
import type { Dialect } from '#platform/db/db.ts';
import {
  message, ReleaseStock, ReserveStock, StockReleased, StockReserved, StockUnavailable,
  type Contract, type PayloadOf,
} from '#contracts/index.ts';
import { releaseStock, reserveStock } from './reservations.ts';

export interface InventoryHandlerDeps {
  dialect: Dialect;
  clock: { now(): Date };
}

export function reply<C extends Contract>(ctx: MessageContext, contract: C, key: string, payload: PayloadOf<C>, at: string): void {
  const m = message(contract, { key, payload, cause: ctx.message, occurredAt: at });
  ctx.emit(m.topic, m.message);
}

export function createHandlers(deps: InventoryHandlerDeps): Record<string, MessageHandler> {
  const { dialect, clock } = deps;
  return {
    async [ReserveStock.type](ctx) {
      const { orderId, items } = ctx.message.payload as PayloadOf<typeof ReserveStock>;
      const at = clock.now().toISOString();
      const decision = await reserveStock(ctx.tx, dialect, orderId, items, at);
      if (decision.ok) reply(ctx, StockReserved, orderId, { orderId, items: decision.lines }, at);
      else reply(ctx, StockUnavailable, orderId, { orderId, productIds: decision.missing }, at);
    },

    async [ReleaseStock.type](ctx) {
      const { orderId } = ctx.message.payload as PayloadOf<typeof ReleaseStock>;
      const at = clock.now().toISOString();
      if (await releaseStock(ctx.tx, dialect, orderId, at)) reply(ctx, StockReleased, orderId, { orderId }, at);
    },
  };
}
