import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { decode } from '#platform/bus/envelope.ts';
import type { ServiceHost } from '#platform/service/host.ts';
import { Topics } from '#contracts/index.ts';
import { startTestHost } from '#test/support/host.ts';
import { createAccounts } from './accounts.ts';
import { registerRoutes } from './http.ts';
import { loadSigningKey, newSigningKeyJson } from './keys.ts';
import { createPasswords } from './passwords.ts';
import { migrations } from './store.ts';

const tokens = { issuer: 'orderflow-users', audience: 'orderflow-api', accessTtlS: 900, refreshTtlS: 3600 };
// The cheapest argon2id cost: these tests are about the protocol (passwords.test.ts about the cost).
const cheap = { memoryCost: 8_192, timeCost: 1, parallelism: 1 };

async function startUsers(t: TestContext): Promise<{ host: ServiceHost; url: string }> {
  const key = await loadSigningKey({ kind: 'jwk', json: await newSigningKeyJson() });
  return startTestHost(t, {
    name: 'users',
    migrations,
    setup: (host) => registerRoutes(host.app, { db: host.db, key, accounts: createAccounts({ db: host.db, passwords: createPasswords(cheap), key, tokens, ids: host.ids, clock: host.clock }) }),
  });
}

async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

const ada = { email: 'Ada@Example.org', password: 'correct horse battery', name: 'Ada' };
const adaLogin = { email: ada.email, password: ada.password };

test('register answers the public user; the same email in another case is taken; weak passwords and bad emails get coded 400s', async (t) => {
  const { url } = await startUsers(t);
  const created = await call(url, 'POST', '/auth/register', ada);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(Object.keys(created.body).sort(), ['email', 'id', 'name', 'role']);
  assert.deepEqual([created.body.email, created.body.name, created.body.role], ['ada@example.org', 'Ada', 'customer']);

  const again = await call(url, 'POST', '/auth/register', { ...ada, email: 'ADA@example.ORG' });
  assert.deepEqual([again.status, again.body.error.code], [409, 'ORD_ERR_EMAIL_TAKEN']);
  for (const [body, code] of [
    [{ ...ada, email: 'b@example.org', password: 'short' }, 'ORD_ERR_WEAK_PASSWORD'],
    [{ ...ada, email: 'c@example.org', password: 'c@example.org' }, 'ORD_ERR_WEAK_PASSWORD'],
    [{ ...ada, email: 'not-an-email' }, 'PLT_ERR_VALIDATION'],
    [{ ...ada, email: 'd@example.org', role: 'admin' }, 'PLT_ERR_VALIDATION'],
    [{ ...ada, email: 'e@example.org', password: 'x'.repeat(129) }, 'PLT_ERR_VALIDATION'],
  ] as const) {
    const res = await call(url, 'POST', '/auth/register', body);
    assert.deepEqual([res.status, res.body.error.code], [400, code], JSON.stringify(body));
  }
  const user = await call(url, 'GET', `/users/${created.body.id}`);
  assert.deepEqual(user.body, created.body);
  assert.equal((await call(url, 'GET', '/users/0190a1b2-0000-7000-8000-000000000000')).status, 404);
});

test('a new account is announced once by UserRegistered with its id and normalised email, and nothing secret', async (t) => {
  const { host, url } = await startUsers(t);
  const created = await call(url, 'POST', '/auth/register', ada);
  assert.equal((await call(url, 'POST', '/auth/register', ada)).status, 409);
  await host.relay.flush();
  const published = (await host.bus.read(Topics.usersEvents)).map((r) => decode(r));
  assert.deepEqual(published.map((m) => [m.type, m.key, m.payload]), [['UserRegistered', created.body.id, { userId: created.body.id, email: 'ada@example.org' }]]);
});

test('login gives an ES256 access token the JWKS verifies, with the subject, role, issuer, audience and lifetime', async (t) => {
  const { url } = await startUsers(t);
  const { body: user } = await call(url, 'POST', '/auth/register', ada);
  const wrong = await call(url, 'POST', '/auth/login', { email: ada.email, password: 'wrong password!' });
  const unknown = await call(url, 'POST', '/auth/login', { email: 'nobody@example.org', password: ada.password });
  assert.deepEqual([wrong.status, wrong.body.error], [401, unknown.body.error], 'one answer for a wrong password and an unknown email');
  assert.equal(unknown.status, 401);

  const login = await call(url, 'POST', '/auth/login', { email: 'ADA@example.org', password: ada.password });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  assert.equal(login.headers.get('cache-control'), 'no-store');
  assert.deepEqual([login.body.expiresIn, login.body.tokenType], [900, 'Bearer']);
  const jwks = createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(login.body.accessToken, jwks, { issuer: 'orderflow-users', audience: 'orderflow-api' });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.deepEqual([payload.sub, payload.role, payload.exp! - payload.iat!], [user.id, 'customer', 900]);
  const keys = (await call(url, 'GET', '/.well-known/jwks.json')).body.keys;
  assert.equal(keys.length, 1);
  assert.equal(keys[0].d, undefined, 'the JWKS never carries the private part');
  // Another key's signature is refused.
  const other = await loadSigningKey({ kind: 'jwk', json: await newSigningKeyJson() });
  const forged = login.body.accessToken.split('.').slice(0, 2).join('.') + '.' + Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, other.privateKey, Buffer.from(login.body.accessToken.split('.').slice(0, 2).join('.')))).toString('base64url');
  await assert.rejects(jwtVerify(forged, jwks, { issuer: 'orderflow-users', audience: 'orderflow-api' }));
});

