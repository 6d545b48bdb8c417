// The orders service's HTTP routes (internal; the gateway forwards /api/orders here).
// Fastify validates bodies, params and headers against the TypeBox schemas (a mismatch is
// a 400 from the platform error handler) and serialises answers with the response schemas.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Uuid } from '#contracts/shared.ts';
import { OrderNotFound, statusOf, type ShippingAddress } from './domain/order.ts';
import { createBatchWriter } from '#platform/db/batch-writer.ts';
import { placeOrder, type OrdersDeps } from './place-order.ts';
import { DependencyUnavailable, type Downstream } from './rest/downstream.ts';
import type { RestDriver } from './rest/drive.ts';
import { orderAsOf, orderHistory } from './history.ts';
import { getOrderView, getProduct, listCustomerOrders, listOrders } from './store.ts';
import { createViewReads, type ViewReads } from './view-reads.ts';
import { IdsQuery, jsonLines, jsonLinesType } from '#platform/http/json-lines.ts';
import { defineError, OrderflowError } from '#platform/errors.ts';
import { logRequestFields } from '#platform/telemetry/log-context.ts';

export const ProductNotInCatalog = defineError('ORD_ERR_PRODUCT_NOT_FOUND', 404);
export const InvalidAsOf = defineError('ORD_ERR_INVALID_AS_OF', 400);

// An ISO 8601 time with its zone (what the events' `at` are); anything else is a 400 rather
// than a guess at what a local time meant.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function asOfTime(value: string): Date {
  const time = ISO_TIME.test(value) ? new Date(value) : undefined;
  if (time === undefined || Number.isNaN(time.getTime())) throw InvalidAsOf(`asOf must be an ISO 8601 time with a zone, like 2026-01-31T12:00:00Z; got "${value}"`);
  return time;
}

const CustomerOrdersQuery = Type.Object(
  {
    customerId: Type.String({ minLength: 1, maxLength: 200 }),
    // A string: query parameters are not coerced (the platform's validation changes no input).
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    cursor: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

// The admin's search: every customer's orders, the same page shape and cursor.
const AdminOrdersQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('PENDING'), Type.Literal('CONFIRMED'), Type.Literal('CANCELLED')])),
    customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    cursor: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

const PlaceOrderBody = Type.Object(
  {
    customerId: Type.String({ minLength: 1, maxLength: 200 }),
    items: Type.Array(
      Type.Object({ productId: Uuid, quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, { additionalProperties: false }),
      { minItems: 1, maxItems: 100 },
    ),
    paymentMethod: Type.String({ minLength: 1, maxLength: 100 }),
    shippingAddress: Type.Object(
      {
        country: Type.String({ pattern: '^[A-Za-z]{2}$' }),
        city: Type.Optional(Type.String({ maxLength: 200 })),
        line1: Type.Optional(Type.String({ maxLength: 200 })),
        postalCode: Type.Optional(Type.String({ maxLength: 40 })),
      },
      { additionalProperties: true, maxProperties: 20 },
    ),
  },
  { additionalProperties: false },
);

const PlaceOrderHeaders = Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) });

const Status = Type.Union([Type.Literal('PENDING'), Type.Literal('CONFIRMED'), Type.Literal('CANCELLED')]);
const Accepted = Type.Object({ id: Type.String(), status: Status });
const Finished = Type.Object({ id: Type.String(), status: Status, reason: Type.Optional(Type.String()) });

