/**
 * Shipping's HTTP routes: read a shipment by order (for the gateway's order details), and
 * schedule or cancel one synchronously for the rest architecture (PUT, DELETE, idempotent by order id).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { IdsQuery, jsonLines, jsonLinesType } from '#platform/http/json-lines.ts';
import { ShippingAddress, Uuid } from '#contracts/shared.ts';
import { createBatchWriter, type BatchWriter } from '#platform/db/batch-writer.ts';
import type { Db } from '#platform/db/db.ts';
import { cancelShipment, scheduleShipment } from './shipments.ts';
import { getShipment } from './store.ts';
import { ShipmentNotFound } from './errors.ts';

const Params = Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 100 }) });
const ScheduleParams = Type.Object({ orderId: Uuid });
const ScheduleBody = Type.Object({ address: ShippingAddress });

export interface ShippingRoutesDeps {
  db: Db;
  /** The host's group commit (bounded); a writer of its own when absent. */
  write?: BatchWriter;
  clock?: { now(): Date };
}

const view = (s: { orderId: string; status: string; trackingNumber: string | null; reason?: string | null }) =>
  s.reason ? { orderId: s.orderId, status: s.status, trackingNumber: s.trackingNumber, reason: s.reason } : { orderId: s.orderId, status: s.status, trackingNumber: s.trackingNumber };

export function registerRoutes(app: FastifyInstance, deps: ShippingRoutesDeps): void {
  const clock = deps.clock ?? { now: () => new Date() };
  // Concurrent calls share a transaction (group commit): one commit per batch, not per call.
  const write = deps.write ?? createBatchWriter(deps.db);

  app.get<{ Params: Static<typeof Params> }>('/shipments/:orderId', { schema: { params: Params } }, async (req) => {
    const s = await getShipment(deps.db, req.params.orderId);
    if (!s) throw ShipmentNotFound(`no shipment for order ${req.params.orderId}`);
    return { orderId: s.orderId, status: s.status, trackingNumber: s.trackingNumber };
  });

  // Many reads in one call, for the gateway's order details (see json-lines.ts): the
  // same answers as the route above, one line per order, empty where there is none.
  app.get<{ Querystring: Static<typeof IdsQuery> }>('/shipments-by-order', { schema: { querystring: IdsQuery } }, async (req, reply) => {
    const found = await Promise.all(req.query.ids.split(',').map((orderId) => getShipment(deps.db, orderId)));
    return reply.type(jsonLinesType).send(jsonLines(found.map((s) => s && JSON.stringify({ orderId: s.orderId, status: s.status, trackingNumber: s.trackingNumber }))));
  });

  app.put<{ Params: Static<typeof ScheduleParams>; Body: Static<typeof ScheduleBody> }>(
    '/shipments/:orderId',
    { schema: { params: ScheduleParams, body: ScheduleBody } },
    async (req) => {
      const orderId = req.params.orderId.toLowerCase();
      const at = clock.now().toISOString();
      return view(await write((tx) => scheduleShipment(tx, orderId, req.body.address.country, at)));
    },
  );

  // Idempotent like the PUT: cancels a scheduled shipment, or refuses a later PUT in advance.
  app.delete<{ Params: Static<typeof ScheduleParams> }>('/shipments/:orderId', { schema: { params: ScheduleParams } }, async (req) => {
    const orderId = req.params.orderId.toLowerCase();
    const at = clock.now().toISOString();
    const cancelled = await write((tx) => cancelShipment(tx, orderId, at));
    return { orderId, cancelled };
  });
}
