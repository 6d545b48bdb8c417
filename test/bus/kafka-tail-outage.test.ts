/**
 * Bus.tail on Kafka through a broker outage: its fetches fail while the broker is away, it
 * keeps asking (leaders, offsets) with a growing pause, and once the broker is back it reads
 * on from where it was: what was published after the outage arrives, and nothing twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBus } from '#platform/bus/open.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { waitFor } from '#lab/invariants.ts';
import { kafkaSkip, uniqueName } from '../infra.ts';
import { startOwnKafka } from '../support/own-kafka.ts';

test('a tail of Kafka reads on after a broker outage, each record once', { skip: kafkaSkip(), timeout: 180_000 }, async (t) => {
  const broker = await startOwnKafka(t);
  const platform = loadPlatformConfig({ ORDERFLOW_BUS: 'kafka', KAFKA_BROKERS: broker.brokers, ORDERFLOW_NAMESPACE: uniqueName('tailout').toLowerCase() });
  const bus = await openBus(platform, 'tail-outage-test', silentLogger);
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: 'watched', partitions: 2 }]);
  const seen: string[] = [];
  const tail = await bus.tail(['watched'], (records) => void seen.push(...records.map((r) => r.value)));
  t.after(() => tail.close());
  const publish = (values: string[]) => bus.publish(values.map((value, i) => ({ topic: 'watched', key: `k${i}`, value, headers: {} })));

  await publish(['a1', 'a2']);
  await waitFor('the first records', async () => (seen.length === 2 ? true : undefined), 20_000);

  await broker.stop();
  await sleep(4_000);
  await broker.start();

  await waitFor('a publish after the outage', async () => publish(['b1', 'b2']).then(() => true, () => undefined), 60_000, 500);
  const published = Date.now();
  await waitFor('the records published after the outage', async () => (seen.includes('b1') && seen.includes('b2') ? true : undefined), 60_000, 100);
  const lateMs = Date.now() - published;
  t.diagnostic(`read ${lateMs} ms after their publish`);
  // Not after the pause the outage grew: the broker back is asked again at once.
  assert.ok(lateMs < 10_000, `read ${lateMs} ms after their publish`);
  await sleep(1_000);
  assert.deepEqual([...seen].sort(), ['a1', 'a2', 'b1', 'b2']);
});
