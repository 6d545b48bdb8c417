/**
 * Bus handler of shipping (events architecture): the ScheduleShipment command, answered
 * with ShipmentScheduled or ShipmentRejected; idempotent by order id (see shipments.ts).
 */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import { message, ScheduleShipment, ShipmentRejected, ShipmentScheduled, type PayloadOf } from '#contracts/index.ts';
import { scheduleShipment } from './shipments.ts';
import type { Shipment } from './store.ts';

export interface ShippingHandlerDeps {
  clock: { now(): Date };
}

export function createHandlers(deps: ShippingHandlerDeps): Record<string, MessageHandler> {
  return {
    async [ScheduleShipment.type](ctx) {
      const { orderId, address } = ctx.message.payload as PayloadOf<typeof ScheduleShipment>;
      const at = deps.clock.now().toISOString();
      const shipment = await scheduleShipment(ctx.tx, orderId, address.country, at);
      const m = replyFor(shipment, ctx.message, at);
      ctx.emit(m.topic, m.message);
    },
  };
}

export function replyFor(s: Shipment, cause: Parameters<typeof message>[1]['cause'], at: string) {
  if (s.status === 'SCHEDULED') {
    return message(ShipmentScheduled, { key: s.orderId, payload: { orderId: s.orderId, trackingNumber: s.trackingNumber ?? '' }, cause, occurredAt: at });
  }
  return message(ShipmentRejected, { key: s.orderId, payload: { orderId: s.orderId, reason: s.reason ?? 'COUNTRY_NOT_SERVED' }, cause, occurredAt: at });
}
