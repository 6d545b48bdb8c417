/**
 * The public API. Most routes forward to one service and pass its answer back byte for
 * byte; /api/orders/:id/details composes three services; /health asks the readiness of all four.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DependencyUnavailable, defineError } from '#platform/errors.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '#platform/resilience/upstream.ts';
import { upstreamNames, type UpstreamName } from './config.ts';
import { createGatheredReads } from './gathered-reads.ts';
import { createSharedReads } from './shared-reads.ts';
import { logRequestFields } from '#platform/telemetry/log-context.ts';

export type Upstreams = Record<UpstreamName, Upstream>;

export interface RoutesOptions {
  upstreams: Upstreams;
  /** Timeout of each service's health probe. */
  healthTimeoutMs?: number;
  /** Pass a client's traceparent on as it is (when the gateway does not trace itself); default true. */
  passTraceparent?: boolean;
}

const InvalidParam = defineError('PLT_ERR_VALIDATION', 400);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Checked here, so a malformed id costs no call to a service.
const IdParams = {
  preValidation: async (req: FastifyRequest) => {
    if (!uuid.test((req.params as { id: string }).id)) throw InvalidParam('params/id must be a UUID');
  },
};

// Request headers worth carrying to a service; everything else stays at the edge.
// If-None-Match lets the service that owns the data answer 304 (the gateway keeps no copy
// it would have to invalidate).
// A client's traceparent is passed through as it is only when the gateway does not trace:
// tracing, its HTTP client instrumentation sends the gateway's own span as the parent.
const forwarded = ['content-type', 'idempotency-key', 'if-none-match'] as const;
// And the answer headers worth carrying back: the validators of a cacheable answer, and
// when a service that shed load asks to be retried.
const passedBack = ['content-type', 'etag', 'cache-control', 'retry-after'] as const;

function forwardHeaders(req: FastifyRequest, passTraceparent: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of forwarded) {
    const value = req.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  if (passTraceparent && typeof req.headers.traceparent === 'string') out.traceparent = req.headers.traceparent;
  return out;
}

function passBack(reply: FastifyReply, res: UpstreamResponse): FastifyReply {
  for (const name of passedBack) {
    const value = res.headers[name];
    if (typeof value === 'string') reply.header(name, value);
  }
  return reply.code(res.statusCode).send(res.statusCode === 304 ? undefined : res.body);
}

function json(res: UpstreamResponse, name: string): unknown {
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch (cause) {
    throw DependencyUnavailable(`${name} answered something that is not JSON`, { cause });
  }
}

/** A 200 answer as JSON, a 404 as null; anything else means the service cannot say. */
function optional(res: UpstreamResponse, name: string): Record<string, unknown> | null {
  if (res.statusCode === 404) return null;
  if (res.statusCode !== 200) throw DependencyUnavailable(`${name} answered ${res.statusCode}`);
  return json(res, name) as Record<string, unknown>;
}

export function registerRoutes(app: FastifyInstance, opts: RoutesOptions): void {
  const { orders, inventory, payments, shipping } = opts.upstreams;
  const healthTimeoutMs = opts.healthTimeoutMs ?? 1_000;
  const passTraceparent = opts.passTraceparent ?? true;
  const headersOf = (req: FastifyRequest) => forwardHeaders(req, passTraceparent);
  logRequestFields(app, (req) => (req.routeOptions.url?.startsWith('/api/orders/:id') ? { orderId: (req.params as { id: string }).id } : undefined));

  const forward = (upstream: Upstream, method: UpstreamRequest['method'], path: (req: FastifyRequest) => string) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const body = req.body as Buffer | undefined;
      const res = await upstream.request({ method, path: path(req), headers: headersOf(req), body: body?.length ? body : undefined });
      return passBack(reply, res);
    };
  const id = (req: FastifyRequest) => encodeURIComponent((req.params as { id: string }).id);

  app.get('/health', async (_req, reply) => {
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

  const catalogReads = createSharedReads(inventory);
  app.get('/api/products', async (req, reply) => {
    const ifNoneMatch = req.headers['if-none-match'];
    return passBack(reply, await catalogReads.get('/products', typeof ifNoneMatch === 'string' ? ifNoneMatch : undefined));
  });
  app.post('/api/products', forward(inventory, 'POST', () => '/products'));
  app.post('/api/orders', forward(orders, 'POST', () => '/orders'));
  const orderReads = createGatheredReads(orders, { one: (id) => `/orders/${id}`, many: '/order-views' });
  const paymentReads = createGatheredReads(payments, { one: (id) => `/payments/${id}`, many: '/payments-by-order' });
  const shipmentReads = createGatheredReads(shipping, { one: (id) => `/shipments/${id}`, many: '/shipments-by-order' });
  app.get('/api/orders/:id', IdParams, async (req, reply) => passBack(reply, await orderReads.get(id(req), headersOf(req))));

  app.get('/api/orders/:id/details', IdParams, async (req, reply) => {
    const orderId = id(req);
    // All three at once: the details cost one round trip, not three.
    const [order, payment, shipment] = await Promise.allSettled([
      orderReads.get(orderId),
      paymentReads.get(orderId),
      shipmentReads.get(orderId),
    ]);
    if (order.status === 'rejected') throw order.reason;
    if (order.value.statusCode !== 200) return passBack(reply, order.value);
    if (payment.status === 'rejected') throw payment.reason;
    if (shipment.status === 'rejected') throw shipment.reason;
    const p = optional(payment.value, 'payments');
    const s = optional(shipment.value, 'shipping');
    return reply.send({
      order: json(order.value, 'orders'),
      payment: p && { status: p.status, amountCents: p.amountCents },
      shipment: s && { status: s.status, trackingNumber: s.trackingNumber ?? null },
    });
  });
}
