/**
 * Catalog rules for creating and changing a product. Pure: returns the violations or the
 * decision, the caller decides how to report and store them.
 */
export interface NewProduct {
  sku: string;
  name: string;
  priceCents: number;
  stock: number;
}

export interface Product {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  available: number;
}

/** Stock and prices are INTEGER columns (32-bit on PostgreSQL). */
export const MAX_INT = 2_147_483_647;

const isNonNegativeInteger = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= MAX_INT;

/** Returns every rule `input` breaks; empty when it may be created. */
export function productViolations(input: NewProduct): string[] {
  const out: string[] = [];
  if (typeof input.sku !== 'string' || input.sku.trim() === '') out.push('sku must be a non-empty string');
  if (typeof input.name !== 'string' || input.name.trim() === '') out.push('name must be a non-empty string');
  if (!isNonNegativeInteger(input.priceCents)) out.push(`priceCents must be an integer from 0 to ${MAX_INT}`);
  if (!isNonNegativeInteger(input.stock)) out.push(`stock must be an integer from 0 to ${MAX_INT}`);
  return out;
}

/** The canonical form stored: sku and name without surrounding blanks. */
export function normaliseProduct(input: NewProduct): NewProduct {
  return { sku: input.sku.trim(), name: input.name.trim(), priceCents: input.priceCents, stock: input.stock };
}

/** PATCH /products/:id: a new price, stock to add, or both. */
export interface ProductChange {
  priceCents?: number;
  restock?: number;
}

/**
 * A product with the revision of its catalog facts (sku, name, price): 0 when created, one
 * more per change. Consumers of the catalog events keep the newest revision they saw.
 */
export interface RevisedProduct extends Product {
  revision: number;
}

export type ChangeDecision =
  | { ok: true; product: RevisedProduct; previousPriceCents: number; priceChanged: boolean; restocked: number }
  | { ok: false; reason: 'STOCK_OVERFLOW'; available: number; restock: number };

const isPositiveInteger = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 1 && (n as number) <= MAX_INT;

/** Returns every rule `change` breaks; empty when it may be applied. */
export function changeViolations(change: ProductChange): string[] {
  const out: string[] = [];
  if (change.priceCents === undefined && change.restock === undefined) out.push('name priceCents, restock or both');
  if (change.priceCents !== undefined && !isNonNegativeInteger(change.priceCents)) out.push(`priceCents must be an integer from 0 to ${MAX_INT}`);
  if (change.restock !== undefined && !isPositiveInteger(change.restock)) out.push(`restock must be an integer from 1 to ${MAX_INT}`);
  return out;
}

/**
 * Applies a valid change. The same price again is no change: no new revision, no event.
 * Stock is an INTEGER column: a restock past MAX_INT is refused, not wrapped or failed
 * by the database.
 */
export function decideChange(current: RevisedProduct, change: ProductChange): ChangeDecision {
  const restock = change.restock ?? 0;
  if (current.available + restock > MAX_INT) return { ok: false, reason: 'STOCK_OVERFLOW', available: current.available, restock };
  const priceChanged = change.priceCents !== undefined && change.priceCents !== current.priceCents;
  const product: RevisedProduct = {
    ...current,
    priceCents: priceChanged ? (change.priceCents as number) : current.priceCents,
    available: current.available + restock,
    revision: priceChanged ? current.revision + 1 : current.revision,
  };
  return { ok: true, product, previousPriceCents: current.priceCents, priceChanged, restocked: restock };
}
