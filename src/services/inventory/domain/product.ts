/**
 * Catalog rules for creating a product. Pure: returns the violations, the caller decides
 * how to report them.
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
