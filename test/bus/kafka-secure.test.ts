/**
 * The broker's SASL_SSL listener (npm run infra:kafka -- --secure) lets in only a client that
 * trusts its certificate and knows the SCRAM password; the bus contract over it is in
 * bus-conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadKafkaSecurity } from '#platform/config.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaSecureSkip, uniqueName } from '#test/infra.ts';

const env = (over: Record<string, string | undefined> = {}) => loadKafkaSecurity({
  KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
  KAFKA_SSL_CA_FILE: process.env.KAFKA_SECURE_CA_FILE,
  KAFKA_SASL_MECHANISM: process.env.KAFKA_SECURE_MECHANISM,
  KAFKA_SASL_USERNAME: process.env.KAFKA_SECURE_USERNAME,
  KAFKA_SASL_PASSWORD: process.env.KAFKA_SECURE_PASSWORD,
  ...over,
});

/** Creates a topic and publishes one record through a bus with `security`; resolves true when it could. */
async function canPublish(security: ReturnType<typeof loadKafkaSecurity>): Promise<boolean> {
  const bus = await openKafkaBus({ brokers: (process.env.KAFKA_SECURE_BROKERS ?? '').split(','), security, clientId: 'secure-test', namespace: uniqueName('secure'), log: silentLogger });
  try {
    await bus.ensureTopics([{ name: 'probe', partitions: 1 }]);
    await bus.publish([{ topic: 'probe', key: 'k', value: 'v', headers: {} }]);
    return true;
  } catch {
    return false;
  } finally {
    await bus.close().catch(() => undefined);
  }
}

describe('the SASL_SSL listener', { skip: kafkaSecureSkip() }, () => {
  test('the right certificate and password get in; a wrong password, or a certificate not trusted, do not', async () => {
    assert.equal(await canPublish(env()), true);
    assert.equal(await canPublish(env({ KAFKA_SASL_PASSWORD: 'not-the-password' })), false, 'wrong SCRAM password');
    assert.equal(await canPublish(env({ KAFKA_SSL_CA_FILE: undefined })), false, 'a self-signed broker the system CAs do not vouch for');
  });
});
