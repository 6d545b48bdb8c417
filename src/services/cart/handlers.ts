/**
 * Bus handlers of the cart (group `cart`, on inventory.events in every architecture): the
 * catalog copy the cart prices its lines from, and its stock count. Event-carried state: a
 * GET of the cart asks no other service.
 *
 * The count sums moves (creation stock, restocks, reservations, releases), so it does not
 * matter that a product's events and an order's reservation travel on different partitions
 * and arrive in either order; the inbox applies each once. StockReleased names only its order,
 * so what StockReserved took is held until then (stock_holds).
 */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import type { PayloadOf, ProductCreated, ProductPriceChanged, ProductRestocked, StockReleased, StockReserved } from '#contracts/index.ts';
import { holdStock, moveStock, setInitialStock, takeHold, upsertProductFacts } from './store.ts';

export interface CartHandlerDeps {
  clock: { now(): Date };
}

export function createHandlers(deps: CartHandlerDeps): Record<string, MessageHandler> {
  const now = () => deps.clock.now().toISOString();
  return {
    async ProductCreated(ctx) {
      const { productId, name, priceCents, stock } = ctx.message.payload as PayloadOf<typeof ProductCreated>;
      await upsertProductFacts(ctx.tx, { productId, name, priceCents, revision: 0 }, now());
      if (stock !== undefined) await setInitialStock(ctx.tx, productId, stock);
    },

    async ProductPriceChanged(ctx) {
      const { productId, name, priceCents, revision } = ctx.message.payload as PayloadOf<typeof ProductPriceChanged>;
      await upsertProductFacts(ctx.tx, { productId, name, priceCents, revision }, now());
    },

    async ProductRestocked(ctx) {
      const { productId, quantity } = ctx.message.payload as PayloadOf<typeof ProductRestocked>;
      await moveStock(ctx.tx, productId, quantity, now());
    },

    async StockReserved(ctx) {
      const { orderId, items } = ctx.message.payload as PayloadOf<typeof StockReserved>;
      const at = now();
      // The same order reserved twice is one reservation (inventory answers a repeat with its first decision).
      if (!(await holdStock(ctx.tx, orderId, items, at))) return;
      for (const item of items) await moveStock(ctx.tx, item.productId, -item.quantity, at);
    },

    async StockReleased(ctx) {
      const { orderId } = ctx.message.payload as PayloadOf<typeof StockReleased>;
      const held = await takeHold(ctx.tx, orderId);
      if (!held) return;
      const at = now();
      for (const item of held) await moveStock(ctx.tx, item.productId, item.quantity, at);
    },
  };
}
