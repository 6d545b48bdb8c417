import { defineError } from '#platform/errors.ts';

export const UnknownProduct = defineError('CART_ERR_UNKNOWN_PRODUCT', 422);
export const EmptyCart = defineError('CART_ERR_EMPTY', 422);
export const TooManyLines = defineError('CART_ERR_TOO_MANY_LINES', 422);
export const IdempotencyKeyReused = defineError('CART_ERR_IDEMPOTENCY_KEY_REUSED', 422);
/** Orders answered something the cart cannot read as an order placed or refused. */
export const OrdersFailed = defineError('CART_ERR_ORDERS_FAILED', 502);
