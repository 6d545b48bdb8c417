/**
 * Issue 12's leader kill: a Kafka cluster of three KRaft nodes of the test's own (replication
 * factor 3, min.insync.replicas 2, the producers idempotent with acks=all), the system on it
 * with PostgreSQL, orders placed at a steady rate through the gateway, and the leader of the
 * busiest partition of the orders' topics killed with SIGKILL under that load. Nothing
 * accepted may be lost or applied twice, stock and payments must add up, orders through
 * the killed leader's partition must flow again (the time is printed), and the node, started
 * again, must rejoin the in-sync replicas. The shared KAFKA_BROKERS is never touched: it only
 * says that Kafka is wanted here (and its jars cached).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runChaos } from '#lab/chaos-run.ts';
import { defaultVictims } from '#lab/chaos-kills.ts';
import { formatChaos } from '#lab/chaos.ts';
import { infraDir } from '#runtime/infra/config.ts';
import { kafkaSkip, postgresSkip } from '../infra.ts';

describe('the leader kill on a three-node Kafka cluster', { skip: kafkaSkip() ?? postgresSkip() }, () => {
  test('the busiest partition\'s leader killed under load: nothing lost or applied twice, orders flow again, the node rejoins', { timeout: 300_000 }, async (t) => {
    const r = await runChaos('events', {
      kills: 0,
      rate: 15,
      seed: 12,
      gap: [1, 1],
      services: defaultVictims,
      replicas: 1,
      postgres: { url: process.env.DATABASE_URL ?? '' },
      // Six seconds of orders first, so that the busiest partition is one the load chose.
      leaderKill: { atSeconds: 6, cacheDir: infraDir() },
      tailSeconds: 2,
      drainSeconds: 120,
      say: (line) => t.diagnostic(line),
    });
    for (const line of formatChaos(r).split('\n')) t.diagnostic(line);
    const k = r.leaderKill;
    assert.ok(k, 'a leader was killed');
    assert.equal(k.replicas.length, 3, `three copies of ${k.topic}[${k.partition}]: ${k.replicas}`);
    assert.equal(k.isr.length, 3, `all three in sync before the kill: ${k.isr}`);
    assert.ok(k.records > 0, 'the killed leader\'s partition carried orders');
    assert.notEqual(k.recoverySeconds, null, 'orders through the killed leader\'s partition flowed again');
    // Measured on the 2-core box: 8 to 21 s (the 6 s broker session, then new leaders, then the clients' retries).
    assert.ok(k.recoverySeconds! < 60, `recovered in ${k.recoverySeconds} s`);
    assert.notEqual(k.rejoinSeconds, null, 'the killed node, started again, is back in sync on every partition it holds');
    t.diagnostic(`leader kill: recovery ${k.recoverySeconds} s, rejoin ${k.rejoinSeconds} s`);
    assert.ok(r.accepted > 50, `a steady load ran through the kill (${r.accepted} accepted)`);
    assert.deepEqual(r.lost, [], 'no accepted order lost');
    assert.deepEqual(r.duplicated, [], 'no order made twice');
    assert.deepEqual(r.violations, [], 'stock, payments and shipments add up');
    assert.equal(r.notAccepted, 0, 'every order was accepted in the end');
    assert.deepEqual(Object.keys(r.errors).filter((e) => e.startsWith('http-500')), [], 'a broker away is never a 500');
  });
});
