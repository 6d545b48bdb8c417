import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brokersArg, infraCommand } from './cli.ts';
import { clusterNodeProperties, clusterPaths, kafkaClusterInfra, SESSION_MS } from './kafka-cluster.ts';

const props = (text: string) => Object.fromEntries(text.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));

test('three nodes take two ports each from the first, their own data dir, and one static quorum of all three', () => {
  const c = clusterPaths('/cache', 19092, 3);
  assert.deepEqual(c.nodes.map((n) => [n.id, n.port, n.controllerPort]), [[1, 19092, 19093], [2, 19094, 19095], [3, 19096, 19097]]);
  assert.equal(new Set(c.nodes.map((n) => n.data)).size, 3);
  assert.equal(c.libs, '/cache/kafka/libs', 'the jars are the single broker\'s');
  const p = props(clusterNodeProperties(c.nodes[1], c.nodes));
  assert.equal(p['node.id'], '2');
  assert.equal(p['process.roles'], 'broker,controller');
  assert.equal(p['listeners'], 'PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095');
  assert.equal(p['advertised.listeners'], 'PLAINTEXT://127.0.0.1:19094');
  assert.equal(p['controller.quorum.voters'], '1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097');
  assert.equal(p['log.dirs'], c.nodes[1].data);
});

test('on three nodes every topic, the internal ones too, keeps three copies and acknowledges on two', () => {
  const c = clusterPaths('/cache', 19092, 3);
  const p = props(clusterNodeProperties(c.nodes[0], c.nodes));
  for (const key of ['default.replication.factor', 'offsets.topic.replication.factor', 'transaction.state.log.replication.factor', 'share.coordinator.state.topic.replication.factor']) assert.equal(p[key], '3', key);
  for (const key of ['min.insync.replicas', 'transaction.state.log.min.isr', 'share.coordinator.state.topic.min.isr']) assert.equal(p[key], '2', key);
  assert.equal(p['unclean.leader.election.enable'], 'false');
  assert.equal(p['broker.session.timeout.ms'], String(SESSION_MS));
  assert.equal(p['auto.create.topics.enable'], 'false');
  const two = clusterPaths('/cache', 19092, 2);
  const q = props(clusterNodeProperties(two.nodes[0], two.nodes));
  assert.deepEqual([q['default.replication.factor'], q['min.insync.replicas']], ['2', '1']);
});

test('--brokers takes 1 to 9, as a separate word or with =; without it one broker, as before', () => {
  assert.deepEqual(brokersArg(['kafka', 'start']), { brokers: 1, args: ['kafka', 'start'] });
  assert.deepEqual(brokersArg(['kafka', '--brokers', '3']), { brokers: 3, args: ['kafka'] });
  assert.deepEqual(brokersArg(['kafka', 'stop', '--brokers=3']), { brokers: 3, args: ['kafka', 'stop'] });
  for (const bad of [['--brokers'], ['--brokers', '0'], ['--brokers', '10'], ['--brokers', 'three'], ['--brokers=2.5']]) assert.equal(brokersArg(['kafka', ...bad]), undefined, bad.join(' '));
});

test('the infra command refuses --brokers with --secure or for a service that is not Kafka', async () => {
  const lines: string[] = [];
  const io = { say: (l: string) => lines.push(l), emit: (l: string) => lines.push(l) };
  assert.equal(await infraCommand(['kafka', 'start', '--brokers', '3', '--secure'], io), 2);
  assert.equal(await infraCommand(['postgres', 'start', '--brokers', '3'], io), 2);
  assert.equal(await infraCommand(['kafka', '--brokers', 'x'], io), 2);
  assert.match(lines.join('\n'), /--brokers N/);
  await assert.rejects(kafkaClusterInfra('status', { dir: '/nowhere', port: 19092, brokers: 1 }), { code: 'PLT_ERR_INFRA' });
});

test('a group\'s coordinator partition is Kafka\'s (Java hashCode, abs, modulo 50), and the probe groups reach all 50', async () => {
  const { offsetsPartitionOf, probeGroups } = await import('./kafka-groups.ts');
  // "a".hashCode() is 97; "polygenelubricants".hashCode() is Integer.MIN_VALUE, which Kafka's abs makes 0.
  assert.equal(offsetsPartitionOf('a'), 47);
  assert.equal(offsetsPartitionOf('polygenelubricants'), 0);
  assert.equal(new Set(probeGroups.map(offsetsPartitionOf)).size, 50);
});
