/**
 * The public API. Every route carries its schemas (api.ts): they check requests at the
 * edge, document the API (OpenAPI at /docs) and name the roles that may call it (auth.ts).
 * Most routes forward to one service and pass a success back byte for byte (answers.ts maps
 * errors); /api/orders/:id/details composes three services; /api/orders/:id?asOf= and
 * /api/orders/:id/history ask orders for an order's past (the history alongside the order's
 * read, which says whose it is); /health asks every service's readiness; the admin's dead
 * letters gather the consumers'; /api/me/notifications/stream passes a server-sent
 * events stream through as it comes (event-streams.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DependencyUnavailable, defineError } from '#platform/errors.ts';
import { Forbidden, type Role } from '#platform/http/access-tokens.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '#platform/resilience/upstream.ts';
import { logRequestFields } from '#platform/telemetry/log-context.ts';
import * as api from './api.ts';
import { json, passBack } from './answers.ts';
import type { Auth } from './auth.ts';
import { upstreamNames, type UpstreamName } from './config.ts';
import { createStreamProxy } from './event-streams.ts';
import { EventTailUnavailable, type EventTail, type TailFilter } from './event-tail.ts';
import { createGatheredReads } from './gathered-reads.ts';
import { createOverview } from './overview.ts';
import { createSharedReads } from './shared-reads.ts';
import { registerLabRoutes } from './lab-routes.ts';

export type Upstreams = Record<UpstreamName, Upstream>;

export interface RoutesOptions {
  upstreams: Upstreams;
  auth: Auth;
  /** Timeout of each service's health probe. */
  healthTimeoutMs?: number;
  /** Pass a client's traceparent on as it is (when the gateway does not trace itself); default true. */
  passTraceparent?: boolean;
  /** The lab server of the `orderflow up` running this gateway (lab-routes.ts); none elsewhere. */
  lab?: Upstream;
  /** The Zipkin UI the console links traces to, when tracing exports there (the admin's overview says it). */
  zipkinUrl?: string | null;
  /** The live tail of every topic (event-tail.ts); without it the stream answers 503. */
  eventTail?: EventTail;
}

/** What a group of routes kept in a file of its own (lab-routes.ts) builds its routes with. */
export interface RouteKit {
  only(...roles: Role[]): { onRequest: ReturnType<Auth['only']> };
  schema: typeof schema;
  errors: typeof errors;
  headersOf(req: FastifyRequest, withBody?: boolean): Record<string, string>;
}

// The same answer as the orders service's for an id it does not know.
const OrderNotFound = defineError('ORD_ERR_ORDER_NOT_FOUND', 404);

/** The services that consume from the bus, hence hold dead letters. */
const consumers = ['orders', 'inventory', 'payments', 'shipping', 'cart', 'notifications'] as const;

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, api.ErrorBody]));
const bearer = [{ bearer: [] }];

/** A route's schema, with the answers every route may give (400 bad input, 429 limited, 503 away). */
function schema(tag: string, summary: string, parts: FastifySchema & { response: Record<number, TSchema> }, opts: { auth?: boolean } = {}): FastifySchema {
  return {
    tags: [tag],
    summary,
    ...(opts.auth ? { security: bearer } : {}),
    ...parts,
    response: { ...parts.response, ...errors(400, 429, 503), ...(opts.auth ? errors(401, 403) : {}) },
  } as FastifySchema;
}

// Request headers worth carrying to a service; everything else stays at the edge.
// If-None-Match lets the service that owns the data answer 304 (the gateway keeps no copy
// it would have to invalidate). A client's traceparent is passed through as it is only when
// the gateway does not trace: tracing, its HTTP client instrumentation sends the gateway's
// own span as the parent.
const forwarded = ['idempotency-key', 'if-none-match'] as const;

