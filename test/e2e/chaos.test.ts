/**
 * `orderflow chaos` as CI runs it: 30 kills on the embedded default, 15 on Kafka +
 * PostgreSQL, each under a steady mixed load, and nothing lost, nothing twice, every
 * invariant holding. The command's own function runs here; its printed counts go to the
 * test's diagnostics.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runChaos, type ChaosRunOptions } from '#lab/chaos-run.ts';
import { defaultVictims } from '#lab/chaos-kills.ts';
import { formatChaos } from '#lab/chaos.ts';
import { infraDir } from '#runtime/infra/config.ts';
import { kafkaSkip, postgresSkip } from '../infra.ts';

const common: Omit<ChaosRunOptions, 'kills' | 'say'> = {
  rate: 30,
  seed: 16,
  // Closer than the command's default (0.5–2.5 s): the same number of kills in less CI time.
  gap: [0.3, 1.7],
  services: defaultVictims,
  replicas: 1,
  tailSeconds: 2,
  drainSeconds: 120,
};

const deployments = [
  { name: 'embedded', kills: 30, skip: undefined, infra: {} },
  {
    name: 'distributed',
    kills: 15,
    skip: kafkaSkip() ?? postgresSkip(),
    infra: { kafka: { brokers: process.env.KAFKA_BROKERS ?? '' }, postgres: { url: process.env.DATABASE_URL ?? '' } },
  },
];

for (const d of deployments) {
  describe(`chaos on the ${d.name} deployment`, { skip: d.skip }, () => {
    test(`${d.kills} random kills under load lose nothing, duplicate nothing and break no invariant`, async (t) => {
      const r = await runChaos('events', { ...common, ...d.infra, kills: d.kills, say: (line) => t.diagnostic(line) });
      for (const line of formatChaos(r).split('\n')) t.diagnostic(line);
      assert.equal(r.kills.length, d.kills, 'every kill was done');
      assert.ok(new Set(r.kills.map((k) => k.name)).size >= 3, 'kills spread over the services');
      assert.ok(r.accepted > r.kills.length * 10, `a steady load ran through the kills (${r.accepted} accepted)`);
      assert.deepEqual(r.lost, [], 'no accepted order lost');
      assert.deepEqual(r.duplicated, [], 'no order made twice');
      assert.deepEqual(r.violations, [], 'every invariant holds');
      assert.equal(r.notAccepted, 0, 'every order was accepted in the end');
      assert.notEqual(r.drainSeconds, null);
    });
  });
}

// A PostgreSQL server of the run's own (never the shared DATABASE_URL), stopped for 5 s under
// load. A broker restart is left to the command (orderflow chaos --distributed --restart-broker):
// a broker of its own takes half a minute to start here, too long for every CI run.
describe('chaos with a PostgreSQL restart', { skip: kafkaSkip() ?? postgresSkip() }, () => {
  test('PostgreSQL restarted under load: nothing lost, the backlog drained, every invariant holds', async (t) => {
    const r = await runChaos('events', {
      ...common,
      kills: 3,
      kafka: { brokers: process.env.KAFKA_BROKERS ?? '' },
      infraRestarts: { broker: false, postgres: true, downSeconds: 5, cacheDir: infraDir() },
      say: (line) => t.diagnostic(line),
    });
    for (const line of formatChaos(r).split('\n')) t.diagnostic(line);
    assert.equal(r.infraRestarts.length, 1);
    const [restart] = r.infraRestarts;
    assert.equal(restart.what, 'postgres');
    assert.ok(restart.downSeconds >= 5, `down ${restart.downSeconds} s`);
    assert.ok(restart.backlog > 0, 'orders were waiting when it came back');
    assert.notEqual(restart.backlogSeconds, null, 'its backlog drained');
    assert.deepEqual(r.lost, []);
    assert.deepEqual(r.duplicated, []);
    assert.deepEqual(r.violations, []);
    assert.equal(r.notAccepted, 0);
    // A database away answers 503 (retried), never a 500.
    assert.deepEqual(Object.keys(r.errors).filter((k) => k.startsWith('http-500')), []);
  });
});
