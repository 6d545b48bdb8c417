import { defineError } from '#platform/errors.ts';

export const ShipmentNotFound = defineError('ORD_ERR_SHIPMENT_NOT_FOUND', 404);
