import { defineError } from '#platform/errors.ts';

export const PaymentNotFound = defineError('ORD_ERR_PAYMENT_NOT_FOUND', 404);
