import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import Fastify from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { request } from 'undici';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';
import { silentLogger } from '#platform/log.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { buildGatewayApp } from './app.ts';
import { loadEdgeConfig, upstreamNames } from './config.ts';
import type { Upstreams } from './http.ts';
import { startMetricsServer } from './metrics-server.ts';

// Tokens signed as the users service signs them, verified with the stand-in's keys.
const signer = await generateKeyPair('ES256', { extractable: true });
const publicJwk = { ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const tokens = { issuer: 'orderflow-users', audience: 'orderflow-api' };
const tokenOf = async (sub: string) =>
  `Bearer ${await new SignJWT({ role: 'customer' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject(sub).setIssuer(tokens.issuer).setAudience(tokens.audience).setIssuedAt().setExpirationTime('15m').sign(signer.privateKey)}`;
const realToken = await tokenOf('0190f5b2-7c4e-7d2a-9f00-000000000001');
/** The real token's header and claims with another signature: what a forger can make. */
const forge = (signature: string) => `${realToken.slice(0, realToken.lastIndexOf('.'))}.${signature}`;

/**
 * The gateway in front of one stand-in service (every upstream, users included: its keys,
 * login and register), with the edge set by `env` (the GATEWAY_* settings).
 */
async function startEdge(t: TestContext, env: Record<string, string> = {}) {
  const service = Fastify();
  service.get('/health/ready', async () => ({ status: 'ok' }));
  service.get('/products', async () => []);
  service.get('/.well-known/jwks.json', async () => ({ keys: [publicJwk] }));
  service.get('/users/:id', async (req) => ({ id: (req.params as { id: string }).id, email: 'a@example.com', name: 'A', role: 'customer' }));
  service.post('/auth/login', async () => ({ accessToken: 'a', refreshToken: 'r', expiresIn: 900, tokenType: 'Bearer' }));
  service.post('/auth/register', async (_req, reply) => reply.code(201).send({ id: '0190f5b2-7c4e-7d2a-9f00-000000000002', email: 'b@example.com', name: 'B', role: 'customer' }));
  const serviceUrl = await service.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => service.close());
  const upstreams = Object.fromEntries(upstreamNames.map((name) => [name, createUpstream({ name, url: serviceUrl, timeoutMs: 2_000 })])) as Upstreams;
  t.after(() => Promise.all(Object.values(upstreams).map((u) => u.close())));
  const verifier = createTokenVerifier({ jwks: `${serviceUrl}/.well-known/jwks.json`, ...tokens });
  const app = await buildGatewayApp({ log: silentLogger, upstreams, verifier, healthTimeoutMs: 300, edge: loadEdgeConfig(env) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const metrics = await startMetricsServer({ registry: app.metrics, host: '127.0.0.1', port: 0, log: silentLogger });
  t.after(() => metrics.close());
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
    const res = await request(url + path, { method: method as 'GET', headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
  };
  const login = (headers: Record<string, string> = {}) => call('POST', '/api/auth/login', headers, { email: 'a@example.com', password: 'a long password' });
  const register = () => call('POST', '/api/auth/register', {}, { email: 'b@example.com', password: 'a long password', name: 'B' });
  return { call, login, register, url, metricsUrl: metrics.url };
}

const bearer = (token: string) => ({ authorization: token });

test('past its budget a caller gets a 429 in the envelope, with Retry-After and the RateLimit headers', async (t) => {
  const { call } = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '3' });
  const remaining: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await call('GET', '/api/products');
    assert.equal(res.status, 200);
    assert.equal(res.headers['ratelimit-limit'], '3');
    remaining.push(res.headers['ratelimit-remaining']);
  }
  assert.deepEqual(remaining, ['2', '1', '0']);
  const refused = await call('GET', '/api/products');
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, 'PLT_ERR_RATE_LIMITED');
  assert.match(refused.body.error.message, /at most 3 a minute/);
  const retryAfter = Number(refused.headers['retry-after']);
  assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After in seconds, within the minute: ${refused.headers['retry-after']}`);
  assert.equal(refused.headers['ratelimit-limit'], '3');
  assert.equal(refused.headers['ratelimit-remaining'], '0');
  assert.ok(Number(refused.headers['ratelimit-reset']) > 0);
  assert.equal(refused.headers['x-content-type-options'], 'nosniff', 'a refusal carries the security headers too');
});

test('requests to paths that do not exist spend the same budget', async (t) => {
  const { call } = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '2' });
  assert.equal((await call('GET', '/nowhere')).status, 404);
  assert.equal((await call('GET', '/api/products')).status, 200);
  const refused = await call('GET', '/elsewhere');
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, 'PLT_ERR_RATE_LIMITED');
  assert.equal((await call('GET', '/api/products')).status, 429);
});

test('each token has its own budget, and a forged token naming the same user spends only its own', async (t) => {
  const { call } = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '2', GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE: '0' });
  const forged = bearer(forge('forged-signature'));
  for (let i = 0; i < 2; i++) assert.equal((await call('GET', '/api/products', forged)).status, 200);
  assert.equal((await call('GET', '/api/products', forged)).status, 429, 'the forged token is past its budget');
  assert.equal((await call('GET', '/api/me', bearer(realToken))).status, 200, "the real token's budget is untouched");
  assert.equal((await call('GET', '/api/me', bearer(await tokenOf('0190f5b2-7c4e-7d2a-9f00-000000000003')))).status, 200);
  assert.equal((await call('GET', '/api/products')).status, 200, 'nor is the address budget of calls without a token');
  assert.equal((await call('GET', '/api/me', bearer(realToken))).status, 200);
  const spent = await call('GET', '/api/me', bearer(realToken));
  assert.equal(spent.status, 429, 'the real token has its own two');
});

test('the limit comes before the token check: a caller past its budget costs no verification', async (t) => {
  const { call } = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '1', GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE: '0' });
  const forged = bearer(forge('x'));
  assert.equal((await call('GET', '/api/me', forged)).status, 401);
  const refused = await call('GET', '/api/me', forged);
  assert.equal(refused.status, 429, 'refused by the limit, not by the token check');
});

test('login and register share a stricter budget per address, whatever token comes along', async (t) => {
  const { call, login, register } = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '100', GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE: '3' });
  assert.equal((await login()).status, 200);
  const second = await login(bearer(forge('one')));
  assert.equal(second.status, 200);
  assert.equal(second.headers['ratelimit-limit'], '3');
  assert.equal((await register()).status, 201);
  const fourth = await login(bearer(forge('two')));
  assert.equal(fourth.status, 429, 'a fresh token does not buy a login budget');
  assert.equal(fourth.body.error.code, 'PLT_ERR_RATE_LIMITED');
  assert.ok(Number(fourth.headers['retry-after']) > 0);
  assert.equal((await register()).status, 429, 'register spends the same budget');
  const other = await call('GET', '/api/products');
  assert.equal(other.status, 200, 'the rest of the API is on the general budget');
  assert.equal(other.headers['ratelimit-limit'], '100');
  assert.equal((await call('POST', '/api/auth/refresh', {}, { refreshToken: 'r' })).headers['ratelimit-limit'], '100', 'refresh is on the general budget');
});

test('tokens the gateway refuses count against their address, each once: past the auth budget, calls with a token are refused', async (t) => {
  const { call } = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '100', GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE: '2' });
  for (let i = 0; i < 3; i++) assert.equal((await call('GET', '/api/me', bearer(forge('expired')))).status, 401, 'the same token again counts once');
  assert.equal((await call('GET', '/api/me', bearer(realToken))).status, 200);
  assert.equal((await call('GET', '/api/me', bearer(forge('guess-2')))).status, 401);
  const refused = await call('GET', '/api/me', bearer(realToken));
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, 'PLT_ERR_RATE_LIMITED');
  assert.match(refused.body.error.message, /refused tokens/);
  assert.ok(Number(refused.headers['retry-after']) > 0);
  assert.equal(refused.headers['ratelimit-remaining'], '0');
  assert.equal((await call('GET', '/api/products')).status, 200, 'without a token the address is served');
});

test('the health probes are never limited', async (t) => {
  const { call } = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '1' });
  for (let i = 0; i < 5; i++) {
    for (const path of ['/health', '/health/live', '/health/ready']) {
      const res = await call('GET', path);
      assert.equal(res.status, 200, `${path} #${i}`);
      assert.equal(res.headers['ratelimit-limit'], undefined);
    }
  }
});

