/**
 * Bus handlers of the inventory in the choreography: no commands, it reacts to the events
 * of the others. OrderPlaced reserves the order's stock and answers StockReserved (carrying
 * what payments needs to charge: event-carried state transfer) or StockUnavailable; a
 * PaymentDeclined, a ShipmentRejected or an OrderCancelled(TIMEOUT) gives the stock back. The operations are the
 * commands' ones (reservations.ts): idempotent by order id, on top of the inbox.
 */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import {
  OrderCancelled, OrderPlaced, PaymentDeclined, ShipmentRejected, StockReleased, StockReserved, StockUnavailable,
  type PayloadOf,
} from '#contracts/index.ts';
import { reply, type InventoryHandlerDeps } from './handlers.ts';
import { releaseStock, reserveStock } from './reservations.ts';

export function createChoreographyHandlers(deps: InventoryHandlerDeps): Record<string, MessageHandler> {
  const { dialect, clock } = deps;

  // Causally after the reservation (payments and shipping act only on StockReserved), so a
  // release never overtakes its reservation here; releaseStock copes if one did.
  const release: MessageHandler = async (ctx) => {
    const { orderId } = ctx.message.payload as { orderId: string };
    const at = clock.now().toISOString();
    if (await releaseStock(ctx.tx, dialect, orderId, at)) reply(ctx, StockReleased, orderId, { orderId }, at);
  };

  return {
    async [OrderPlaced.type](ctx) {
      const o = ctx.message.payload as PayloadOf<typeof OrderPlaced>;
      const at = clock.now().toISOString();
      const items = o.items.map((l) => ({ productId: l.productId, quantity: l.quantity }));
      const decision = await reserveStock(ctx.tx, dialect, o.orderId, items, at);
      if (decision.ok) {
        const order = { customerId: o.customerId, totalCents: o.totalCents, paymentMethod: o.paymentMethod, shippingAddress: o.shippingAddress };
        reply(ctx, StockReserved, o.orderId, { orderId: o.orderId, items: decision.lines, order }, at);
      } else {
        reply(ctx, StockUnavailable, o.orderId, { orderId: o.orderId, productIds: decision.missing }, at);
      }
    },
    [PaymentDeclined.type]: release,
    [ShipmentRejected.type]: release,
    // A saga past its deadline (issue 9): orders announces the TIMEOUT on the topic of its
    // OrderPlaced, so after it; the reservation is given back. The other reasons are
    // undone by the facts above.
    async [OrderCancelled.type](ctx) {
      if ((ctx.message.payload as PayloadOf<typeof OrderCancelled>).reason === 'TIMEOUT') await release(ctx);
    },
  };
}
