/**
 * Stock reservation rules. Pure: the caller reads stock and records decisions.
 *
 * A reservation is all-or-nothing and keyed by order id: an order holds either every unit
 * it asked for or none. Lines of the same product are summed, and lines come out sorted by
 * product id so that callers lock product rows in one global order (no deadlocks between
 * concurrent reservations on PostgreSQL).
 */
export interface StockLine {
  productId: string;
  quantity: number;
}

export const ReservationStatus = {
  reserved: 'RESERVED',
  released: 'RELEASED',
  rejected: 'REJECTED',
} as const;
export type ReservationStatus = (typeof ReservationStatus)[keyof typeof ReservationStatus];

export interface Reservation {
  orderId: string;
  status: ReservationStatus;
  /** Units held (RESERVED), once held (RELEASED), or asked for (REJECTED). Empty for a tombstone. */
  lines: StockLine[];
  /** REJECTED only: the products that could not be served. */
  missing: string[];
}

export type ReserveDecision = { ok: true; lines: StockLine[] } | { ok: false; missing: string[] };

const byProductId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sums the quantities of each product and sorts the lines by product id. */
export function mergeLines(items: readonly StockLine[]): StockLine[] {
  const sums = new Map<string, number>();
  for (const { productId, quantity } of items) sums.set(productId, (sums.get(productId) ?? 0) + quantity);
  return [...sums.keys()].sort(byProductId).map((productId) => ({ productId, quantity: sums.get(productId)! }));
}

/**
 * Decides a reservation against the available stock of each product (a product absent from
 * `stockByProduct` does not exist). Refuses the whole order when any product falls short,
 * naming every product that does, in product id order.
 */
export function reserve(stockByProduct: ReadonlyMap<string, number>, items: readonly StockLine[]): ReserveDecision {
  const lines = mergeLines(items);
  const missing = lines
    .filter(({ productId, quantity }) => !(quantity > 0) || (stockByProduct.get(productId) ?? 0) < quantity)
    .map((l) => l.productId);
  return missing.length === 0 ? { ok: true, lines } : { ok: false, missing };
}

/**
 * What to answer to a ReserveStock for an order that already has a reservation row. A held
 * reservation and a refusal are answered as first decided. A released one (and the tombstone
 * of a release that came first) is refused: its stock is no longer held, so saying
 * "reserved" would let a saga go on without stock. In our saga a release only follows a
 * cancellation, so the orchestrator ignores either answer; refusing is the safe one.
 */
export function replayReserve(existing: Reservation, asked: readonly StockLine[]): ReserveDecision {
  if (existing.status === ReservationStatus.reserved) return { ok: true, lines: existing.lines };
  if (existing.status === ReservationStatus.rejected) return { ok: false, missing: existing.missing };
  const lines = existing.lines.length > 0 ? existing.lines : mergeLines(asked);
  return { ok: false, missing: lines.map((l) => l.productId) };
}

export type ReleaseDecision =
  /** Give `lines` back to stock and mark the reservation RELEASED; announce StockReleased. */
  | { kind: 'restore'; lines: StockLine[] }
  /** Nothing held and nothing to record: released already, or never reserved (refused). */
  | { kind: 'noop' }
  /**
   * No reservation at all: record a RELEASED row with no lines, so that a ReserveStock
   * arriving after its release (reordered or replayed) is refused instead of holding stock
   * for an order that is already being unwound.
   */
  | { kind: 'tombstone' };

export function decideRelease(existing: Reservation | undefined): ReleaseDecision {
  if (existing === undefined) return { kind: 'tombstone' };
  if (existing.status === ReservationStatus.reserved) return { kind: 'restore', lines: existing.lines };
  return { kind: 'noop' };
}