test('0 turns the limits off', async (t) => {
  const { call, login } = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '0', GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE: '0' });
  for (let i = 0; i < 30; i++) {
    const res = i % 2 ? await login() : await call('GET', '/api/me', i % 3 ? bearer(forge(String(i))) : bearer(realToken));
    assert.notEqual(res.status, 429);
    assert.equal(res.headers['ratelimit-limit'], undefined);
  }
});

test('behind trusted proxies the client is the forwarded address; an untrusted X-Forwarded-For is ignored', async (t) => {
  const behind = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '1', GATEWAY_TRUST_PROXY: '127.0.0.1' });
  assert.equal((await behind.call('GET', '/api/products', { 'x-forwarded-for': '203.0.113.1' })).status, 200);
  assert.equal((await behind.call('GET', '/api/products', { 'x-forwarded-for': '203.0.113.2' })).status, 200, 'another client behind the same proxy');
  assert.equal((await behind.call('GET', '/api/products', { 'x-forwarded-for': '203.0.113.1' })).status, 429);
  const direct = await startEdge(t, { GATEWAY_RATE_LIMIT_PER_MINUTE: '1' });
  assert.equal((await direct.call('GET', '/api/products', { 'x-forwarded-for': '203.0.113.1' })).status, 200);
  assert.equal((await direct.call('GET', '/api/products', { 'x-forwarded-for': '203.0.113.2' })).status, 429, 'a client cannot pick its own address');
});

