/**
 * A broker outage longer than the consumer group's session timeout: the group forgets the
 * member, and the client's own rejoin fails while the broker is away. The subscription must
 * notice it is out of its group and rejoin once the broker is back, so that it is a member
 * again (not a stream fetching for a member nobody knows), handles what is published, and
 * commits its offsets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBus } from '#platform/bus/open.ts';
import { consumerSettings } from '#platform/bus/kafka/kafka-subscription.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaSkip, uniqueName } from '../infra.ts';
import { waitFor } from '#lab/invariants.ts';
import { startOwnKafka } from '../support/own-kafka.ts';

test('after a broker outage longer than the session timeout the consumer rejoins its group, handles and commits again', { skip: kafkaSkip(), timeout: 180_000 }, async (t) => {
  const broker = await startOwnKafka(t);
  const platform = loadPlatformConfig({ ORDERFLOW_BUS: 'kafka', KAFKA_BROKERS: broker.brokers, ORDERFLOW_PARTITIONS: '1', ORDERFLOW_NAMESPACE: uniqueName('outage').toLowerCase() });
  const bus = await openBus(platform, 'outage-test', silentLogger);
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: 'outage', partitions: 1 }]);
  const seen: string[] = [];
  const sub = await bus.subscribe({ groupId: 'g', topics: ['outage'], handle: async (batch) => void seen.push(...batch.map((r) => r.value)) });
  t.after(() => sub.close());
  const publish = (n: number) => bus.publish([{ topic: 'outage', key: 'k', value: JSON.stringify({ n }), headers: {} }]);

  await publish(1);
  await waitFor('the first record handled and committed', async () => (seen.length === 1 && (await bus.lag('g', ['outage'])) === 0 ? true : undefined), 30_000);
  assert.equal(sub.joined(), true);

  await broker.stop();
  await sleep(consumerSettings.sessionTimeout + 5_000);
  await broker.start();

  await waitFor('a member of the group again', async () => (sub.joined() ? true : undefined), 60_000, 250);
  await publish(2);
  await waitFor('the record published after the outage handled', async () => (seen.includes(JSON.stringify({ n: 2 })) ? true : undefined), 30_000);
  // Committing needs a current generation: a member the group forgot could not.
  await waitFor('its offset committed', async () => ((await bus.lag('g', ['outage']).catch(() => -1)) === 0 ? true : undefined), 30_000, 250);
  await sleep(consumerSettings.sessionTimeout);
  assert.equal(sub.joined(), true, 'still a member a session timeout later');
  assert.equal(await bus.lag('g', ['outage']), 0);
});