export function registerRoutes(app: FastifyInstance, opts: RoutesOptions): void {
  const { orders, inventory, payments, shipping, users, notifications, ingestion, analytics, cart } = opts.upstreams;
  const { auth } = opts;
  const healthTimeoutMs = opts.healthTimeoutMs ?? 1_000;
  const passTraceparent = opts.passTraceparent ?? true;
  const only = (...roles: Role[]) => ({ onRequest: auth.only(roles) });
  logRequestFields(app, (req) => (req.routeOptions.url?.startsWith('/api/orders/:id') ? { orderId: (req.params as { id: string }).id } : undefined));

  const headersOf = (req: FastifyRequest, withBody = false): Record<string, string> => {
    const out: Record<string, string> = withBody ? { 'content-type': 'application/json' } : {};
    for (const name of forwarded) {
      const value = req.headers[name];
      if (typeof value === 'string') out[name] = value;
    }
    if (passTraceparent && typeof req.headers.traceparent === 'string') out.traceparent = req.headers.traceparent;
    return out;
  };
  /** Calls one service with the request's (validated, re-serialised) body and passes its answer back. */
  const forward = (upstream: Upstream, service: UpstreamName, method: UpstreamRequest['method'], path: (req: FastifyRequest) => string, body: (req: FastifyRequest) => unknown = (req) => req.body) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const payload = body(req);
      const res = await upstream.request({ method, path: path(req), headers: headersOf(req, payload !== undefined), body: payload === undefined ? undefined : JSON.stringify(payload) });
      return passBack(req, reply, res, service);
    };
  const id = (req: FastifyRequest) => (req.params as { id: string }).id.toLowerCase();

  app.get('/health', { schema: { tags: ['health'], summary: 'Whether every service is ready', response: { 200: api.Health, 503: api.Health } } }, async (_req, reply) => {
    const answers = await Promise.all(upstreamNames.map(async (name) => {
      try {
        const res = await opts.upstreams[name].probe('/health/ready', healthTimeoutMs);
        return res.statusCode === 200;
      } catch {
        return false;
      }
    }));
    const services = Object.fromEntries(upstreamNames.map((name, i) => [name, answers[i] ? 'up' : 'down']));
    const ok = answers.every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', services });
  });

  // Identity: the users service's routes, public (a login is how a caller gets a token).
  app.post('/api/auth/register', { schema: schema('auth', 'Open a customer account', { body: api.RegisterBody, response: { 201: api.User, ...errors(409) } }) },
    forward(users, 'users', 'POST', () => '/auth/register'));
  app.post('/api/auth/login', { schema: schema('auth', 'Log in: an access token and a refresh token', { body: api.LoginBody, response: { 200: api.TokenPair, ...errors(401) } }) },
    forward(users, 'users', 'POST', () => '/auth/login'));
  app.post('/api/auth/refresh', { schema: schema('auth', 'A new token pair for a refresh token (which is spent)', { body: api.RefreshBody, response: { 200: api.TokenPair, ...errors(401) } }) },
    forward(users, 'users', 'POST', () => '/auth/refresh'));
  app.post('/api/auth/logout', { schema: schema('auth', 'End the login the refresh token belongs to', { body: api.RefreshBody, response: { 204: Type.Null() } }) },
    forward(users, 'users', 'POST', () => '/auth/logout'));
  app.get('/api/me', { ...only('customer', 'admin'), schema: schema('auth', 'The caller', { response: { 200: api.User, ...errors(404) } }, { auth: true }) },
    async (req, reply) => passBack(req, reply, await users.request({ method: 'GET', path: `/users/${auth.identity(req).id}`, headers: headersOf(req) }), 'users'));

  // The catalog: anyone reads it, an admin changes it.
  const catalogReads = createSharedReads(inventory);
  app.get('/api/products', { schema: schema('products', 'The catalog, with what is available', { response: { 200: Type.Array(api.Product), 304: Type.Null() } }) }, async (req, reply) => {
    const ifNoneMatch = req.headers['if-none-match'];
    return passBack(req, reply, await catalogReads.get('/products', typeof ifNoneMatch === 'string' ? ifNoneMatch : undefined), 'inventory');
  });
  app.post('/api/products', { ...only('admin'), schema: schema('products', 'Add a product', { body: api.CreateProductBody, response: { 201: api.Product, ...errors(409) } }, { auth: true }) },
    forward(inventory, 'inventory', 'POST', () => '/products'));
  app.patch('/api/products/:id', { ...only('admin'), schema: schema('products', 'Change a price, restock', { params: api.IdParams, body: api.UpdateProductBody, response: { 200: api.Product, ...errors(404, 422) } }, { auth: true }) },
    forward(inventory, 'inventory', 'PATCH', (req) => `/products/${id(req)}`));

  // What shoppers' clients report, anonymous or logged in (then the token says who): the
  // ingestion service appends it to the log. Up to 500 events a request, hence the larger body.
  app.post('/api/events', {
    onRequest: auth.optional(),
    bodyLimit: 1024 * 1024,
    schema: schema('events', 'Report client events (views, searches, cart changes), up to 500 at once', { security: [{}, ...bearer], body: api.ClientEventsBody, response: { 202: api.ClientEventsAccepted, ...errors(401, 413) } }),
  }, forward(ingestion, 'ingestion', 'POST', () => '/events', (req) => {
    const caller = auth.caller(req);
    return caller === undefined ? req.body : { ...(req.body as object), customerId: caller.id };
  }));

  // Orders: a customer's own. The customer is the token's subject: a body may leave it out,
  // and one that names somebody else is refused rather than quietly corrected.
  app.post('/api/orders', {
    ...only('customer'),
    schema: schema('orders', 'Place an order', { body: api.PlaceOrderBody, headers: api.IdempotencyHeaders, response: { 201: api.PlacedOrder, 202: api.PlacedOrder, ...errors(404, 422) } }, { auth: true }),
  }, forward(orders, 'orders', 'POST', () => '/orders', (req) => {
    const caller = auth.identity(req).id;
    const body = req.body as Static<typeof api.PlaceOrderBody>;
    if (body.customerId !== undefined && body.customerId !== caller) throw Forbidden('an order is placed for the caller: leave customerId out, or give your own id');
    return { ...body, customerId: caller };
  }));
  app.get('/api/orders', { ...only('customer', 'admin'), schema: schema('orders', 'The caller\'s orders, newest first, a page at a time', { querystring: api.OrdersQuery, response: { 200: api.OrderPage } }, { auth: true }) }, async (req, reply) => {
    const query = new URLSearchParams({ customerId: auth.identity(req).id, ...(req.query as Record<string, string>) });
    return passBack(req, reply, await orders.request({ method: 'GET', path: `/orders?${query}`, headers: headersOf(req) }), 'orders');
  });

  const orderReads = createGatheredReads(orders, { one: (id) => `/orders/${id}`, many: '/order-views' });
  const paymentReads = createGatheredReads(payments, { one: (id) => `/payments/${id}`, many: '/payments-by-order' });
  const shipmentReads = createGatheredReads(shipping, { one: (id) => `/shipments/${id}`, many: '/shipments-by-order' });
  /**
   * The order, if the caller may see it. Somebody else's order answers as an unknown one
   * (404, not 403): whether an id exists is itself not for others to learn.
   */
  const ownOrder = async (req: FastifyRequest, res: UpstreamResponse): Promise<{ customerId: string } | undefined> => {
    if (res.statusCode !== 200) return undefined;
    const caller = auth.identity(req);
    const order = json<{ customerId: string }>(res, 'orders');
    if (caller.role !== 'admin' && order.customerId !== caller.id) throw OrderNotFound(`no order ${id(req)}`);
    return order;
  };
  app.get('/api/orders/:id', {
    ...only('customer', 'admin'),
    schema: schema('orders', 'One order; with asOf, as it was at that time', { params: api.IdParams, querystring: api.OrderQuery, response: { 200: api.Order, ...errors(404) } }, { auth: true }),
  }, async (req, reply) => {
    // As of a time: replayed by orders from the order's events, one read, not gathered.
    const { asOf } = req.query as { asOf?: string };
    const res = asOf === undefined
      ? await orderReads.get(id(req), headersOf(req))
      : await orders.request({ method: 'GET', path: `/orders/${id(req)}?${new URLSearchParams({ asOf })}`, headers: headersOf(req) });
    await ownOrder(req, res);
    return passBack(req, reply, res, 'orders');
  });
  app.get('/api/orders/:id/history', { ...only('customer', 'admin'), schema: schema('orders', 'An order\'s events, oldest first: its audit trail', { params: api.IdParams, response: { 200: api.OrderHistory, ...errors(404) } }, { auth: true }) }, async (req, reply) => {
    const orderId = id(req);
    // Both at once; the order (gathered with the other reads) says whose it is.
    const [order, history] = await Promise.all([orderReads.get(orderId), orders.request({ method: 'GET', path: `/orders/${orderId}/history`, headers: headersOf(req) })]);
    if ((await ownOrder(req, order)) === undefined) return passBack(req, reply, order, 'orders');
    return passBack(req, reply, history, 'orders');
  });
  app.get('/api/orders/:id/details', { ...only('customer', 'admin'), schema: schema('orders', 'An order with its payment and shipment', { params: api.IdParams, response: { 200: api.OrderDetails, ...errors(404) } }, { auth: true }) }, async (req, reply) => {
    const orderId = id(req);
    // All three at once: the details cost one round trip, not three.
    const [order, payment, shipment] = await Promise.allSettled([orderReads.get(orderId), paymentReads.get(orderId), shipmentReads.get(orderId)]);
    if (order.status === 'rejected') throw order.reason;
    const own = await ownOrder(req, order.value);
    if (own === undefined) return passBack(req, reply, order.value, 'orders');
    if (payment.status === 'rejected') throw payment.reason;
    if (shipment.status === 'rejected') throw shipment.reason;
    const p = optional(payment.value, 'payments');
    const s = optional(shipment.value, 'shipping');
    return reply.send({
      order: own,
      payment: p && { status: p.status, amountCents: p.amountCents },
      shipment: s && { status: s.status, trackingNumber: s.trackingNumber ?? null },
    });
  });

  // Notifications: the caller's own (the token's subject is the customer), as a list, a
  // live stream, and the switches per kind and channel.
  const me = (req: FastifyRequest) => `/customers/${encodeURIComponent(auth.identity(req).id)}`;
  const streams = createStreamProxy(app, notifications, 'notifications');
  app.get('/api/me/notifications', {
    ...only('customer', 'admin'),
    schema: schema('notifications', 'The caller\'s notifications, newest first, a page at a time', { querystring: api.NotificationsQuery, response: { 200: api.NotificationPage } }, { auth: true }),
  }, async (req, reply) => {
    const query = new URLSearchParams(req.query as Record<string, string>);
    return passBack(req, reply, await notifications.request({ method: 'GET', path: `${me(req)}/notifications?${query}`, headers: headersOf(req) }), 'notifications');
  });
  app.get('/api/me/notifications/stream', {
    ...only('customer', 'admin'),
    schema: schema('notifications', 'The caller\'s new notifications, live (server-sent events; Last-Event-ID resumes)', {
      querystring: api.NotificationStreamQuery,
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{0,15}$' })) }),
      response: { 200: { description: 'text/event-stream: an event `notification` per new notification (data: a Notification, id: its cursor), a comment line as heartbeat.', content: { 'text/event-stream': { schema: Type.String() } } } as unknown as TSchema },
    }, { auth: true }),
  }, async (req, reply) => {
    const query = new URLSearchParams(req.query as Record<string, string>);
    const lastEventId = req.headers['last-event-id'];
    const headers = { ...headersOf(req), ...(typeof lastEventId === 'string' && lastEventId !== '' ? { 'last-event-id': lastEventId } : {}) };
    await streams.pipe(req, reply, `${me(req)}/notifications/stream${query.size > 0 ? `?${query}` : ''}`, headers);
    return reply;
  });
  app.get('/api/me/notification-preferences', {
    ...only('customer', 'admin'),
    schema: schema('notifications', 'The caller\'s notification switches, per kind and channel', { response: { 200: api.NotificationPreferences } }, { auth: true }),
  }, forward(notifications, 'notifications', 'GET', (req) => `${me(req)}/notification-preferences`, () => undefined));
  app.put('/api/me/notification-preferences', {
    ...only('customer', 'admin'),
    schema: schema('notifications', 'Set the caller\'s notification switches (what is left out is on)', { body: api.NotificationPreferencesBody, response: { 200: api.NotificationPreferences } }, { auth: true }),
  }, forward(notifications, 'notifications', 'PUT', (req) => `${me(req)}/notification-preferences`));

  // Analytics, for an admin: the windows the stream pipeline keeps, as they stand.
  const analyticsRead = (path: string) => async (req: FastifyRequest, reply: FastifyReply) =>
    passBack(req, reply, await analytics.request({ method: 'GET', path: `${path}?${new URLSearchParams(req.query as Record<string, string>)}`, headers: headersOf(req) }), 'analytics');
  app.get('/api/analytics/sales', { ...only('admin'), schema: schema('analytics', 'Orders, revenue, cancellations by reason and saga latency per window', { querystring: api.AnalyticsQuery, response: { 200: api.SalesWindows } }, { auth: true }) },
    analyticsRead('/analytics/sales'));
  app.get('/api/analytics/products/top', { ...only('admin'), schema: schema('analytics', 'Best-selling products over a range of windows', { querystring: api.AnalyticsTopQuery, response: { 200: api.TopProducts } }, { auth: true }) },
    analyticsRead('/analytics/products/top'));
  app.get('/api/analytics/conversion', { ...only('admin'), schema: schema('analytics', 'Per product: views, and views followed by an order within 30 minutes', { querystring: api.AnalyticsQuery, response: { 200: api.Conversion } }, { auth: true }) },
    analyticsRead('/analytics/conversion'));

  // The cart: the caller's own, the customer being the token's subject.
  const cartOf = (req: FastifyRequest) => `/carts/${encodeURIComponent(auth.identity(req).id)}`;
  const item = (req: FastifyRequest) => `${cartOf(req)}/items/${(req.params as { productId: string }).productId.toLowerCase()}`;
  app.get('/api/cart', { ...only('customer'), schema: schema('cart', 'The caller\'s cart, priced from the catalog', { response: { 200: api.Cart } }, { auth: true }) },
    forward(cart, 'cart', 'GET', cartOf, () => undefined));
  app.put('/api/cart/items/:productId', {
    ...only('customer'),
    schema: schema('cart', 'Set how many of a product the cart holds (0 removes the line)', { params: api.CartItemParams, body: api.CartLineBody, response: { 200: api.Cart, ...errors(422) } }, { auth: true }),
  }, forward(cart, 'cart', 'PUT', item));
  app.delete('/api/cart/items/:productId', { ...only('customer'), schema: schema('cart', 'Take a product out of the cart', { params: api.CartItemParams, response: { 200: api.Cart } }, { auth: true }) },
    forward(cart, 'cart', 'DELETE', item, () => undefined));
  app.post('/api/cart/checkout', {
    ...only('customer'),
    schema: schema('cart', 'Order what the cart holds; the cart empties', { body: api.CheckoutBody, headers: api.IdempotencyHeaders, response: { 202: api.CheckedOut, ...errors(422) } }, { auth: true }),
  }, forward(cart, 'cart', 'POST', (req) => `${cartOf(req)}/checkout`));

  // Operations: the system at a glance, for the console's overview (overview.ts).
  const overview = createOverview({ upstreams: opts.upstreams, zipkinUrl: opts.zipkinUrl });
  app.get('/api/admin/overview', { ...only('admin'), schema: schema('admin', 'Every service\'s health, consumer groups, lag and outbox; the topics; the gateway\'s circuits', { response: { 200: api.Overview } }, { auth: true }) },
    async () => overview());

  // Operations: every customer's orders, for an admin; the same pages as a customer's.
  app.get('/api/admin/orders', { ...only('admin'), schema: schema('admin', 'Every customer\'s orders, newest first, filtered by status and customer, a page at a time', { querystring: api.AdminOrdersQuery, response: { 200: api.OrderPage } }, { auth: true }) }, async (req, reply) => {
    const query = new URLSearchParams(req.query as Record<string, string>);
    return passBack(req, reply, await orders.request({ method: 'GET', path: `/_admin/orders?${query}`, headers: headersOf(req) }), 'orders');
  });

  // Operations: the dead letters of the consuming services, for an admin. Each is asked at once;
  // one that cannot answer makes the whole answer a 503 (a partial list would look whole).
  const fromConsumers = <T>(req: FastifyRequest, what: string, call: { method: UpstreamRequest['method']; path: string; body?: string }): Promise<T[]> =>
    Promise.all(consumers.map(async (name) => {
      const res = await opts.upstreams[name].request({ ...call, headers: headersOf(req, call.body !== undefined) });
      if (res.statusCode !== 200) throw DependencyUnavailable(`${name} could not ${what} its dead letters (${res.statusCode})`);
      return json<T>(res, name);
    }));
  app.get('/api/admin/dead-letters', { ...only('admin'), schema: schema('admin', 'Dead letters of every service, newest first', { querystring: api.DeadLettersQuery, response: { 200: api.DeadLetterList } }, { auth: true }) }, async (req) => {
    const query = new URLSearchParams(req.query as Record<string, string>);
    const limit = Number((req.query as { limit?: string }).limit ?? 100);
    const lists = await fromConsumers<{ deadLetters: Array<{ failedAt: string }> }>(req, 'list', { method: 'GET', path: `/_admin/dead-letters?${query}` });
    const all = lists.flatMap((l) => l.deadLetters).sort((a, b) => (a.failedAt < b.failedAt ? 1 : a.failedAt > b.failedAt ? -1 : 0));
    return { deadLetters: all.slice(0, limit) };
  });
  app.post('/api/admin/dead-letters/replay', { ...only('admin'), schema: schema('admin', 'Publish pending dead letters again, once', { body: api.ReplayBody, response: { 200: api.Replayed } }, { auth: true }) }, async (req) => {
    const answers = await fromConsumers<{ replayed: string[] }>(req, 'replay', { method: 'POST', path: '/_admin/dead-letters/replay', body: JSON.stringify(req.body) });
    return { replayed: answers.flatMap((a) => a.replayed) };
  });
  // Set aside for good (a human decided they are not to be replayed): every service is asked,
  // each discards those of the ids it holds.
  app.post('/api/admin/dead-letters/discard', { ...only('admin'), schema: schema('admin', 'Discard pending dead letters: they are kept, marked discarded, never replayed', { body: api.DiscardBody, response: { 200: api.Discarded } }, { auth: true }) }, async (req) => {
    const answers = await fromConsumers<{ discarded: string[] }>(req, 'discard', { method: 'POST', path: '/_admin/dead-letters/discard', body: JSON.stringify(req.body) });
    return { discarded: answers.flatMap((a) => a.discarded) };
  });

  // Operations: every topic live, from the gateway's own tail of the bus (event-tail.ts).
  app.get('/api/admin/events/stream', {
    ...only('admin'),
    schema: schema('admin', 'Every topic\'s records, live: the recent ones first, then each as it is published (server-sent events; Last-Event-ID resumes)', {
      querystring: api.EventStreamQuery,
      headers: api.EventStreamHeaders,
      response: {
        200: {
          description: 'text/event-stream: an event `record` per record (id: its cursor; data: the record, below), first the newest matching records the gateway still holds (at most 200, oldest first), then live ones; a comment line as heartbeat every 15 s. Dead-letter topics (`<topic>.dlq`) included.',
          content: { 'text/event-stream': { schema: { type: 'string', contentMediaType: 'application/json', contentSchema: api.TailedRecord } } },
        } as unknown as TSchema,
      },
    }, { auth: true }),
  }, async (req, reply) => {
    if (!opts.eventTail) throw EventTailUnavailable('this gateway has no event tail');
    const { lastEventId: fromQuery, ...filter } = req.query as TailFilter & { lastEventId?: string };
    if (filter.order !== undefined) filter.order = filter.order.toLowerCase();
    const header = req.headers['last-event-id'];
    opts.eventTail.serve(req, reply, filter, typeof header === 'string' && header !== '' ? header : fromQuery);
    return reply;
  });

  registerLabRoutes(app, opts.lab, { only, schema, errors, headersOf });
}

/** A 200 answer as JSON, a 404 as null; anything else means the service cannot say. */
function optional(res: UpstreamResponse, name: string): Record<string, unknown> | null {
  if (res.statusCode === 404) return null;
  if (res.statusCode !== 200) throw DependencyUnavailable(`${name} answered ${res.statusCode}`);
  return json<Record<string, unknown>>(res, name);
}
