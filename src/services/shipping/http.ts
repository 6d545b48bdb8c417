/** Shipping's HTTP routes: read a shipment by order (for the gateway's order details). */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '#platform/db/db.ts';
import { getShipment } from './store.ts';
import { ShipmentNotFound } from './errors.ts';

const Params = Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 100 }) });

export function registerRoutes(app: FastifyInstance, deps: { db: Db }): void {
  app.get<{ Params: Static<typeof Params> }>('/shipments/:orderId', { schema: { params: Params } }, async (req) => {
    const s = await getShipment(deps.db, req.params.orderId);
    if (!s) throw ShipmentNotFound(`no shipment for order ${req.params.orderId}`);
    return { orderId: s.orderId, status: s.status, trackingNumber: s.trackingNumber };
  });
}
