// The admin's operations routes of the console (overview, order search, dead-letter
// discard) over real HTTP, with small real services standing in for the upstreams: who may
// call them, what reaches the services, and the overview with a service down.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { request } from 'undici';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';
import { silentLogger } from '#platform/log.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import type { ServiceStatusBody } from '#platform/service/status-route.ts';
import { buildGatewayApp } from './app.ts';
import { upstreamNames, type UpstreamName } from './config.ts';
import type { Upstreams } from './http.ts';
import { closedPort } from '#test/sockets.ts';

const signer = await generateKeyPair('ES256', { extractable: true });
const publicJwk = { ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const tokenOf = async (sub: string, role: 'customer' | 'admin') =>
  `Bearer ${await new SignJWT({ role }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject(sub).setIssuer('orderflow-users').setAudience('orderflow-api').setIssuedAt().setExpirationTime('15m').sign(signer.privateKey)}`;
const customer = await tokenOf('c-1', 'customer');
const admin = await tokenOf('a-1', 'admin');

const deadLetterIds = { payments: '0190f5b2-7c4e-7d2a-9f00-00000000d001', cart: '0190f5b2-7c4e-7d2a-9f00-00000000d002' } as Partial<Record<UpstreamName, string>>;
const page = { orders: [], nextCursor: null };

/** What each service says of itself: orders consumes three topics, inventory one, the others none. */
function statusOf(name: UpstreamName): ServiceStatusBody {
  const consumers: Partial<Record<UpstreamName, ServiceStatusBody['consumers']>> = {
    orders: [{ groupId: 'orders', topic: 'inventory.events', lag: 3, handled: 40 }, { groupId: 'orders', topic: 'payments.events', lag: 0, handled: 20 }],
    inventory: [{ groupId: 'inventory', topic: 'inventory.commands', lag: 1, handled: 41 }],
  };
  return { service: name, architecture: 'events', deployment: { bus: 'embedded', store: 'sqlite' }, consumers: consumers[name] ?? [], outboxBacklog: name === 'ingestion' ? null : 2 };
}

async function startGateway(t: TestContext, opts: { down?: UpstreamName[]; statusFails?: readonly UpstreamName[]; oddStatus?: readonly UpstreamName[]; zipkinUrl?: string } = {}) {
  const seen: Array<{ service: UpstreamName; method: string; url: string; body: unknown }> = [];
  const urls = {} as Record<UpstreamName, string>;
  for (const name of upstreamNames) {
    if (opts.down?.includes(name)) {
      urls[name] = `http://127.0.0.1:${await closedPort()}`;
      continue;
    }
    const app: FastifyInstance = Fastify();
    app.addHook('preHandler', async (req) => {
      if (req.url !== '/.well-known/jwks.json') seen.push({ service: name, method: req.method, url: req.url, body: req.body });
    });
    app.get('/.well-known/jwks.json', async () => ({ keys: [publicJwk] }));
    app.get('/_admin/status', async (_req, reply) => {
      if (opts.statusFails?.includes(name)) return reply.code(500).send({ error: { code: 'PLT_ERR_INTERNAL', message: 'boom' } });
      return opts.oddStatus?.includes(name) ? { service: name, consumers: 'many' } : statusOf(name);
    });
    app.get('/_admin/orders', async () => page);
    app.post('/_admin/dead-letters/discard', async (req) => {
      const { ids } = req.body as { ids: string[] };
      return { discarded: ids.filter((id) => id === deadLetterIds[name]) };
    });
    urls[name] = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
  }
  const upstreams = Object.fromEntries(upstreamNames.map((name) => [name, createUpstream({ name, url: urls[name], timeoutMs: 2_000, connections: 4, retries: 1 })])) as Upstreams;
  t.after(() => Promise.all(Object.values(upstreams).map((u) => u.close())));
  const verifier = createTokenVerifier({ jwks: `${urls.users}/.well-known/jwks.json`, issuer: 'orderflow-users', audience: 'orderflow-api' });
  const app = await buildGatewayApp({ log: silentLogger, upstreams, verifier, zipkinUrl: opts.zipkinUrl });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown, as: string | null = admin) => {
    const headers = { ...(as ? { authorization: as } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const res = await request(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
  };
  return { call, seen };
}

test('the admin routes of the console are for admins: 401 without a token, 403 for a customer, and nothing reaches a service', async (t) => {
  const { call, seen } = await startGateway(t);
  const routes: Array<['GET' | 'POST', string, unknown?]> = [
    ['GET', '/api/admin/overview'],
    ['GET', '/api/admin/orders?status=PENDING'],
    ['POST', '/api/admin/dead-letters/discard', { ids: [deadLetterIds.payments] }],
  ];
  for (const [method, path, body] of routes) {
    const anonymous = await call(method, path, body, null);
    assert.deepEqual([anonymous.status, anonymous.body.error.code], [401, 'PLT_ERR_UNAUTHENTICATED'], `${method} ${path} anonymous`);
    const refused = await call(method, path, body, customer);
    assert.deepEqual([refused.status, refused.body.error.code], [403, 'PLT_ERR_FORBIDDEN'], `${method} ${path} as a customer`);
  }
  assert.deepEqual(seen, []);
});

test('the overview gathers every service\'s status, the topics from the contracts with the groups reported, the circuits and Zipkin', async (t) => {
  const { call } = await startGateway(t, { zipkinUrl: 'http://127.0.0.1:9411' });
  const res = await call('GET', '/api/admin/overview');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const o = res.body;
  assert.deepEqual([o.architecture, o.deployment, o.tracing], ['events', { bus: 'embedded', store: 'sqlite' }, { zipkinUrl: 'http://127.0.0.1:9411' }]);
  assert.deepEqual(o.services.map((s: { name: string }) => s.name), [...upstreamNames]);
  const orders = o.services.find((s: { name: string }) => s.name === 'orders');
  assert.deepEqual(orders, { name: 'orders', status: 'up', instances: 1, consumers: statusOf('orders').consumers, outboxBacklog: 2 });
  assert.equal(o.services.find((s: { name: string }) => s.name === 'ingestion').outboxBacklog, null);
  const topic = (name: string) => o.topics.find((x: { name: string }) => x.name === name);
  assert.deepEqual(topic('inventory.events'), { name: 'inventory.events', owner: 'inventory', consumers: ['orders'] });
  assert.deepEqual(topic('inventory.commands'), { name: 'inventory.commands', owner: 'inventory', consumers: ['inventory'] });
  assert.deepEqual(topic('orders.events'), { name: 'orders.events', owner: 'orders', consumers: [] });
  assert.equal(topic('analytics.windows').owner, 'analytics');
  assert.deepEqual(o.circuits, upstreamNames.map((to) => ({ from: 'gateway', to, state: 'closed' })));
  assert.ok(Math.abs(Date.parse(o.at) - Date.now()) < 10_000);
});

test('a service that does not answer (or not in the shape of a status) is down in the overview, which still answers; with none answering it is a coded 503', async (t) => {
  const { call } = await startGateway(t, { down: ['payments', 'inventory'], oddStatus: ['cart'] });
  const res = await call('GET', '/api/admin/overview');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const byName = new Map(res.body.services.map((s: { name: string }) => [s.name, s]));
  assert.deepEqual(byName.get('payments'), { name: 'payments', status: 'down', instances: 1, consumers: [], outboxBacklog: null });
  assert.deepEqual(byName.get('cart'), { name: 'cart', status: 'down', instances: 1, consumers: [], outboxBacklog: null });
  assert.deepEqual(res.body.services.filter((s: { status: string }) => s.status === 'down').map((s: { name: string }) => s.name).sort(), ['cart', 'inventory', 'payments']);
  assert.equal(res.body.tracing, null, 'no Zipkin configured');

  const { call: nobody } = await startGateway(t, { down: upstreamNames.filter((n) => n !== 'users'), statusFails: ['users'] });
  const none = await nobody('GET', '/api/admin/overview');
  assert.deepEqual([none.status, none.body.error.code], [503, 'PLT_ERR_DEPENDENCY_UNAVAILABLE']);
});

test('the admin\'s order search reaches orders with its filters, and a bad filter is a 400 before it', async (t) => {
  const { call, seen } = await startGateway(t);
  const res = await call('GET', '/api/admin/orders?status=CANCELLED&customerId=c-9&limit=5&cursor=0190f5b2-7c4e-7d2a-9f00-0123456789ab');
  assert.deepEqual([res.status, res.body], [200, page]);
  assert.deepEqual(seen.map((s) => [s.service, s.method, s.url]), [['orders', 'GET', '/_admin/orders?status=CANCELLED&customerId=c-9&limit=5&cursor=0190f5b2-7c4e-7d2a-9f00-0123456789ab']]);
  for (const q of ['status=DONE', 'limit=0', 'cursor=nope', 'other=1']) {
    const bad = await call('GET', `/api/admin/orders?${q}`);
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'PLT_ERR_VALIDATION'], q);
  }
  assert.equal(seen.length, 1, 'no bad filter reached orders');
});

test('a discard asks every consuming service and answers the ids each discarded; a body without ids is a 400', async (t) => {
  const { call, seen } = await startGateway(t);
  const ids = [deadLetterIds.payments, deadLetterIds.cart, '0190f5b2-7c4e-7d2a-9f00-00000000dfff'];
  const res = await call('POST', '/api/admin/dead-letters/discard', { topic: 'payments.commands', ids });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(new Set(res.body.discarded), new Set([deadLetterIds.payments, deadLetterIds.cart]));
  assert.deepEqual(seen.map((s) => s.service).sort(), ['cart', 'inventory', 'notifications', 'orders', 'payments', 'shipping']);
  assert.ok(seen.every((s) => s.url === '/_admin/dead-letters/discard' && JSON.stringify(s.body) === JSON.stringify({ topic: 'payments.commands', ids })));
  for (const body of [{}, { topic: 'payments.commands' }, { ids: [] }, { ids: ['nope'] }]) {
    const bad = await call('POST', '/api/admin/dead-letters/discard', body);
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'PLT_ERR_VALIDATION'], JSON.stringify(body));
  }
});
