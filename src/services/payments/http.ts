/**
 * Payments' HTTP routes: read a payment by order (for the gateway's order details), and
 * charge or refund synchronously for the rest architecture. PUT is idempotent by order id:
 * an order is charged at most once, a repeat answers the recorded outcome.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { IdsQuery, jsonLines, jsonLinesType } from '#platform/http/json-lines.ts';
import { v7 as uuidv7 } from 'uuid';
import { Cents, Uuid } from '#contracts/shared.ts';
import { createBatchWriter, type BatchWriter } from '#platform/db/batch-writer.ts';
import type { Db } from '#platform/db/db.ts';
import { chargeOrder, refundOrder } from './charges.ts';
import { getPayment } from './store.ts';
import { PaymentNotFound } from './errors.ts';

const Params = Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 100 }) });
const ChargeParams = Type.Object({ orderId: Uuid });
const ChargeBody = Type.Object({
  customerId: Type.String({ minLength: 1, maxLength: 200 }),
  amountCents: Cents,
  method: Type.String({ minLength: 1, maxLength: 100 }),
});

export interface PaymentsRoutesDeps {
  db: Db;
  /** The host's group commit (bounded); a writer of its own when absent. */
  write?: BatchWriter;
  ids?: { newId(): string };
  clock?: { now(): Date };
}

export function registerRoutes(app: FastifyInstance, deps: PaymentsRoutesDeps): void {
  const ids = deps.ids ?? { newId: () => uuidv7() };
  const clock = deps.clock ?? { now: () => new Date() };
  // Concurrent calls share a transaction (group commit): one commit per batch, not per call.
  const write = deps.write ?? createBatchWriter(deps.db);

  app.get<{ Params: Static<typeof Params> }>('/payments/:orderId', { schema: { params: Params } }, async (req) => {
    const p = await getPayment(deps.db, req.params.orderId);
    if (!p) throw PaymentNotFound(`no payment for order ${req.params.orderId}`);
    return { orderId: p.orderId, status: p.status, amountCents: p.amountCents, method: p.method };
  });

  // Many reads in one call, for the gateway's order details (see json-lines.ts): the
  // same answers as the route above, one line per order, empty where there is none.
  app.get<{ Querystring: Static<typeof IdsQuery> }>('/payments-by-order', { schema: { querystring: IdsQuery } }, async (req, reply) => {
    const found = await Promise.all(req.query.ids.split(',').map((orderId) => getPayment(deps.db, orderId)));
    return reply.type(jsonLinesType).send(jsonLines(found.map((p) => p && JSON.stringify({ orderId: p.orderId, status: p.status, amountCents: p.amountCents, method: p.method }))));
  });

  app.put<{ Params: Static<typeof ChargeParams>; Body: Static<typeof ChargeBody> }>(
    '/payments/:orderId',
    { schema: { params: ChargeParams, body: ChargeBody } },
    async (req) => {
      const orderId = req.params.orderId.toLowerCase();
      const at = clock.now().toISOString();
      const { payment, outcome } = await write((tx) => chargeOrder(tx, ids, { ...req.body, orderId }, at));
      return outcome.status === 'CHARGED'
        ? { orderId, paymentId: payment.paymentId, status: outcome.status, amountCents: payment.amountCents }
        : { orderId, paymentId: payment.paymentId, status: outcome.status, amountCents: payment.amountCents, reason: outcome.reason };
    },
  );

  app.put<{ Params: Static<typeof ChargeParams> }>('/payments/:orderId/refund', { schema: { params: ChargeParams } }, async (req) => {
    const orderId = req.params.orderId.toLowerCase();
    const at = clock.now().toISOString();
    const { decision, refunded } = await write((tx) => refundOrder(tx, orderId, at, ids));
    return { orderId, outcome: decision.kind, refunded };
  });
}