test('a refresh token rotates once; presented again it revokes the whole login; logout ends it', async (t) => {
  const { url } = await startUsers(t);
  await call(url, 'POST', '/auth/register', ada);
  const first = (await call(url, 'POST', '/auth/login', adaLogin)).body;
  const second = await call(url, 'POST', '/auth/refresh', { refreshToken: first.refreshToken });
  assert.equal(second.status, 200);
  assert.notEqual(second.body.refreshToken, first.refreshToken);
  const third = await call(url, 'POST', '/auth/refresh', { refreshToken: second.body.refreshToken });
  assert.equal(third.status, 200);

  // The first token again: a theft. It fails, and so does the newest of its family.
  const reused = await call(url, 'POST', '/auth/refresh', { refreshToken: first.refreshToken });
  assert.deepEqual([reused.status, reused.body.error.code], [401, 'ORD_ERR_INVALID_REFRESH_TOKEN']);
  assert.match(reused.body.error.message, /already used/);
  assert.equal((await call(url, 'POST', '/auth/refresh', { refreshToken: third.body.refreshToken })).status, 401);

  // Another login is another family: untouched by the first one's revocation, ended by logout.
  const other = (await call(url, 'POST', '/auth/login', adaLogin)).body;
  assert.equal((await call(url, 'POST', '/auth/logout', { refreshToken: other.refreshToken })).status, 204);
  assert.equal((await call(url, 'POST', '/auth/refresh', { refreshToken: other.refreshToken })).status, 401);
  assert.equal((await call(url, 'POST', '/auth/logout', { refreshToken: 'never-issued' })).status, 204, 'logout of an unknown token is no error');
  assert.equal((await call(url, 'POST', '/auth/refresh', { refreshToken: 'never-issued' })).status, 401);
});

test('of concurrent refreshes with one token exactly one succeeds', async (t) => {
  const { url } = await startUsers(t);
  await call(url, 'POST', '/auth/register', ada);
  const { refreshToken } = (await call(url, 'POST', '/auth/login', adaLogin)).body;
  const answers = await Promise.all(Array.from({ length: 8 }, () => call(url, 'POST', '/auth/refresh', { refreshToken })));
  assert.equal(answers.filter((a) => a.status === 200).length, 1, JSON.stringify(answers.map((a) => a.status)));
  assert.ok(answers.every((a) => a.status === 200 || a.status === 401));
});

test('create-admin makes an admin whose token says so, or promotes an existing account keeping its password', async (t) => {
  const { createAdmin } = await import('./admin.ts');
  const key = await loadSigningKey({ kind: 'jwk', json: await newSigningKeyJson() });
  let accounts: ReturnType<typeof createAccounts> | undefined;
  let host: ServiceHost | undefined;
  const { url } = await startTestHost(t, {
    name: 'users',
    migrations,
    setup: (h) => {
      host = h;
      accounts = createAccounts({ db: h.db, passwords: createPasswords(cheap), key, tokens, ids: h.ids, clock: h.clock });
      registerRoutes(h.app, { db: h.db, key, accounts });
    },
  });
  const made = await createAdmin(host!.db, accounts!, { email: 'root@example.org', password: 'a long admin password', name: 'Root' });
  assert.deepEqual([made.created, made.user.role], [true, 'admin']);
  await call(url, 'POST', '/auth/register', ada);
  const promoted = await createAdmin(host!.db, accounts!, { email: ada.email, password: 'ignored for an existing account', name: 'x' });
  assert.deepEqual([promoted.created, promoted.user.role, promoted.user.name], [false, 'admin', 'Ada']);
  const login = await call(url, 'POST', '/auth/login', adaLogin);
  assert.equal(login.status, 200, 'the password is unchanged');
  const { payload } = await jwtVerify(login.body.accessToken, createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`)), { issuer: 'orderflow-users', audience: 'orderflow-api' });
  assert.equal(payload.role, 'admin');
});