test('every answer carries the security headers of a JSON API; HSTS only when configured', async (t) => {
  const { call } = await startEdge(t);
  for (const res of [await call('GET', '/api/products'), await call('GET', '/nowhere')]) {
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin');
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'/, '/docs loads its own scripts');
    assert.doesNotMatch(csp, /upgrade-insecure-requests/);
    assert.equal(res.headers['strict-transport-security'], undefined, 'no HSTS on a plain-HTTP gateway by default');
    assert.equal(res.headers['x-powered-by'], undefined);
  }
  const tls = await startEdge(t, { GATEWAY_HSTS_MAX_AGE_S: '31536000' });
  assert.equal((await tls.call('GET', '/api/products')).headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
});

test('CORS: the configured origins get their preflight and their answers; other origins get no CORS header', async (t) => {
  const allowed = 'https://shop.example.com';
  const { call } = await startEdge(t, { GATEWAY_CORS_ORIGINS: `${allowed}, http://127.0.0.1:5173` });
  const preflight = await call('OPTIONS', '/api/orders', { origin: allowed, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], allowed);
  const allowHeaders = String(preflight.headers['access-control-allow-headers']).toLowerCase();
  for (const h of ['authorization', 'content-type', 'idempotency-key']) assert.ok(allowHeaders.includes(h), `${h} allowed: ${allowHeaders}`);
  assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  assert.equal(preflight.headers['access-control-allow-credentials'], undefined, 'bearer tokens, no cookies');
  const actual = await call('GET', '/api/products', { origin: allowed });
  assert.equal(actual.status, 200);
  assert.equal(actual.headers['access-control-allow-origin'], allowed);
  assert.match(String(actual.headers['access-control-expose-headers']), /Retry-After/);
  assert.match(String(actual.headers.vary), /Origin/);

  const evil = 'https://evil.example.com';
  const refusedPreflight = await call('OPTIONS', '/api/orders', { origin: evil, 'access-control-request-method': 'POST' });
  assert.notEqual(refusedPreflight.status, 204);
  assert.equal(refusedPreflight.body.error.code, 'PLT_ERR_METHOD_NOT_ALLOWED');
  const refused = await call('GET', '/api/products', { origin: evil });
  assert.equal(refused.status, 200, 'the answer is sent; the browser keeps it from the page');
  for (const res of [refusedPreflight, refused]) {
    assert.deepEqual(Object.keys(res.headers).filter((h) => h.startsWith('access-control-')), [], 'no CORS header for another origin');
  }
  assert.equal((await call('GET', '/nowhere', { origin: allowed })).status, 404, 'the preflight route does not turn unknown paths into 405s');
});

test('without GATEWAY_CORS_ORIGINS there is no CORS at all', async (t) => {
  const { call } = await startEdge(t);
  const preflight = await call('OPTIONS', '/api/orders', { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' });
  assert.equal(preflight.status, 405);
  const res = await call('GET', '/api/products', { origin: 'https://shop.example.com' });
  assert.deepEqual(Object.keys(res.headers).filter((h) => h.startsWith('access-control-')), []);
});

test('/metrics is not on the public port (404 in the envelope), only on the metrics port', async (t) => {
  const { call, metricsUrl } = await startEdge(t);
  const pub = await call('GET', '/metrics');
  assert.equal(pub.status, 404);
  assert.equal(pub.body.error.code, 'PLT_ERR_ROUTE_NOT_FOUND');
  const res = await request(`${metricsUrl}/metrics`);
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  assert.match(await res.body.text(), /^orderflow_circuit_state\{[^}]*service="gateway"/m);
  const other = await request(`${metricsUrl}/api/products`);
  assert.equal(other.statusCode, 404, 'the metrics port serves nothing else');
  await other.body.dump();
});

/** Sends raw bytes and reads the whole answer (the server closes the socket after a client error). */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let out = '';
    socket.on('data', (d) => (out += d.toString('utf8')));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
  });
}