const OrderParams = Type.Object({ id: Uuid });
const OrderBody = Type.Object({
  id: Type.String(),
  customerId: Type.String(),
  items: Type.Array(Type.Object({ productId: Type.String(), quantity: Type.Integer(), unitPriceCents: Type.Integer() })),
  totalCents: Type.Integer(),
  status: Status,
  reason: Type.Optional(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const OrderQuery = Type.Object({ asOf: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) });
const History = Type.Object({
  events: Type.Array(Type.Object({ type: Type.String(), at: Type.String(), version: Type.Integer(), data: Type.Unknown(), service: Type.String(), traceId: Type.Optional(Type.String()) })),
});

const ProductParams = Type.Object({ productId: Uuid });
const ProductBody = Type.Object({ productId: Type.String(), sku: Type.String(), name: Type.String(), priceCents: Type.Integer() });

/** The rest architecture's saga: driven by calls inside POST /orders. */
export interface RestSaga {
  driver: RestDriver;
  downstream: Pick<Downstream, 'openCircuit'>;
}

/**
 * A drive that failed after the order was accepted: the same code and status, and the
 * order's id, so the client knows the order exists and will be finished (by recovery).
 */
function unfinished(err: unknown, orderId: string): unknown {
  if (!(err instanceof OrderflowError) || err.statusCode < 500) return err;
  return new OrderflowError(err.code, `order ${orderId} is accepted but not finished: ${err.message}. It will be finished once the service answers; see GET /api/orders/${orderId}`, {
    statusCode: err.statusCode,
    cause: err,
    details: { orderId },
  });
}

export function registerRoutes(app: FastifyInstance, base: OrdersDeps & { restSaga?: RestSaga; views?: ViewReads }): void {
  const deps: OrdersDeps = { ...base, write: base.write ?? createBatchWriter(base.db), arch: base.restSaga ? 'rest' : base.arch };
  const rest = base.restSaga;
  logRequestFields(app, (req) => (req.routeOptions.url?.startsWith('/orders/:id') ? { orderId: (req.params as { id: string }).id } : undefined));
  app.post<{ Body: Static<typeof PlaceOrderBody>; Headers: Static<typeof PlaceOrderHeaders> }>(
    '/orders',
    { schema: { body: PlaceOrderBody, headers: PlaceOrderHeaders, response: { 201: Finished, 202: Accepted } } },
    async (req, reply) => {
      const body = { ...req.body, shippingAddress: req.body.shippingAddress as ShippingAddress };
      if (!rest) {
        const answer = await placeOrder(deps, body, req.headers['idempotency-key']);
        return reply.code(202).send({ id: answer.id, status: answer.status });
      }
      // Shed load while a service is known to be down, rather than accept orders that can
      // only wait: nothing is written.
      const down = rest.downstream.openCircuit();
      if (down) throw DependencyUnavailable(`${down} is unavailable (circuit open); the order was not taken, retry later`);
      const answer = await placeOrder(deps, body, req.headers['idempotency-key']);
      if (answer.replayed && answer.status !== 'PENDING') {
        const view = await getOrderView(deps.db, answer.id);
        return reply.code(201).send({ id: answer.id, status: answer.status, reason: view?.reason });
      }
      const state = await rest.driver.drive(answer.id, answer.state).catch((err) => {
        throw unfinished(err, answer.id);
      });
      return reply.code(201).send({ id: state.id, status: statusOf(state), reason: state.reason });
    },
  );

  // The response schema documents the answer; the bytes come serialised from the reads
  // (view-reads.ts), which keep them between commits.
  const viewReads = base.views ?? createViewReads(deps.db);
  app.get<{ Params: Static<typeof OrderParams>; Querystring: Static<typeof OrderQuery> }>('/orders/:id', { schema: { params: OrderParams, querystring: OrderQuery, response: { 200: OrderBody } } }, async (req, reply) => {
    // As of a time: replayed from the stream (history.ts), never from the kept views.
    if (req.query.asOf !== undefined) {
      const view = await orderAsOf(deps.db, req.params.id.toLowerCase(), asOfTime(req.query.asOf));
      if (!view) throw OrderNotFound(`no order ${req.params.id} as of ${req.query.asOf}`);
      return view;
    }
    const json = await viewReads.json(req.params.id.toLowerCase());
    if (!json) throw OrderNotFound(`no order ${req.params.id}`);
    return reply.type('application/json; charset=utf-8').send(json);
  });

  // The order's events, oldest first: its audit trail.
  app.get<{ Params: Static<typeof OrderParams> }>('/orders/:id/history', { schema: { params: OrderParams, response: { 200: History } } }, async (req) => {
    const events = await orderHistory(deps.db, req.params.id.toLowerCase());
    if (events.length === 0) throw OrderNotFound(`no order ${req.params.id}`);
    return { events };
  });

  // A customer's orders, newest first, a page at a time: the cursor is the last id of the
  // page before (ids are UUIDv7, in the order orders were made), opaque to clients.
  app.get<{ Querystring: Static<typeof CustomerOrdersQuery> }>('/orders', { schema: { querystring: CustomerOrdersQuery } }, async (req) => {
    const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
    const page = await listCustomerOrders(deps.db, req.query.customerId, { limit: limit + 1, before: req.query.cursor?.toLowerCase() });
    const orders = page.slice(0, limit);
    return { orders, nextCursor: page.length > limit ? orders[orders.length - 1].id : null };
  });

  // Every customer's orders, for the gateway's admin search: newest first, filtered, paged by
  // the same cursor. Apart from /orders, whose customer is always the caller's: a request
  // that lost its customerId there is refused, it never lists everybody's.
  app.get<{ Querystring: Static<typeof AdminOrdersQuery> }>('/_admin/orders', { schema: { querystring: AdminOrdersQuery } }, async (req) => {
    const { status, customerId, cursor } = req.query;
    const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
    const page = await listOrders(deps.db, { limit: limit + 1, before: cursor?.toLowerCase(), status, customerId });
    const orders = page.slice(0, limit);
    return { orders, nextCursor: page.length > limit ? orders[orders.length - 1].id : null };
  });

  // Many order reads in one call, for the gateway: it gathers the GET /api/orders/:id that
  // arrive together and asks once, so a read costs a share of one round trip instead of a
  // whole one (measured: the round trip's socket work was most of both processes' CPU).
  app.get<{ Querystring: Static<typeof IdsQuery> }>('/order-views', { schema: { querystring: IdsQuery } }, async (req, reply) => {
    const views = await Promise.all(req.query.ids.split(',').map((id) => viewReads.json(id.toLowerCase())));
    return reply.type(jsonLinesType).send(jsonLines(views));
  });

  // For debugging and tests: what this service knows of a product.
  app.get<{ Params: Static<typeof ProductParams> }>('/catalog/:productId', { schema: { params: ProductParams, response: { 200: ProductBody } } }, async (req) => {
    const product = await getProduct(deps.db, req.params.productId);
    if (!product) throw ProductNotInCatalog(`product ${req.params.productId} is not in the orders catalog`);
    return product;
  });
}
