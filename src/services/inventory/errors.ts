import { defineError } from '#platform/errors.ts';

export const DuplicateSku = defineError('ORD_ERR_DUPLICATE_SKU', 409);
export const InvalidProduct = defineError('ORD_ERR_INVALID_PRODUCT', 400);
export const ProductNotFound = defineError('ORD_ERR_PRODUCT_NOT_FOUND', 404);
/**
 * A conditional decrement found less stock than the locked read said. Cannot happen while
 * every writer goes through the locked path; if it does, throwing rolls the whole
 * transaction back (earlier decrements included) and the consumer retries it.
 */
export const StockChanged = defineError('ORD_ERR_STOCK_CHANGED', 500);
/** A restock that would take a product's stock past the INTEGER column's largest value. */
export const StockOverflow = defineError('ORD_ERR_STOCK_OVERFLOW', 422);
