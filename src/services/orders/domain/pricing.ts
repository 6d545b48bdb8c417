// Prices a requested order from the local catalog copy, without asking inventory.
import { defineError } from '#platform/errors.ts';
import type { OrderLine } from './order.ts';

export const UnknownProduct = defineError('ORD_ERR_UNKNOWN_PRODUCT', 422);

export interface RequestedLine {
  productId: string;
  quantity: number;
}

/**
 * Lines naming the same product are merged (quantities added) in the order they first
 * appear: a client listing a product twice means "this many in total", and one line per
 * product keeps reservations, stock checks and totals simple downstream.
 */
export function priceItems(requested: readonly RequestedLine[], priceOf: ReadonlyMap<string, number>): OrderLine[] {
  const lines = new Map<string, OrderLine>();
  const unknown: string[] = [];
  for (const { productId, quantity } of requested) {
    const key = productId.toLowerCase();
    const existing = lines.get(key);
    if (existing) {
      existing.quantity += quantity;
      continue;
    }
    const unitPriceCents = priceOf.get(key);
    if (unitPriceCents === undefined) {
      if (!unknown.includes(productId)) unknown.push(productId);
      continue;
    }
    lines.set(key, { productId: key, quantity, unitPriceCents });
  }
  if (unknown.length > 0) {
    throw UnknownProduct(`unknown product${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, { details: { productIds: unknown } });
  }
  return [...lines.values()];
}
