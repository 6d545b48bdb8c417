import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOrderflowError } from './errors.ts';
import { loadPlatformConfig, loadServiceConfig } from './config.ts';

test('the defaults are the embedded deployment under ./data', () => {
  const c = loadPlatformConfig({});
  assert.deepEqual(
    { arch: c.arch, bus: c.bus, store: c.store, dataDir: c.dataDir, namespace: c.namespace, partitions: c.partitions, faultInjection: c.faultInjection },
    { arch: 'events', bus: 'embedded', store: 'sqlite', dataDir: 'data', namespace: 'orderflow', partitions: 8, faultInjection: false },
  );
  assert.ok(Object.isFrozen(c));
});

test('Kafka without brokers, PostgreSQL without a URL and a bad partition count are refused with PLT_ERR_CONFIG', () => {
  for (const env of [{ ORDERFLOW_BUS: 'kafka' }, { ORDERFLOW_STORE: 'postgres' }, { ORDERFLOW_PARTITIONS: '0' }, { ORDERFLOW_BUS: 'rabbit' }, { ORDERFLOW_NAMESPACE: 'Has Spaces' }, { ORDERFLOW_ARCH: 'soap' }]) {
    assert.throws(() => loadPlatformConfig(env), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'), JSON.stringify(env));
  }
});

test('the architecture is chosen by ORDERFLOW_ARCH', () => {
  for (const arch of ['events', 'choreography', 'rest'] as const) assert.equal(loadPlatformConfig({ ORDERFLOW_ARCH: arch }).arch, arch);
});

test('a service listens on its default port unless PORT says otherwise, and refuses a bad PORT', () => {
  assert.equal(loadServiceConfig({}, 8083).port, 8083);
  assert.equal(loadServiceConfig({ PORT: '0' }, 8083).port, 0);
  assert.equal(loadServiceConfig({}, 8083).host, '127.0.0.1');
  assert.throws(() => loadServiceConfig({ PORT: 'http' }, 8083), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
  assert.throws(() => loadServiceConfig({ PORT: '70000' }, 8083), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
});

test('the outbox relay is in-process by default; Debezium needs Kafka, PostgreSQL and Kafka Connect', () => {
  assert.equal(loadPlatformConfig({}).relay, 'inprocess');
  const distributed = { ORDERFLOW_BUS: 'kafka', KAFKA_BROKERS: '127.0.0.1:9092', ORDERFLOW_STORE: 'postgres', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' };
  const c = loadPlatformConfig({ ...distributed, ORDERFLOW_RELAY: 'debezium', CONNECT_URL: 'http://127.0.0.1:18083' });
  assert.equal(c.relay, 'debezium');
  assert.equal(c.connectUrl, 'http://127.0.0.1:18083');
  for (const env of [{ ...distributed, ORDERFLOW_RELAY: 'debezium' }, { ORDERFLOW_RELAY: 'debezium', CONNECT_URL: 'http://x' }, { ...distributed, ORDERFLOW_RELAY: 'kafka-connect' }]) {
    assert.throws(() => loadPlatformConfig(env), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'), JSON.stringify(env));
  }
});
