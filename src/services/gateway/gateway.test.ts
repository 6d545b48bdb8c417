import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent, request } from 'undici';
import { loadHttpTimeouts, type HttpTimeouts } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { buildGatewayApp } from './app.ts';
import { upstreamNames, type UpstreamName } from './config.ts';
import type { Upstreams } from './http.ts';
import { startMetricsServer } from './metrics-server.ts';
import { closedPort } from '#test/sockets.ts';

const orderId = '0190f5b2-7c4e-7d2a-9f00-0123456789ab';
const unknownId = '0190f5b2-7c4e-7d2a-9f00-ffffffffffff';
const order = { id: orderId, customerId: 'c-1', items: [{ productId: '0190f5b2-7c4e-7d2a-9f00-000000000001', quantity: 2, unitPriceCents: 500 }], totalCents: 1000, status: 'CONFIRMED', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:01.000Z' };
const history = { events: [{ type: 'OrderPlaced', at: order.createdAt, version: 1, data: { orderId, customerId: 'c-1' } }, { type: 'OrderConfirmed', at: order.updatedAt, version: 2, data: {} }] };
const notFound = { error: { code: 'ORD_ERR_ORDER_NOT_FOUND', message: 'no such order' } };
const productId = '0190f5b2-7c4e-7d2a-9f00-000000000001';
const placeBody = { items: [{ productId, quantity: 2 }], paymentMethod: 'card', shippingAddress: { country: 'FR' } };

// Tokens signed as the users service signs them (ES256, its issuer and audience), verified
// by the gateway as in production.
const signer = await generateKeyPair('ES256', { extractable: true });
const key = { publicJwk: { ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' } };
const tokenSettings = { issuer: 'orderflow-users', audience: 'orderflow-api' };
const tokenOf = async (sub: string, role: 'customer' | 'admin') =>
  `Bearer ${await new SignJWT({ role }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject(sub).setIssuer(tokenSettings.issuer).setAudience(tokenSettings.audience).setIssuedAt().setExpirationTime('15m').sign(signer.privateKey)}`;
const customer = await tokenOf('c-1', 'customer');
const admin = await tokenOf('a-1', 'admin');

/** Small real services standing in for the four upstreams; `faults` makes one slow or sick. */
function fakeServices(faults: { slowMs?: Partial<Record<UpstreamName, number>>; notReady?: UpstreamName[]; shedding?: boolean; sick?: boolean; streamsClosed?: number } = {}) {
  const seen: Array<{ service: string; method: string; url: string; headers: Record<string, unknown>; body: unknown }> = [];
  const build = (name: UpstreamName, routes: (app: FastifyInstance) => void) => {
    const app = Fastify();
    app.addHook('onRequest', async (req) => {
      const delay = faults.slowMs?.[name];
      if (delay && !req.url.startsWith('/health')) await new Promise((r) => setTimeout(r, delay));
    });
    app.addHook('preHandler', async (req) => {
      // The gateway's fetch of the keys that verify tokens is not a call a test counts.
      if (req.url === '/.well-known/jwks.json') return;
      seen.push({ service: name, method: req.method, url: req.url, headers: req.headers, body: req.body });
    });
    app.get('/health/ready', async (_req, reply) =>
      faults.notReady?.includes(name) ? reply.code(503).send({ status: 'unavailable', checks: { bus: 'down: test' } }) : { status: 'ok' });
    routes(app);
    return app;
  };
  return {
    seen,
    apps: {
      orders: build('orders', (app) => {
        app.post('/orders', async (req, reply) =>
          faults.shedding
            ? reply.code(503).header('retry-after', '2').send({ error: { code: 'ORD_ERR_SAGA_BACKLOG_FULL', message: 'too many orders pending' } })
            : reply.code(202).send({ id: orderId, status: 'PENDING', echo: req.body }));
        app.get('/orders/:id', async (req, reply) => {
          if ((req.params as { id: string }).id !== orderId) return reply.code(404).send(notFound);
          const { asOf } = req.query as { asOf?: string };
          if (asOf === undefined) return order;
          return asOf < order.createdAt ? reply.code(404).send(notFound) : { ...order, status: 'PENDING', updatedAt: order.createdAt };
        });
        app.get('/orders/:id/history', async (req, reply) => ((req.params as { id: string }).id === orderId ? history : reply.code(404).send(notFound)));
      }),
      inventory: build('inventory', (app) => {
        app.get('/products', async (req, reply) => {
          reply.header('etag', '"v1"').header('cache-control', 'no-cache');
          if (req.headers['if-none-match'] === '"v1"') return reply.code(304).send();
          return [{ id: 'p-1', sku: 'SKU-1', name: 'Kettle', priceCents: 500, available: 3 }];
        });
        app.post('/products', async (req, reply) => {
          const { sku } = req.body as { sku: string };
          if (faults.sick && sku === 'BOOM') return reply.code(500).send({ error: { code: 'PLT_ERR_INTERNAL', message: 'ENOENT /srv/secret/config.json' } });
          if (faults.sick && sku === 'HTML') return reply.code(400).type('text/html').send('<h1>Bad</h1>');
          return reply.code(201).send({ id: 'p-2', ...(req.body as object) });
        });
      }),
      payments: build('payments', (app) => {
        app.get('/payments/:id', async (req, reply) => ((req.params as { id: string }).id === orderId ? { orderId, status: 'CHARGED', amountCents: 1000, method: 'card' } : reply.code(404).send(notFound)));
      }),
      shipping: build('shipping', (app) => {
        app.get('/shipments/:id', async (_req, reply) => reply.code(404).send(notFound));
      }),
      users: build('users', (app) => {
        app.get('/.well-known/jwks.json', async () => ({ keys: [key.publicJwk] }));
      }),
      notifications: build('notifications', (app) => {
        app.get('/customers/:id/notifications', async (req) => ({ notifications: [], nextCursor: null, query: req.query }));
        app.get('/customers/:id/notification-preferences', async () => ({ orderConfirmed: { email: true, inApp: true } }));
        app.put('/customers/:id/notification-preferences', async (req) => req.body);
        // A stream that sends what it was asked from, then one event a tick, until closed.
        app.get('/customers/:id/notifications/stream', async (req, reply) => {
          if ((req.params as { id: string }).id !== 'c-1') return reply.code(404).send(notFound);
          reply.hijack();
          reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
          let n = Number(req.headers['last-event-id'] ?? 0);
          const tick = setInterval(() => reply.raw.write(`id: ${++n}\nevent: notification\ndata: {"n":${n}}\n\n`), 20);
          reply.raw.on('close', () => {
            clearInterval(tick);
            faults.streamsClosed = (faults.streamsClosed ?? 0) + 1;
          });
        });
      }),
      analytics: build('analytics', (app) => {
        app.get('/analytics/sales', async (req) => ({ window: (req.query as { window: string }).window, from: 'a', to: 'b', windows: [] }));
      }),
      ingestion: build('ingestion', (app) => {
        app.post('/events', async (req, reply) => reply.code(202).send({ accepted: (req.body as { events: unknown[] }).events.length, rejected: [] }));
      }),
      cart: build('cart', (app) => {
        const view = (customerId: string) => ({ cartId: null, version: 0, lines: [], totalCents: 0, lastOrderId: null, updatedAt: null, echo: customerId });
        app.get('/carts/:customerId', async (req) => view((req.params as { customerId: string }).customerId));
        app.put('/carts/:customerId/items/:productId', async (req) => view((req.params as { customerId: string }).customerId));
        app.delete('/carts/:customerId/items/:productId', async (req) => view((req.params as { customerId: string }).customerId));
        app.post('/carts/:customerId/checkout', async (_req, reply) => reply.code(202).send({ orderId, status: 'PENDING' }));
      }),
    } satisfies Record<UpstreamName, FastifyInstance>,
  };
}

async function startGateway(t: TestContext, opts: { faults?: Parameters<typeof fakeServices>[0]; down?: UpstreamName[]; timeoutMs?: number; timeouts?: HttpTimeouts } = {}) {
  const fakes = fakeServices(opts.faults);
  const urls = {} as Record<UpstreamName, string>;
  for (const name of upstreamNames) {
    if (opts.down?.includes(name)) {
      urls[name] = `http://127.0.0.1:${await closedPort()}`;
      continue;
    }
    urls[name] = await fakes.apps[name].listen({ port: 0, host: '127.0.0.1' });
    t.after(() => fakes.apps[name].close());
  }
  const upstreams = Object.fromEntries(upstreamNames.map((name) => [name, createUpstream({ name, url: urls[name], timeoutMs: opts.timeoutMs ?? 2_000, connections: 4, retries: 1 })])) as Upstreams;
  t.after(() => Promise.all(Object.values(upstreams).map((u) => u.close())));
  const verifier = createTokenVerifier({ jwks: `${urls.users}/.well-known/jwks.json`, issuer: tokenSettings.issuer, audience: tokenSettings.audience });
  const app = await buildGatewayApp({ log: silentLogger, upstreams, verifier, healthTimeoutMs: 300, timeouts: opts.timeouts });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const metrics = await startMetricsServer({ registry: app.metrics, host: '127.0.0.1', port: 0, log: silentLogger });
  t.after(() => metrics.close());
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: string, headers: Record<string, string> = {}, as: string | null = customer) => {
    const all = { ...(as ? { authorization: as } : {}), ...headers };
    const res = await request(url + path, { method, body, headers: body === undefined ? all : { 'content-type': 'application/json', ...all } });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  return { call, url, metricsUrl: metrics.url, seen: fakes.seen, faults: opts.faults, close: () => app.close() };
}

test('the gateway reports ok when every service answers its health check', async (t) => {
  const { call } = await startGateway(t);
  const res = await call('GET', '/health');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { status: 'ok', services: { orders: 'up', inventory: 'up', payments: 'up', shipping: 'up', users: 'up', notifications: 'up', ingestion: 'up', analytics: 'up', cart: 'up' } });
});

test('the gateway reports degraded and names the service that is down', async (t) => {
  const { call } = await startGateway(t, { down: ['payments'] });
  const res = await call('GET', '/health');
  assert.equal(res.status, 503);
  assert.deepEqual(res.body, { status: 'degraded', services: { orders: 'up', inventory: 'up', payments: 'down', shipping: 'up', users: 'up', notifications: 'up', ingestion: 'up', analytics: 'up', cart: 'up' } });
});

test('the gateway counts a service that answers but is not ready as down', async (t) => {
  const { call } = await startGateway(t, { faults: { notReady: ['inventory'] } });
  const res = await call('GET', '/health');
  assert.equal(res.status, 503);
  assert.deepEqual(res.body.services, { orders: 'up', inventory: 'down', payments: 'up', shipping: 'up', users: 'up', notifications: 'up', ingestion: 'up', analytics: 'up', cart: 'up' });
});

test("the gateway's own liveness and readiness need no service", async (t) => {
  const { call } = await startGateway(t, { down: ['orders', 'inventory', 'payments', 'shipping'] });
  assert.deepEqual((await call('GET', '/health/live')).body, { status: 'ok', service: 'gateway' });
  const ready = await call('GET', '/health/ready');
  assert.equal(ready.status, 200);
  assert.equal(ready.body.status, 'ok');
});

test("the gateway's /metrics shows each upstream's circuit, open once calls to a service keep failing", async (t) => {
  const { call, metricsUrl } = await startGateway(t, { down: ['payments'] });
  const circuit = async (upstream: string) => {
    const text = await (await request(`${metricsUrl}/metrics`)).body.text();
    return Number(new RegExp(`^orderflow_circuit_state\\{[^}]*upstream="${upstream}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1]);
  };
  assert.equal(await circuit('payments'), 0, 'closed before any call');
  // Each details read tries payments (with one retry): five failures open its breaker.
  for (let i = 0; i < 5; i++) assert.equal((await call('GET', `/api/orders/${orderId}/details`)).status, 503);
  assert.equal(await circuit('payments'), 2, 'open');
  assert.equal(await circuit('orders'), 0, 'the others stay closed');
});

test('products are listed and created through inventory with its status and body', async (t) => {
  const { call, seen } = await startGateway(t);
  const list = await call('GET', '/api/products');
  assert.equal(list.status, 200);
  assert.equal(list.body[0].sku, 'SKU-1');
  const created = await call('POST', '/api/products', JSON.stringify({ sku: 'SKU-2', name: 'Mug', priceCents: 300, stock: 5 }), {}, admin);
  assert.equal(created.status, 201);
  assert.deepEqual(created.body, { id: 'p-2', sku: 'SKU-2', name: 'Mug', priceCents: 300, stock: 5 });
  assert.deepEqual(seen.map((s) => `${s.service} ${s.method} ${s.url}`), ['inventory GET /products', 'inventory POST /products']);
});

test("the catalog's ETag and If-None-Match pass through, and a 304 comes back without a body", async (t) => {
  const { call, seen } = await startGateway(t);
  const first = await call('GET', '/api/products');
  assert.equal(first.status, 200);
  assert.equal(first.headers.etag, '"v1"');
  assert.equal(first.headers['cache-control'], 'no-cache');
  const again = await call('GET', '/api/products', undefined, { 'if-none-match': '"v1"' });
  assert.equal(again.status, 304);
  assert.equal(again.body, undefined);
  assert.equal(again.headers.etag, '"v1"');
  assert.equal(seen[1].headers['if-none-match'], '"v1"');
});

test("placing an order forwards the body as the caller's and the Idempotency-Key to orders", async (t) => {
  const { call, seen } = await startGateway(t);
  const res = await call('POST', '/api/orders', JSON.stringify(placeBody), { 'idempotency-key': 'key-42' });
  assert.equal(res.status, 202);
  assert.deepEqual(res.body.echo, { ...placeBody, customerId: 'c-1' });
  assert.equal(seen[0].headers['idempotency-key'], 'key-42');
  assert.equal(seen[0].headers['content-type'], 'application/json');
});

test('an order is read through orders, and an unknown one is a 404 passed through', async (t) => {
  const { call } = await startGateway(t);
  assert.deepEqual(await call('GET', `/api/orders/${orderId}`).then((r) => [r.status, r.body]), [200, order]);
  assert.deepEqual(await call('GET', `/api/orders/${unknownId}`).then((r) => [r.status, r.body]), [404, notFound]);
});

test('an order id that is not a UUID is refused at the gateway with a 400', async (t) => {
  const { call, seen } = await startGateway(t);
  for (const path of ['/api/orders/not-a-uuid', '/api/orders/42/details']) {
    const res = await call('GET', path);
    assert.equal(res.status, 400, path);
    assert.equal(res.body.error.code, 'PLT_ERR_VALIDATION');
  }
  assert.equal(seen.length, 0, 'no service was asked');
});

test('order details compose the order, its payment and its shipment, with null for what does not exist', async (t) => {
  const { call, seen } = await startGateway(t);
  const res = await call('GET', `/api/orders/${orderId}/details`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { order, payment: { status: 'CHARGED', amountCents: 1000 }, shipment: null });
  assert.deepEqual(seen.map((s) => s.service).sort(), ['orders', 'payments', 'shipping']);
  const missing = await call('GET', `/api/orders/${unknownId}/details`);
  assert.deepEqual([missing.status, missing.body], [404, notFound]);
});

test('a service that is down is a coded 503, never a 500', async (t) => {
  const { call } = await startGateway(t, { down: ['orders', 'shipping'] });
  const placed = await call('POST', '/api/orders', JSON.stringify(placeBody));
  assert.equal(placed.status, 503);
  assert.equal(placed.body.error.code, 'PLT_ERR_DEPENDENCY_UNAVAILABLE');
  assert.match(placed.body.error.message, /orders/);
  const details = await call('GET', `/api/orders/${orderId}/details`);
  assert.equal(details.status, 503);
  assert.equal(details.body.error.code, 'PLT_ERR_DEPENDENCY_UNAVAILABLE');
});

test("a service shedding load answers through the gateway with its Retry-After, and its reads still pass (the breaker stays closed)", async (t) => {
  const { call } = await startGateway(t, { faults: { shedding: true } });
  for (let i = 0; i < 12; i++) {
    const refused = await call('POST', '/api/orders', JSON.stringify(placeBody));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '2');
    assert.equal(refused.body.error.code, 'ORD_ERR_SAGA_BACKLOG_FULL');
  }
  const read = await call('GET', `/api/orders/${orderId}`);
  assert.equal(read.status, 200);
});

test('a service slower than the timeout is a coded 503 once the timeout passes', async (t) => {
  const { call } = await startGateway(t, { faults: { slowMs: { inventory: 3_000 } }, timeoutMs: 200 });
  const started = Date.now();
  const res = await call('POST', '/api/products', '{"sku":"S","name":"n","priceCents":1,"stock":1}', {}, admin);
  assert.equal(res.status, 503);
  assert.equal(res.body.error.code, 'PLT_ERR_DEPENDENCY_UNAVAILABLE');
  assert.match(res.body.error.message, /inventory did not answer within 200 ms/);
  assert.ok(Date.now() - started < 1_500, 'answered without waiting for the slow service');
});

test('the gateway answers a request whose body never finishes with a 408 envelope and closes its socket, forwarding nothing', async (t) => {
  const timeouts = loadHttpTimeouts({ ORDERFLOW_HTTP_HEADERS_TIMEOUT_MS: '200', ORDERFLOW_HTTP_REQUEST_TIMEOUT_MS: '400' });
  const { url, seen } = await startGateway(t, { timeouts });
  const start = performance.now();
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(`POST /api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: ${customer}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"customerId":`));
    let got = '';
    const give = setTimeout(() => reject(new Error(`socket still open after 5 s; got ${JSON.stringify(got)}`)), 5_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (got += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => (clearTimeout(give), resolve(got)));
  });
  const ms = performance.now() - start;
  assert.match(text, /^HTTP\/1.1 408 /);
  assert.deepEqual(JSON.parse(text.split('\r\n\r\n')[1]), { error: { code: 'PLT_ERR_REQUEST_TIMEOUT', message: 'the request did not arrive in time' } });
  assert.ok(ms < 2_000, `closed after ${ms} ms; the request timeout is 400 ms`);
  assert.equal(seen.filter((s) => s.url.startsWith('/orders')).length, 0, 'nothing was forwarded');
});

test('who may call what: 401 without a valid token, 403 for a role that may not, 404 for somebody else\'s order', async (t) => {
  const { call, seen } = await startGateway(t);
  const other = await tokenOf('c-2', 'customer');
  const product = JSON.stringify({ sku: 'S', name: 'n', priceCents: 1, stock: 1 });
  const cases: Array<[string, Promise<{ status: number; body: any }>, number, string]> = [
    ['anonymous order', call('POST', '/api/orders', JSON.stringify(placeBody), {}, null), 401, 'PLT_ERR_UNAUTHENTICATED'],
    ['anonymous read', call('GET', `/api/orders/${orderId}`, undefined, {}, null), 401, 'PLT_ERR_UNAUTHENTICATED'],
    ['a forged token', call('GET', `/api/orders/${orderId}`, undefined, {}, `${customer.slice(0, -4)}AAAA`), 401, 'PLT_ERR_UNAUTHENTICATED'],
    ['anonymous with a bad body: 401 first', call('POST', '/api/orders', '{"x":', {}, null), 401, 'PLT_ERR_UNAUTHENTICATED'],
    ['a customer adds a product', call('POST', '/api/products', product), 403, 'PLT_ERR_FORBIDDEN'],
    ['an admin places an order', call('POST', '/api/orders', JSON.stringify(placeBody), {}, admin), 403, 'PLT_ERR_FORBIDDEN'],
    ['an order for somebody else', call('POST', '/api/orders', JSON.stringify({ ...placeBody, customerId: 'c-2' })), 403, 'PLT_ERR_FORBIDDEN'],
    ['somebody else\'s order', call('GET', `/api/orders/${orderId}`, undefined, {}, other), 404, 'ORD_ERR_ORDER_NOT_FOUND'],
    ['somebody else\'s details', call('GET', `/api/orders/${orderId}/details`, undefined, {}, other), 404, 'ORD_ERR_ORDER_NOT_FOUND'],
    ['a customer lists dead letters', call('GET', '/api/admin/dead-letters'), 403, 'PLT_ERR_FORBIDDEN'],
  ];
  for (const [name, answer, status, code] of cases) {
    const res = await answer;
    assert.deepEqual([res.status, res.body?.error?.code], [status, code], name);
  }
  assert.deepEqual(seen.filter((s) => s.method !== 'GET'), [], 'nothing refused reached a service');
  assert.equal((await call('GET', `/api/orders/${orderId}`, undefined, {}, admin)).status, 200, 'an admin reads any order');
  assert.equal((await call('GET', `/api/orders/${orderId}`)).status, 200, 'the owner reads it');
});

test('an order\'s history and the order as of a time: for its owner or an admin; anybody else gets 404, as for the order', async (t) => {
  const { call, seen } = await startGateway(t);
  const other = await tokenOf('c-2', 'customer');
  assert.deepEqual(await call('GET', `/api/orders/${orderId}/history`).then((r) => [r.status, r.body]), [200, history]);
  assert.equal((await call('GET', `/api/orders/${orderId}/history`, undefined, {}, admin)).status, 200, 'an admin reads any history');
  const foreign = await call('GET', `/api/orders/${orderId}/history`, undefined, {}, other);
  assert.deepEqual([foreign.status, foreign.body.error.code, JSON.stringify(foreign.body).includes('OrderPlaced')], [404, 'ORD_ERR_ORDER_NOT_FOUND', false]);
  assert.equal((await call('GET', `/api/orders/${unknownId}/history`)).status, 404);

  const then = await call('GET', `/api/orders/${orderId}?asOf=2026-01-01T00:00:00.500Z`);
  assert.deepEqual([then.status, then.body.status], [200, 'PENDING']);
  assert.ok(seen.some((s) => s.url === `/orders/${orderId}?asOf=2026-01-01T00%3A00%3A00.500Z`), 'asked of orders directly, with the time');
  assert.equal((await call('GET', `/api/orders/${orderId}?asOf=2025-12-31T00:00:00Z`)).status, 404, 'before it was placed');
  assert.equal((await call('GET', `/api/orders/${orderId}?asOf=2026-01-01T00:00:00.500Z`, undefined, {}, other)).status, 404, 'somebody else\'s, at any time');
  assert.equal((await call('GET', `/api/orders/${orderId}/history`, undefined, {}, null)).status, 401);
});

test("a service's error answer is written anew: a 4xx keeps its code and message, a 5xx says only the request id, a body that is no envelope is a 502", async (t) => {
  const { call } = await startGateway(t, { faults: { sick: true } });
  const bad = await call('GET', `/api/orders/${unknownId}`);
  assert.deepEqual(bad.body, notFound);
  const failed = await call('POST', '/api/products', JSON.stringify({ sku: 'BOOM', name: 'n', priceCents: 1, stock: 1 }), {}, admin);
  assert.equal(failed.status, 502);
  assert.equal(failed.body.error.code, 'PLT_ERR_INTERNAL');
  assert.doesNotMatch(failed.body.error.message, /\/srv|secret/);
  assert.match(failed.body.error.message, /request id [0-9a-f-]{36}/);
  const garbage = await call('POST', '/api/products', JSON.stringify({ sku: 'HTML', name: 'n', priceCents: 1, stock: 1 }), {}, admin);
  assert.deepEqual([garbage.status, garbage.body.error.code], [502, 'PLT_ERR_UPSTREAM_FAILED']);
});

test('the caller\'s notifications, preferences and live stream reach the notifications service as the token\'s subject', async (t) => {
  const faults: NonNullable<Parameters<typeof fakeServices>[0]> = {};
  const { call, url, seen } = await startGateway(t, { faults });
  const list = await call('GET', '/api/me/notifications?limit=5&cursor=12');
  assert.equal(list.status, 200);
  assert.equal(seen.at(-1)?.url, '/customers/c-1/notifications?limit=5&cursor=12');
  assert.equal((await call('GET', '/api/me/notifications?cursor=x')).status, 400);
  assert.equal((await call('GET', '/api/me/notifications', undefined, {}, null)).status, 401);
  const prefs = await request(`${url}/api/me/notification-preferences`, { method: 'PUT', headers: { authorization: customer, 'content-type': 'application/json' }, body: JSON.stringify({ orderConfirmed: { email: false } }) });
  assert.equal(prefs.statusCode, 200);
  assert.deepEqual(await prefs.body.json(), { orderConfirmed: { email: false } });
  assert.equal(seen.at(-1)?.url, '/customers/c-1/notification-preferences');
  const refused = await request(`${url}/api/me/notification-preferences`, { method: 'PUT', headers: { authorization: customer, 'content-type': 'application/json' }, body: JSON.stringify({ orderConfirmed: { sms: true } }) });
  assert.equal(refused.statusCode, 400);
  await refused.body.dump();

  // Somebody else's stream (the service says 404) is an error envelope, not a stream.
  const other = await request(`${url}/api/me/notifications/stream`, { headers: { authorization: admin } });
  assert.deepEqual([other.statusCode, ((await other.body.json()) as any).error.code], [404, 'ORD_ERR_ORDER_NOT_FOUND']);

  // The stream comes through as it is written, resumed after Last-Event-ID; closing it closes the service's.
  // A client of its own, closed with the stream: the shared one may keep a spare socket open
  // (never used, so never idle), which would hold the gateway's close until it times out.
  const client = new Agent();
  t.after(() => client.destroy());
  const abort = new AbortController();
  const stream = await request(`${url}/api/me/notifications/stream`, { dispatcher: client, headers: { authorization: customer, 'last-event-id': '41' }, signal: abort.signal });
  assert.equal(stream.statusCode, 200);
  assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
  let text = '';
  for await (const chunk of stream.body) {
    text += chunk.toString();
    if ((text.match(/\n\n/g) ?? []).length >= 2) break;
  }
  assert.match(text, /^id: 42\nevent: notification\ndata: \{"n":42\}\n\nid: 43\n/);
  abort.abort();
  await client.destroy();
  const deadline = Date.now() + 5_000;
  while (!faults.streamsClosed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(faults.streamsClosed, 1);
});

test('client events are taken from anybody; a logged-in caller\'s are stamped with the token\'s subject, an anonymous one\'s with nobody', async (t) => {
  const { call, seen } = await startGateway(t);
  const batch = JSON.stringify({ events: [{ type: 'product.viewed', sessionId: 's-1' }] });
  assert.equal((await call('POST', '/api/events', batch, {}, customer)).status, 202);
  assert.equal((await call('POST', '/api/events', batch, {}, null)).status, 202);
  const sent = seen.filter((s) => s.service === 'ingestion').map((s) => s.body as { customerId?: string });
  assert.deepEqual(sent.map((b) => b.customerId), ['c-1', undefined]);

  const forged = await call('POST', '/api/events', batch, {}, 'Bearer not-a-token');
  assert.equal(forged.status, 401, 'a token, when sent, must be valid');
  assert.equal((await call('POST', '/api/events', JSON.stringify({ events: [] }), {}, null)).status, 400);
  assert.equal((await call('POST', '/api/events', JSON.stringify({ events: [{}], customerId: 'c-2' }), {}, null)).status, 400, 'nobody names the customer in the body');
  assert.equal(seen.filter((s) => s.service === 'ingestion').length, 2, 'nothing refused reached the service');
});

test('analytics is for admins: a customer gets 403, an anonymous caller 401, a bad window 400 before the service', async (t) => {
  const { call, seen } = await startGateway(t);
  const read = await call('GET', '/api/analytics/sales?window=1m', undefined, {}, admin);
  assert.equal(read.status, 200);
  assert.equal(read.body.window, '1m');
  assert.equal((await call('GET', '/api/analytics/sales?window=1m', undefined, {}, customer)).status, 403);
  assert.equal((await call('GET', '/api/analytics/sales?window=1m', undefined, {}, null)).status, 401);
  assert.equal((await call('GET', '/api/analytics/sales?window=5m', undefined, {}, admin)).status, 400);
  assert.deepEqual(seen.filter((s) => s.service === 'analytics').map((s) => s.url), ['/analytics/sales?window=1m']);
});

test('closing the gateway ends its open streams (clients reconnect elsewhere) without waiting for them', async (t) => {
  const faults: NonNullable<Parameters<typeof fakeServices>[0]> = {};
  const { url, close } = await startGateway(t, { faults });
  const client = new Agent();
  t.after(() => client.destroy());
  const stream = await request(`${url}/api/me/notifications/stream`, { dispatcher: client, headers: { authorization: customer } });
  assert.equal(stream.statusCode, 200);
  const ended = (async () => {
    for await (const _ of stream.body) { /* read until the gateway ends it */ }
  })();
  const started = Date.now();
  await close();
  await ended;
  assert.ok(Date.now() - started < 2_000, `closed in ${Date.now() - started} ms`);
  const deadline = Date.now() + 5_000;
  while (!faults.streamsClosed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(faults.streamsClosed, 1, 'and the service\'s stream with it');
});

test("the cart routes reach the caller's own cart (the token's subject), with the body and the Idempotency-Key; only a customer has one", async (t) => {
  const { call, seen } = await startGateway(t);
  assert.equal((await call('GET', '/api/cart')).status, 200);
  const put = await call('PUT', `/api/cart/items/${productId.toUpperCase()}`, JSON.stringify({ quantity: 3 }));
  assert.equal(put.status, 200);
  assert.equal((await call('DELETE', `/api/cart/items/${productId}`)).status, 200);
  const checkout = await call('POST', '/api/cart/checkout', JSON.stringify({ paymentMethod: 'card', shippingAddress: { country: 'FR' } }), { 'idempotency-key': 'cart-key-1' });
  assert.deepEqual([checkout.status, checkout.body], [202, { orderId, status: 'PENDING' }]);
  assert.deepEqual(seen.map((s) => `${s.service} ${s.method} ${s.url}`), [
    'cart GET /carts/c-1', `cart PUT /carts/c-1/items/${productId}`, `cart DELETE /carts/c-1/items/${productId}`, 'cart POST /carts/c-1/checkout',
  ]);
  assert.deepEqual(seen[1].body, { quantity: 3 });
  assert.equal(seen[3].headers['idempotency-key'], 'cart-key-1');
  assert.equal((await call('PUT', `/api/cart/items/${productId}`, JSON.stringify({ quantity: 1001 }))).status, 400, 'checked at the edge');
  assert.equal((await call('GET', '/api/cart', undefined, {}, null)).status, 401);
  assert.equal((await call('GET', '/api/cart', undefined, {}, admin)).status, 403);
  assert.equal(seen.length, 4);
});

test('a gateway without a lab (no `orderflow up` beside it) lists no runs and refuses to start one with a 404 envelope; the lab is the admin\'s', async (t) => {
  const { call } = await startGateway(t);
  const listed = await call('GET', '/api/admin/lab/runs', undefined, {}, admin);
  assert.deepEqual([listed.status, listed.body], [200, { available: false, runs: [] }]);
  const start = await call('POST', '/api/admin/lab/runs', JSON.stringify({ arch: 'events' }), {}, admin);
  assert.deepEqual([start.status, start.body.error.code], [404, 'PLT_ERR_LAB_UNAVAILABLE']);
  assert.match(start.body.error.message, /orderflow up/);
  assert.equal((await call('POST', '/api/admin/lab/runs', JSON.stringify({ arch: 'kafka' }), {}, admin)).status, 400, 'an unknown architecture');
  assert.equal((await call('GET', '/api/admin/lab/runs/not-an-id', undefined, {}, admin)).status, 400);
  assert.equal((await call('GET', '/api/admin/lab/runs')).status, 403, 'a customer');
  assert.equal((await call('POST', '/api/admin/lab/runs', '{}', {}, null)).status, 401, 'nobody');
});
