/**
 * Issue 12's zero-downtime rollout, as `orderflow lab rollout` measures it: every instance
 * restarted one by one (the gateway too) under a fixed-rate load of orders and reads that is
 * never retried, and not one request failed, no order lost or made twice, every invariant
 * holding. On the embedded default every instance; on Kafka + PostgreSQL, where an instance
 * takes several seconds to start and its consumers to join, the saga's services and the
 * gateway (the whole system takes over three minutes there: `orderflow lab rollout --distributed`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatRolloutLab, runRolloutLab, type RolloutLabOptions } from '#lab/rollout-lab.ts';
import { kafkaSkip, postgresSkip } from '../infra.ts';

const common: Omit<RolloutLabOptions, 'say'> = { arch: 'events', rate: 20, beforeSeconds: 3, afterSeconds: 2, replicas: 2, drainSeconds: 120 };

const deployments = [
  { name: 'embedded', skip: undefined, infra: {}, services: undefined, instances: 19 },
  {
    name: 'distributed',
    skip: kafkaSkip() ?? postgresSkip(),
    infra: { kafka: { brokers: process.env.KAFKA_BROKERS ?? '' }, postgres: { url: process.env.DATABASE_URL ?? '' } },
    services: ['orders', 'inventory', 'payments', 'shipping', 'gateway'],
    instances: 9,
  },
];

for (const d of deployments) {
  describe(`rollout on the ${d.name} deployment`, { skip: d.skip }, () => {
    test('every instance restarted one by one under load: no request failed, no order lost or made twice', async (t) => {
      const r = await runRolloutLab({ ...common, ...d.infra, services: d.services, say: (line) => t.diagnostic(line) });
      for (const line of formatRolloutLab(r).split('\n')) t.diagnostic(line);
      assert.equal(r.rollout.steps.length, d.instances, 'two instances of each service rolled out, and the gateway');
      assert.deepEqual(r.rollout.steps.map((s) => s.instance).slice(-1), ['gateway']);
      assert.ok(r.latency.during.count > 100, `the load ran through the rollout (${r.latency.during.count} requests during it)`);
      assert.deepEqual(r.requests.firstFailures, [], 'no request failed');
      assert.equal(r.requests.failed, 0);
      assert.ok(r.orders.accepted > 50, `${r.orders.accepted} orders accepted`);
      assert.deepEqual(r.orders.lost, [], 'no accepted order lost');
      assert.deepEqual(r.orders.duplicated, [], 'no order made twice');
      assert.deepEqual(r.orders.violations, [], 'every invariant holds');
    });
  });
}
