import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOrderflowError } from './errors.ts';
import { loadKafkaSecurity, loadPlatformConfig, loadServiceConfig, loadTracingConfig } from './config.ts';

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

test('tracing is off unless OTEL_TRACES_EXPORTER turns it on, with the standard defaults', () => {
  assert.deepEqual({ ...loadTracingConfig({}) }, {
    exporter: 'none',
    zipkinEndpoint: 'http://localhost:9411/api/v2/spans',
    otlpEndpoint: 'http://localhost:4318/v1/traces',
    sampler: 'parentbased_always_on',
    samplerArg: 1,
    serviceName: undefined,
  });
  assert.equal(loadPlatformConfig({}).tracing.exporter, 'none');
  const zipkin = loadTracingConfig({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://127.0.0.1:19411/api/v2/spans', OTEL_SERVICE_NAME: 'orders-eu' });
  assert.equal(zipkin.exporter, 'zipkin');
  assert.equal(zipkin.zipkinEndpoint, 'http://127.0.0.1:19411/api/v2/spans');
  assert.equal(zipkin.serviceName, 'orders-eu');
  // The base endpoint gets the signal's path; the per-signal one is taken as it is.
  assert.equal(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otlpEndpoint, 'http://collector:4318/v1/traces');
  assert.equal(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/traces' }).otlpEndpoint, 'http://tempo:4318/traces');
  const ratio = loadTracingConfig({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
  assert.equal(ratio.sampler, 'parentbased_traceidratio');
  assert.equal(ratio.samplerArg, 0.25);
});

test('a tracing setting the SDK would silently replace by its default is refused at startup', () => {
  const refused = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => loadTracingConfig(env), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG') && pattern.test((err as Error).message));
  refused({ OTEL_TRACES_EXPORTER: 'jaeger' }, /OTEL_TRACES_EXPORTER must be one of none, zipkin, otlp/);
  refused({ OTEL_TRACES_SAMPLER: 'sometimes' }, /OTEL_TRACES_SAMPLER must be one of/);
  refused({ OTEL_TRACES_SAMPLER_ARG: '1.5' }, /OTEL_TRACES_SAMPLER_ARG must be a ratio/);
  refused({ OTEL_TRACES_SAMPLER_ARG: 'half' }, /OTEL_TRACES_SAMPLER_ARG must be a ratio/);
});

test('timeouts and bounds have defaults, are read from their variables, and a bad one is refused with PLT_ERR_CONFIG', () => {
  const d = loadPlatformConfig({});
  assert.deepEqual(d.http, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, idleTimeoutMs: 60_000, keepAliveTimeoutMs: 72_000, drainGraceMs: 2_000 });
  assert.deepEqual(d.postgres, { acquireTimeoutMs: 5_000, statementTimeoutMs: 10_000, idleInTransactionTimeoutMs: 30_000 });
  assert.equal(d.writeQueueMax, 2048);
  assert.deepEqual(d.inbox, { retentionHours: 192, purgeIntervalMs: 600_000 });
  assert.deepEqual(d.embeddedLog, { retentionMinutes: 60, trimIntervalMs: 60_000, groupExpiryHours: 168 });
  const c = loadPlatformConfig({
    ORDERFLOW_HTTP_REQUEST_TIMEOUT_MS: '1000',
    ORDERFLOW_PG_ACQUIRE_TIMEOUT_MS: '250',
    ORDERFLOW_PG_STATEMENT_TIMEOUT_MS: '0',
    ORDERFLOW_WRITE_QUEUE_MAX: '16',
    ORDERFLOW_INBOX_RETENTION_HOURS: '0.1',
    ORDERFLOW_LOG_RETENTION_MINUTES: '2',
    ORDERFLOW_LOG_TRIM_INTERVAL_MS: '5000',
  });
  assert.equal(c.inbox.retentionHours, 0.1, 'fractions of an hour, for soak runs');
  assert.deepEqual(c.embeddedLog, { retentionMinutes: 2, trimIntervalMs: 5_000, groupExpiryHours: 168 });
  assert.equal(c.http.requestTimeoutMs, 1_000);
  assert.deepEqual([c.postgres.acquireTimeoutMs, c.postgres.statementTimeoutMs], [250, 0]);
  assert.equal(c.writeQueueMax, 16);
  for (const env of [{ ORDERFLOW_HTTP_REQUEST_TIMEOUT_MS: '0' }, { ORDERFLOW_HTTP_HEADERS_TIMEOUT_MS: 'soon' }, { ORDERFLOW_PG_ACQUIRE_TIMEOUT_MS: '0' }, { ORDERFLOW_PG_STATEMENT_TIMEOUT_MS: '-1' }, { ORDERFLOW_WRITE_QUEUE_MAX: '0' }, { ORDERFLOW_INBOX_RETENTION_HOURS: '0' }, { ORDERFLOW_INBOX_PURGE_INTERVAL_MS: 'hourly' }, { ORDERFLOW_LOG_RETENTION_MINUTES: '0.5' }, { ORDERFLOW_LOG_TRIM_INTERVAL_MS: '0' }]) {
    assert.throws(() => loadPlatformConfig(env), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'), JSON.stringify(env));
  }
});

test('Kafka security: plaintext unless told; SASL needs its user and password; PLAIN only over TLS; Kafka\'s own names', () => {
  assert.deepEqual(loadKafkaSecurity({}), { protocol: 'PLAINTEXT', caFile: undefined });
  assert.deepEqual(loadKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: '/ca.pem' }), { protocol: 'SSL', caFile: '/ca.pem' });
  assert.deepEqual(loadKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }), {
    protocol: 'SASL_SSL', caFile: undefined, sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
  });
  const refused: Record<string, string>[] = [
    { KAFKA_SECURITY_PROTOCOL: 'TLS' },
    { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'u' },
    { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_MECHANISM: 'GSSAPI' },
    { KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_MECHANISM: 'PLAIN' },
    { KAFKA_SSL_CA_FILE: '/ca.pem' },
  ];
  for (const env of refused) assert.throws(() => loadKafkaSecurity(env), (err) => isOrderflowError(err) && err.code === 'PLT_ERR_CONFIG', JSON.stringify(env));
});

test('dead-letter topics are kept forever unless ORDERFLOW_DLQ_RETENTION_DAYS sets a number of days', () => {
  assert.equal(loadPlatformConfig({}).deadLetterRetentionMs, -1);
  assert.equal(loadPlatformConfig({ ORDERFLOW_DLQ_RETENTION_DAYS: 'unlimited' }).deadLetterRetentionMs, -1);
  assert.equal(loadPlatformConfig({ ORDERFLOW_DLQ_RETENTION_DAYS: '30' }).deadLetterRetentionMs, 30 * 86_400_000);
  assert.throws(() => loadPlatformConfig({ ORDERFLOW_DLQ_RETENTION_DAYS: '0' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
  assert.throws(() => loadPlatformConfig({ ORDERFLOW_DLQ_RETENTION_DAYS: 'a week' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
  assert.equal(loadPlatformConfig({}).settledDeadLetterRetentionMs, 30 * 86_400_000, 'settled rows of the table: 30 days');
  assert.equal(loadPlatformConfig({ ORDERFLOW_DLQ_SETTLED_RETENTION_DAYS: '7' }).settledDeadLetterRetentionMs, 7 * 86_400_000);
  assert.throws(() => loadPlatformConfig({ ORDERFLOW_DLQ_SETTLED_RETENTION_DAYS: '-1' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
});
