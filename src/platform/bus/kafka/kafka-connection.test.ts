import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isOrderflowError } from '../../errors.ts';
import { kafkaConnection } from './kafka-connection.ts';

test('plaintext adds nothing; SSL trusts the CA file (or the system); SASL carries its mechanism and user; a CA file that cannot be read stops the service', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-connection-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  assert.deepEqual(kafkaConnection(undefined), {});
  assert.deepEqual(kafkaConnection({ protocol: 'PLAINTEXT' }), {});
  assert.deepEqual(kafkaConnection({ protocol: 'SSL' }), { tls: {} });
  assert.deepEqual(kafkaConnection({ protocol: 'SSL', caFile: ca }).tls?.ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const sasl = { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' } as const;
  assert.deepEqual(kafkaConnection({ protocol: 'SASL_PLAINTEXT', sasl }), { sasl });
  assert.deepEqual(kafkaConnection({ protocol: 'SASL_SSL', caFile: ca, sasl }).sasl, sasl);
  assert.throws(() => kafkaConnection({ protocol: 'SSL', caFile: join(dir, 'absent.pem') }), (err) => isOrderflowError(err) && err.code === 'PLT_ERR_CONFIG');
});
