/**
 * Shipping's operations, run inside the caller's transaction and shared by the bus handlers
 * and the REST routes: schedule a shipment for an order, idempotent by order id (a repeat
 * answers the recorded outcome and books nothing more), and cancel it.
 */
import type { Sql } from '#platform/db/db.ts';
import { decideCancel, RejectReason, schedule, ShipmentStatus } from './domain/carrier.ts';
import { getShipment, insertShipment, markCancelled, type Shipment } from './store.ts';

export async function scheduleShipment(tx: Sql, orderId: string, country: string, at: string): Promise<Shipment> {
  const existing = await getShipment(tx, orderId);
  if (existing) return existing;
  const outcome = schedule(orderId, country);
  const shipment: Shipment = outcome.status === 'SCHEDULED'
    ? { orderId, status: outcome.status, trackingNumber: outcome.trackingNumber, country, reason: null }
    : { orderId, status: outcome.status, trackingNumber: null, country, reason: outcome.reason };
  await insertShipment(tx, shipment, at);
  return shipment;
}

/** Calls off the order's shipment, or refuses one in advance; true when this call cancelled a scheduled one. */
export async function cancelShipment(tx: Sql, orderId: string, at: string): Promise<boolean> {
  const decision = decideCancel(await getShipment(tx, orderId));
  if (decision.kind === 'tombstone') {
    await insertShipment(tx, { orderId, status: ShipmentStatus.cancelled, trackingNumber: null, country: '', reason: RejectReason.orderCancelled }, at);
    return false;
  }
  return decision.kind === 'cancel' && (await markCancelled(tx, orderId));
}
