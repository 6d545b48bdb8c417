import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test, type TestContext } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { isOrderflowError } from '../errors.ts';
import { createTokenVerifier, requireRole } from './access-tokens.ts';

const issuer = 'orderflow-users';
const audience = 'orderflow-api';

/** A signer's JWKS over a real socket, as the users service serves it. */
async function jwksServer(t: TestContext) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const keys = [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }];
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  /** Rotation: the signer publishes a second key (kid), and signs with it from then on. */
  const addKey = async (kid: string) => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    keys.push({ ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' });
    return pair.privateKey;
  };
  return { privateKey, jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`, fetches: () => fetches, addKey };
}

async function sign(key: CryptoKey, claims: Record<string, unknown>, o: { sub?: string; iss?: string; aud?: string; exp?: number | string; kid?: string } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: o.kid ?? 'k1' }).setIssuedAt().setIssuer(o.iss ?? issuer).setAudience(o.aud ?? audience).setExpirationTime(o.exp ?? '15m');
  if (o.sub !== undefined) jwt.setSubject(o.sub);
  return jwt.sign(key);
}

const code = (err: unknown) => (isOrderflowError(err) ? `${err.statusCode} ${err.code}` : String(err));

test('a token signed by the key of the JWKS gives its subject and role; the keys are fetched once', async (t) => {
  const { privateKey, jwksUrl, fetches } = await jwksServer(t);
  const verifier = createTokenVerifier({ jwks: jwksUrl, issuer, audience });
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await verifier.verify(`Bearer ${await sign(privateKey, { role: 'customer' }, { sub: 'u-1' })}`), { id: 'u-1', role: 'customer' });
  }
  assert.deepEqual(await verifier.verify(`Bearer ${await sign(privateKey, { role: 'admin' }, { sub: 'u-2' })}`), { id: 'u-2', role: 'admin' });
  assert.equal(fetches(), 1);
});

test('no token, a malformed header, another signer, issuer or audience, an expired token or one without subject or role: a coded 401 each', async (t) => {
  const { privateKey, jwksUrl } = await jwksServer(t);
  const verifier = createTokenVerifier({ jwks: jwksUrl, issuer, audience });
  const other = (await generateKeyPair('ES256')).privateKey;
  const hs256 = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setSubject('u-1').setIssuer(issuer).setAudience(audience).setExpirationTime('15m').sign(new TextEncoder().encode('x'.repeat(32)));
  const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u-1', role: 'admin', iss: issuer, aud: audience, exp: 4e9 })).toString('base64url')}.x`;
  const cases: Array<[string, string | undefined, RegExp?]> = [
    ['none', undefined, /needs an access token/],
    ['empty', ''],
    ['basic', 'Basic dTpw', /Bearer/],
    ['garbage', 'Bearer not-a-jwt', /Bearer/],
    ['other signer', `Bearer ${await sign(other, { role: 'admin' }, { sub: 'u-1' })}`],
    ['issuer', `Bearer ${await sign(privateKey, { role: 'admin' }, { sub: 'u-1', iss: 'someone-else' })}`],
    ['audience', `Bearer ${await sign(privateKey, { role: 'admin' }, { sub: 'u-1', aud: 'another-api' })}`],
    ['expired', `Bearer ${await sign(privateKey, { role: 'admin' }, { sub: 'u-1', exp: Math.floor(Date.now() / 1000) - 60 })}`, /expired/],
    ['no subject', `Bearer ${await sign(privateKey, { role: 'admin' })}`],
    ['unknown role', `Bearer ${await sign(privateKey, { role: 'root' }, { sub: 'u-1' })}`],
    ['HS256', `Bearer ${hs256}`],
    ['alg none', `Bearer ${unsigned}`],
  ];
  for (const [name, header, message] of cases) {
    await assert.rejects(verifier.verify(header), (err) => {
      assert.equal(code(err), '401 PLT_ERR_UNAUTHENTICATED', name);
      if (message) assert.match((err as Error).message, message, name);
      return true;
    }, name);
  }
});

test('keys that cannot be fetched make a 503 (the users service away), not a 401 (the caller wrong)', async () => {
  const verifier = createTokenVerifier({ jwks: 'http://127.0.0.1:9/.well-known/jwks.json', issuer, audience });
  const { privateKey } = await generateKeyPair('ES256');
  await assert.rejects(verifier.verify(`Bearer ${await sign(privateKey, { role: 'customer' }, { sub: 'u-1' })}`), (err) => code(err) === '503 PLT_ERR_DEPENDENCY_UNAVAILABLE');
});

test('a verified token is remembered until it expires, then refused; a new key is fetched for its kid, at most every 30 s', async (t) => {
  const { privateKey, jwksUrl, fetches, addKey } = await jwksServer(t);
  let clock = Date.now();
  const verifier = createTokenVerifier({ jwks: jwksUrl, issuer, audience, now: () => clock, clockToleranceS: 0 });
  const token = `Bearer ${await sign(privateKey, { role: 'customer' }, { sub: 'u-1', exp: Math.floor(clock / 1000) + 60 })}`;
  assert.deepEqual(await verifier.verify(token), { id: 'u-1', role: 'customer' });
  clock += 59_000;
  assert.deepEqual(await verifier.verify(token), { id: 'u-1', role: 'customer' }, 'still valid, from the cache');
  clock += 2_000;
  await assert.rejects(verifier.verify(token), (err) => code(err) === '401 PLT_ERR_UNAUTHENTICATED' && /expired/.test((err as Error).message), 'expired while cached');
  assert.equal(fetches(), 1);

  const k2 = await addKey('k2');
  const rotated = `Bearer ${await sign(k2, { role: 'admin' }, { sub: 'u-2', kid: 'k2', exp: Math.floor(clock / 1000) + 600 })}`;
  // The keys were fetched 61 s ago (more than 30): an unknown kid fetches them again.
  assert.deepEqual(await verifier.verify(rotated), { id: 'u-2', role: 'admin' });
  assert.equal(fetches(), 2);
  // A kid nobody publishes, right after a fetch: refused without asking the signer again.
  const stranger = `Bearer ${await sign(await addKey('k3'), { role: 'admin' }, { sub: 'u-3', kid: 'k4', exp: Math.floor(clock / 1000) + 600 })}`;
  await assert.rejects(verifier.verify(stranger), (err) => code(err) === '401 PLT_ERR_UNAUTHENTICATED');
  assert.equal(fetches(), 2);
});

test('requireRole lets the roles named through and answers 403 to the others', () => {
  requireRole({ id: 'a', role: 'admin' }, ['admin']);
  requireRole({ id: 'c', role: 'customer' }, ['customer', 'admin']);
  assert.throws(() => requireRole({ id: 'c', role: 'customer' }, ['admin']), (err) => code(err) === '403 PLT_ERR_FORBIDDEN');
});