test('headers past GATEWAY_MAX_HEADER_BYTES are a 431 in the envelope; a long path parameter a 414; a long body a 413', async (t) => {
  const { url, call } = await startEdge(t, { GATEWAY_MAX_HEADER_BYTES: '4096' });
  const answer = await rawExchange(url, `GET /api/products HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(5_000)}\r\n\r\n`);
  assert.match(answer, /^HTTP\/1\.1 431 /);
  assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code, 'PLT_ERR_HEADERS_TOO_LARGE');
  const longUrl = await rawExchange(url, `GET /api/products?q=${'a'.repeat(5_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
  assert.match(longUrl, /^HTTP\/1\.1 431 /, 'the request line counts too');
  assert.equal((await call('GET', '/api/products', { 'x-small': 'a'.repeat(2_000) })).status, 200, 'under the bound');
  const param = await call('GET', `/api/orders/${'a'.repeat(101)}`);
  assert.equal(param.status, 414);
  assert.equal(param.body.error.code, 'PLT_ERR_URI_TOO_LONG');
  const body = await request(`${url}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: realToken }, body: 'x'.repeat(256 * 1024 + 1) });
  assert.equal(body.statusCode, 413);
  assert.equal((await body.body.json() as { error: { code: string } }).error.code, 'PLT_ERR_BODY_TOO_LARGE');
});

test('the edge settings are checked at startup', () => {
  const defaults = loadEdgeConfig({});
  assert.equal(defaults.rateLimitPerMinute, 1200);
  assert.equal(defaults.authRateLimitPerMinute, 10);
  assert.deepEqual(defaults.corsOrigins, []);
  assert.equal(defaults.trustProxy, false);
  assert.equal(defaults.metricsPort, 9080);
  assert.equal(loadEdgeConfig({ GATEWAY_TRUST_PROXY: '2' }).trustProxy, 2);
  assert.deepEqual(loadEdgeConfig({ GATEWAY_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, ['10.0.0.0/8', '127.0.0.1']);
  for (const bad of ['*', 'https://shop.example.com/', 'https://shop.example.com/app', 'shop.example.com', 'ftp://x.example']) {
    assert.throws(() => loadEdgeConfig({ GATEWAY_CORS_ORIGINS: bad }), { code: 'PLT_ERR_CONFIG' }, bad);
  }
  assert.throws(() => loadEdgeConfig({ GATEWAY_RATE_LIMIT_PER_MINUTE: '-1' }), { code: 'PLT_ERR_CONFIG' });
  for (const bad of ['yes please', '10.0.0.0/33', '300.1.1.1', '::1/129', '10.0.0.0/8/1']) {
    assert.throws(() => loadEdgeConfig({ GATEWAY_TRUST_PROXY: bad }), { code: 'PLT_ERR_CONFIG' }, bad);
  }
  assert.deepEqual(loadEdgeConfig({ GATEWAY_TRUST_PROXY: '::1,fd00::/8' }).trustProxy, ['::1', 'fd00::/8']);
});
