/**
 * The simulated carrier. Pure and deterministic: country `XX` is not served, every other
 * two-letter country is; the tracking number is derived from the order id, so a replayed
 * command yields the same number.
 */
import { createHash } from 'node:crypto';

export const ShipmentStatus = { scheduled: 'SCHEDULED', rejected: 'REJECTED', cancelled: 'CANCELLED' } as const;
export type ShipmentStatus = (typeof ShipmentStatus)[keyof typeof ShipmentStatus];

export const RejectReason = {
  countryNotServed: 'COUNTRY_NOT_SERVED',
  invalidCountry: 'INVALID_COUNTRY',
  /** The order was cancelled (CancelShipment) before or after its shipment was asked for. */
  orderCancelled: 'ORDER_CANCELLED',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export type ShipmentOutcome =
  | { status: 'SCHEDULED'; trackingNumber: string }
  | { status: 'REJECTED'; reason: RejectReason };

const NOT_SERVED = new Set(['XX']);

/**
 * A hash rather than a slice of the id: the first hex digits of a UUIDv7 are its
 * millisecond timestamp, so orders placed in the same millisecond would share them.
 */
export function trackingNumberFor(orderId: string): string {
  return `TRK-${createHash('sha256').update(orderId.toLowerCase()).digest('hex').slice(0, 12).toUpperCase()}`;
}

export function schedule(orderId: string, country: string): ShipmentOutcome {
  const code = country.toUpperCase();
  if (!/^[A-Z]{2}$/.test(code)) return { status: ShipmentStatus.rejected, reason: RejectReason.invalidCountry };
  if (NOT_SERVED.has(code)) return { status: ShipmentStatus.rejected, reason: RejectReason.countryNotServed };
  return { status: ShipmentStatus.scheduled, trackingNumber: trackingNumberFor(orderId) };
}

export type CancelDecision =
  /** Call the scheduled shipment off (its tracking number stays on record). */
  | { kind: 'cancel' }
  /** Nothing booked to undo: rejected, or cancelled before. */
  | { kind: 'noop' }
  /**
   * No shipment at all: record a CANCELLED one, so that a ScheduleShipment arriving after
   * the cancellation (reordered, replayed) is refused instead of booking for a cancelled order.
   */
  | { kind: 'tombstone' };

export function decideCancel(existing: { status: ShipmentStatus } | undefined): CancelDecision {
  if (existing === undefined) return { kind: 'tombstone' };
  return existing.status === ShipmentStatus.scheduled ? { kind: 'cancel' } : { kind: 'noop' };
}
