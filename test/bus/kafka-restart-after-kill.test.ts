/**
 * A broker killed (SIGKILL) and started again on its data dir: what the lone dev and CI
 * broker goes through after a crash, and what the leader kill does to a node of a cluster.
 * The restart must wait out the dead broker's registration (DUPLICATE_BROKER_REGISTRATION
 * until its session times out) and come back with every acknowledged record, not fail.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBus } from '#platform/bus/open.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaSkip, uniqueName } from '../infra.ts';
import { startOwnKafka } from '../support/own-kafka.ts';

test('a broker killed with SIGKILL starts again on its data dir, with what it acknowledged', { skip: kafkaSkip(), timeout: 180_000 }, async (t) => {
  const broker = await startOwnKafka(t);
  const platform = loadPlatformConfig({ ORDERFLOW_BUS: 'kafka', KAFKA_BROKERS: broker.brokers, ORDERFLOW_PARTITIONS: '1', ORDERFLOW_NAMESPACE: uniqueName('rekill').toLowerCase() });
  const bus = await openBus(platform, 'restart-after-kill-test', silentLogger);
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: 'kept', partitions: 1 }]);
  await bus.publish([{ topic: 'kept', key: 'k', value: 'acknowledged before the kill', headers: {} }]);

  const before = broker.pid();
  await broker.kill();
  const started = performance.now();
  await broker.start();
  const took = (performance.now() - started) / 1000;
  assert.notEqual(broker.pid(), before);
  assert.ok(took < 120, `the restart took ${took.toFixed(1)} s`);

  const page = await bus.readPartition('kept', 0, { from: 0, limit: 10 });
  assert.deepEqual(page.records.map((r) => r.value), ['acknowledged before the kill']);
  // The controller restored the killed broker's registration with a live session and refused
  // the new one until it timed out: what was waited for is said, not left to a timeout.
  assert.match(broker.said.join('\n'), /registration is still in the metadata log.*session times out/);
  t.diagnostic(`restart after SIGKILL: ${took.toFixed(1)} s`);
});
