/** Payments' HTTP routes: read a payment by order (for the gateway's order details). */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '#platform/db/db.ts';
import { getPayment } from './store.ts';
import { PaymentNotFound } from './errors.ts';

const Params = Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 100 }) });

export function registerRoutes(app: FastifyInstance, deps: { db: Db }): void {
  app.get<{ Params: Static<typeof Params> }>('/payments/:orderId', { schema: { params: Params } }, async (req) => {
    const p = await getPayment(deps.db, req.params.orderId);
    if (!p) throw PaymentNotFound(`no payment for order ${req.params.orderId}`);
    return { orderId: p.orderId, status: p.status, amountCents: p.amountCents, method: p.method };
  });
}
