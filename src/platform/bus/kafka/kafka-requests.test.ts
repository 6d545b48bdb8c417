import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { kafkaBrokers, kafkaSkip, uniqueName } from '#test/infra.ts';
import { openKafkaBus } from './kafka-bus.ts';
import { apiName, countKafkaRequests, KAFKA_REQUESTS } from './kafka-requests.ts';

async function byApi(registry: Registry): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === KAFKA_REQUESTS);
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.api), v.value]));
}

test('kafka API keys are named as the protocol names them', () => {
  assert.equal(apiName(0), 'Produce');
  assert.equal(apiName(1), 'Fetch');
  assert.equal(apiName(8), 'OffsetCommit');
  assert.equal(apiName(12), 'Heartbeat');
  assert.equal(apiName(3), 'Metadata');
  assert.equal(apiName(9999), '9999');
});

test('publishing one record through the bus counts exactly one Produce request, however often the counter is added', { skip: kafkaSkip(), timeout: 120_000 }, async (t) => {
  const brokers = kafkaBrokers(t)!;
  const registry = new Registry();
  countKafkaRequests(registry);
  countKafkaRequests(registry);
  const bus = await openKafkaBus({ brokers, clientId: 'kafka-requests-test', namespace: uniqueName('kreq') });
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: 'counted', partitions: 1 }]);
  // The first publish also sets up the idempotent producer (InitProducerId, Metadata): warm it up.
  await bus.publish([{ topic: 'counted', key: 'k', value: 'warm-up', headers: {} }]);
  const before = await byApi(registry);
  assert.ok((before.Metadata ?? 0) > 0, 'connecting asked for metadata');
  await bus.publish([{ topic: 'counted', key: 'k', value: 'one', headers: {} }]);
  const after = await byApi(registry);
  assert.equal((after.Produce ?? 0) - (before.Produce ?? 0), 1);
});
