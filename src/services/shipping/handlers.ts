/**
 * Bus handler of shipping: ScheduleShipment, idempotent by order id on top of the
 * consumer's inbox: a repeated command answers the recorded outcome and books nothing more.
 */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import { message, ScheduleShipment, ShipmentRejected, ShipmentScheduled, type PayloadOf } from '#contracts/index.ts';
import { schedule } from './domain/carrier.ts';
import { getShipment, insertShipment, type Shipment } from './store.ts';

export interface ShippingHandlerDeps {
  clock: { now(): Date };
}

export function createHandlers(deps: ShippingHandlerDeps): Record<string, MessageHandler> {
  return {
    async [ScheduleShipment.type](ctx) {
      const { orderId, address } = ctx.message.payload as PayloadOf<typeof ScheduleShipment>;
      const at = deps.clock.now().toISOString();
      let shipment = await getShipment(ctx.tx, orderId);
      if (!shipment) {
        const outcome = schedule(orderId, address.country);
        shipment = outcome.status === 'SCHEDULED'
          ? { orderId, status: outcome.status, trackingNumber: outcome.trackingNumber, country: address.country, reason: null }
          : { orderId, status: outcome.status, trackingNumber: null, country: address.country, reason: outcome.reason };
        await insertShipment(ctx.tx, shipment, at);
      }
      const m = replyFor(shipment, ctx.message, at);
      ctx.emit(m.topic, m.message);
    },
  };
}

function replyFor(s: Shipment, cause: Parameters<typeof message>[1]['cause'], at: string) {
  if (s.status === 'SCHEDULED') {
    return message(ShipmentScheduled, { key: s.orderId, payload: { orderId: s.orderId, trackingNumber: s.trackingNumber ?? '' }, cause, occurredAt: at });
  }
  return message(ShipmentRejected, { key: s.orderId, payload: { orderId: s.orderId, reason: s.reason ?? 'COUNTRY_NOT_SERVED' }, cause, occurredAt: at });
}
