/**
 * Shipping's operation, run inside the caller's transaction and shared by the bus handlers
 * and the REST route: schedule a shipment for an order, idempotent by order id (a repeat
 * answers the recorded outcome and books nothing more).
 */
import type { Sql } from '#platform/db/db.ts';
import { schedule } from './domain/carrier.ts';
import { getShipment, insertShipment, type Shipment } from './store.ts';

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
