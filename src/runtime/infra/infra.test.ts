import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { loadInfraConfig } from './config.ts';
import { kafkaPaths, kafkaPom, kafkaServerProperties } from './kafka.ts';
import { databaseUrl, findPgBin, postgresSettings } from './postgres.ts';
import { connectPaths, connectPom, connectWorkerProperties, DEBEZIUM_VERSION } from './connect.ts';
import { infraCommand } from './cli.ts';
import { portOpen } from './processes.ts';
import { isOrderflowError } from '#platform/errors.ts';

const props = (text: string) => Object.fromEntries(text.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));

test('the Kafka properties put clients on the port and the controller on the next one, on loopback only', () => {
  const p = props(kafkaServerProperties({ port: 19092, logDir: '/cache/kafka/data-19092' }));
  assert.equal(p['listeners'], 'PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
  assert.equal(p['advertised.listeners'], 'PLAINTEXT://127.0.0.1:19092');
  assert.equal(p['controller.quorum.bootstrap.servers'], '127.0.0.1:19093');
  assert.equal(p['controller.listener.names'], 'CONTROLLER');
  assert.equal(p['listener.security.protocol.map'], 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT');
  assert.equal(p['log.dirs'], '/cache/kafka/data-19092');
});

test('--secure adds a SASL_SSL listener on port + 2 with SCRAM and the PKCS12 keystore; brokers still talk plaintext among themselves', () => {
  const secure = { dir: '/s', keystore: '/s/broker.p12', keystorePassword: 'kp', caFile: '/s/broker-cert.pem', username: 'orderflow', password: 'pw' };
  const p = props(kafkaServerProperties({ port: 19092, logDir: '/x', secure }));
  assert.equal(p['listeners'], 'PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,SASL_SSL://127.0.0.1:19094');
  assert.equal(p['advertised.listeners'], 'PLAINTEXT://127.0.0.1:19092,SASL_SSL://127.0.0.1:19094');
  assert.equal(p['listener.security.protocol.map'], 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL');
  assert.equal(p['inter.broker.listener.name'], 'PLAINTEXT');
  assert.equal(p['sasl.enabled.mechanisms'], 'SCRAM-SHA-512');
  assert.match(p['listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config'], /ScramLoginModule required;$/);
  assert.deepEqual([p['ssl.keystore.type'], p['ssl.keystore.location'], p['ssl.keystore.password']], ['PKCS12', '/s/broker.p12', 'kp']);
  assert.doesNotMatch(kafkaServerProperties({ port: 19092, logDir: '/x', secure }), /pw/, 'the SCRAM password is not in the properties');
});

test('the Kafka properties make a single combined node that creates no topic by itself', () => {
  const p = props(kafkaServerProperties({ port: 9092, logDir: '/x' }));
  assert.equal(p['process.roles'], 'broker,controller');
  assert.equal(p['node.id'], '1');
  assert.equal(p['offsets.topic.replication.factor'], '1');
  assert.equal(p['transaction.state.log.replication.factor'], '1');
  assert.equal(p['transaction.state.log.min.isr'], '1');
  assert.equal(p['group.initial.rebalance.delay.ms'], '0');
  assert.equal(p['auto.create.topics.enable'], 'false');
});

test('each Kafka port gets its own storage, since the format records the controller endpoint', () => {
  assert.notEqual(kafkaPaths('/c', 9092).data, kafkaPaths('/c', 19092).data);
  assert.equal(kafkaPaths('/c', 9092).libs, '/c/kafka/libs');
});

test('the Kafka pom asks Maven for the broker, log4j and an slf4j 2 api', () => {
  const pom = kafkaPom();
  for (const artifact of ['kafka_2.13', 'log4j-core', 'log4j-slf4j2-impl', 'slf4j-api']) {
    assert.match(pom, new RegExp(`<artifactId>${artifact}</artifactId>`));
  }
});

test('the PostgreSQL settings listen on loopback and keep durability on', () => {
  const s = postgresSettings({ port: 15432, socketDir: '/cache/postgres/run' });
  assert.match(s, /^listen_addresses = '127\.0\.0\.1'$/m);
  assert.match(s, /^port = 15432$/m);
  assert.match(s, /^unix_socket_directories = '\/cache\/postgres\/run'$/m);
  assert.match(s, /^max_connections = 300$/m);
  assert.match(s, /^shared_buffers = 256MB$/m);
  assert.match(s, /^fsync = on$/m);
  assert.match(s, /^synchronous_commit = on$/m);
  assert.equal(databaseUrl(15432), 'postgres://postgres@127.0.0.1:15432/postgres');
  assert.doesNotMatch(s, /shared_preload_libraries/);
});

test('the PostgreSQL settings preload pg_stat_statements when the package ships it', () => {
  const s = postgresSettings({ port: 15432, socketDir: '/run', statementStats: true });
  assert.match(s, /^shared_preload_libraries = 'pg_stat_statements'$/m);
  assert.match(s, /^pg_stat_statements\.track_utility = on$/m);
});

test('the PostgreSQL WAL level is replica unless logical is asked for (Debezium)', () => {
  assert.match(postgresSettings({ port: 1, socketDir: '/s' }), /^wal_level = replica$/m);
  assert.match(postgresSettings({ port: 1, socketDir: '/s', walLevel: 'logical' }), /^wal_level = logical$/m);
  assert.equal(loadInfraConfig({ ORDERFLOW_PG_WAL_LEVEL: 'logical' }).pgWalLevel, 'logical');
  assert.throws(() => loadInfraConfig({ ORDERFLOW_PG_WAL_LEVEL: 'minimal' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
});

test('the Connect worker listens on loopback and passes keys, values and headers through as strings', () => {
  const p = props(connectWorkerProperties({ port: 18083, kafkaBrokers: '127.0.0.1:9092', offsets: '/c/connect/offsets-18083.dat' }));
  assert.equal(p['listeners'], 'http://127.0.0.1:18083');
  assert.equal(p['bootstrap.servers'], '127.0.0.1:9092');
  assert.equal(p['key.converter'], 'org.apache.kafka.connect.storage.StringConverter');
  assert.equal(p['value.converter'], 'org.apache.kafka.connect.storage.StringConverter');
  assert.equal(p['offset.storage.file.filename'], '/c/connect/offsets-18083.dat');
  assert.equal(connectPaths('/c', 18083).libs, '/c/connect/libs');
  const pom = connectPom();
  assert.match(pom, /<artifactId>connect-runtime<\/artifactId><version>4\.1\.1<\/version>/);
  assert.match(pom, new RegExp(`<artifactId>debezium-connector-postgres</artifactId><version>${DEBEZIUM_VERSION}</version>`));
  assert.match(pom, /<artifactId>connect-file<\/artifactId><version>4\.1\.1<\/version>/, 'the file sink, for the event archive');
  assert.ok(!p['plugin.path'], 'no plugin folder unless the JDBC sink is asked for');
  assert.match(connectWorkerProperties({ port: 18083, kafkaBrokers: '127.0.0.1:9092', offsets: '/o', pluginPath: '/c/connect/plugins' }), /^plugin\.path=\/c\/connect\/plugins$/m);
});

test('the newest installed PostgreSQL is chosen', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pgbin-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const v of ['9', '15', '13']) {
    mkdirSync(join(root, v, 'bin'), { recursive: true });
    writeFileSync(join(root, v, 'bin', 'initdb'), '');
  }
  mkdirSync(join(root, '17', 'bin'), { recursive: true });
  assert.equal(findPgBin(root), join(root, '15', 'bin'));
  assert.equal(findPgBin(join(root, 'missing')), undefined);
});

test('the config defaults to the standard ports and a cache in the repo', () => {
  const c = loadInfraConfig({});
  assert.equal(c.kafkaPort, 9092);
  assert.equal(c.pgPort, 5432);
  assert.match(c.dir, /\.infra$/);
  const o = loadInfraConfig({ ORDERFLOW_INFRA_DIR: '/tmp/x', ORDERFLOW_KAFKA_PORT: '19092', ORDERFLOW_PG_PORT: '15432' });
  assert.deepEqual({ dir: o.dir, kafkaPort: o.kafkaPort, pgPort: o.pgPort }, { dir: '/tmp/x', kafkaPort: 19092, pgPort: 15432 });
  assert.equal(o.kafkaBrokers, '127.0.0.1:19092');
  assert.equal(c.connectPort, 18083);
});

test('the config refuses a port that is not a number', () => {
  assert.throws(() => loadInfraConfig({ ORDERFLOW_PG_PORT: 'five' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
  assert.throws(() => loadInfraConfig({ ORDERFLOW_KAFKA_PORT: '65535' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
});

test('the infra command shows its usage and exits 2 on a wrong word', async () => {
  const said: string[] = [];
  const io = { say: (l: string) => void said.push(l), emit: () => assert.fail('nothing goes to stdout') };
  assert.equal(await infraCommand(['redis'], io), 2);
  assert.equal(await infraCommand(['kafka', 'restart'], io), 2);
  assert.equal(await infraCommand(['connect', 'restart'], io), 2);
  assert.equal(await infraCommand(['zipkin', 'restart'], io), 2);
  assert.equal(await infraCommand(['prometheus', 'start', 'now'], io), 2);
  assert.equal(await infraCommand(['mailpit', 'restart'], io), 2);
  assert.equal(await infraCommand(['kafka', 'start', '--jdbc-sink'], io), 2);
  assert.equal(await infraCommand(['connect', 'stop', '--jdbc-sink'], io), 2);
  assert.equal(await infraCommand([], io), 2);
  assert.equal(await infraCommand(['kafka', 'install'], io), 2);
  assert.equal(await infraCommand(['schemathesis', 'start'], io), 2);
  assert.equal(await infraCommand(['schemathesis', 'install', 'now'], io), 2);
  assert.match(said.join('\n'), /usage: orderflow infra <kafka\|postgres\|connect\|zipkin\|prometheus\|mailpit\|all>/);
  assert.match(said.join('\n'), /orderflow infra schemathesis \[install\|status\]/);
});

test('a listening port is seen as open and a closed one is not', async (t) => {
  const server = createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  t.after(() => server.close());
  assert.equal(await portOpen(port), true);
  server.close();
  await once(server, 'close');
  assert.equal(await portOpen(port), false);
});
