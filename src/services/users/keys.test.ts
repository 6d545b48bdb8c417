import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { loadSigningKey, newSigningKeyJson } from './keys.ts';

test('on first start the key is generated into the data directory, private to its owner, and every later or concurrent start reads the same one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'users-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'users', 'signing-key.jwk');
  const together = await Promise.all(Array.from({ length: 4 }, () => loadSigningKey({ kind: 'file', path, generate: true })));
  assert.equal(new Set(together.map((k) => k.kid)).size, 1, 'replicas starting together agree on one key');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const later = await loadSigningKey({ kind: 'file', path, generate: true });
  assert.equal(later.kid, together[0].kid);
  assert.deepEqual(Object.keys(later.publicJwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.match(readFileSync(path, 'utf8'), /"d":/);
});

test('a configured key is used as it is; a missing file, a public or non-P-256 key are refused with a coded error', async (t) => {
  const json = await newSigningKeyJson();
  const a = await loadSigningKey({ kind: 'jwk', json });
  const b = await loadSigningKey({ kind: 'jwk', json });
  assert.equal(a.kid, b.kid);
  const dir = mkdtempSync(join(tmpdir(), 'users-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const refusals = [
    { kind: 'file', path: join(dir, 'absent.jwk'), generate: false },
    { kind: 'jwk', json: 'not json' },
    { kind: 'jwk', json: JSON.stringify(a.publicJwk) },
    { kind: 'jwk', json: JSON.stringify({ ...JSON.parse(json), crv: 'P-384' }) },
    { kind: 'jwk', json: JSON.stringify({ ...JSON.parse(json), d: 'AAAA' }) },
  ] as const;
  for (const source of refusals) {
    await assert.rejects(loadSigningKey(source), (err) => isOrderflowError(err) && err.code === 'ORD_ERR_SIGNING_KEY_INVALID', JSON.stringify(source).slice(0, 80));
  }
  assert.equal(existsSync(join(dir, 'absent.jwk')), false, 'nothing generated when generation is off');
});
