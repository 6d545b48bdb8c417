import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { loadConfig } from './config.ts';

test('the embedded default generates its key in the data directory; PostgreSQL needs one configured', () => {
  const embedded = loadConfig({ ORDERFLOW_DATA_DIR: '/tmp/of' });
  assert.deepEqual(embedded.signingKey, { kind: 'file', path: join('/tmp/of', 'users', 'signing-key.jwk'), generate: true });
  assert.equal(embedded.port, 8085);
  assert.deepEqual([embedded.tokens.accessTtlS, embedded.tokens.refreshTtlS], [900, 720 * 3600]);
  const pg = { ORDERFLOW_STORE: 'postgres', DATABASE_URL: 'postgres://x@127.0.0.1/db' };
  assert.throws(() => loadConfig(pg), (err) => isOrderflowError(err) && err.code === 'PLT_ERR_CONFIG' && /USERS_SIGNING_KEY/.test(err.message));
  assert.deepEqual(loadConfig({ ...pg, USERS_SIGNING_KEY_FILE: '/secrets/key.jwk' }).signingKey, { kind: 'file', path: '/secrets/key.jwk', generate: false });
  assert.deepEqual(loadConfig({ ...pg, USERS_SIGNING_KEY: '{"kty":"EC"}' }).signingKey, { kind: 'jwk', json: '{"kty":"EC"}' });
});

test('lifetimes and costs out of range stop the service with the setting named', () => {
  for (const [name, value] of [['USERS_ACCESS_TOKEN_TTL_S', '5'], ['USERS_REFRESH_TOKEN_TTL_HOURS', 'x'], ['USERS_ARGON2_MEMORY_KIB', '1024'], ['USERS_ARGON2_PASSES', '0']]) {
    assert.throws(() => loadConfig({ [name]: value }), (err) => isOrderflowError(err) && err.code === 'PLT_ERR_CONFIG' && err.message.includes(name), name);
  }
});
