import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runKills, type KillTarget } from './chaos-kills.ts';
import { backoffMs, planOrder, retryable } from './chaos-load.ts';
import type { ChaosResult } from './chaos-run.ts';
import { formatChaos, parseChaosArgs, passed } from './chaos.ts';
import { random } from './scenario.ts';

describe('chaos options', () => {
  test('by default 30 kills of the four backends under the events architecture on the embedded deployment', () => {
    const o = parseChaosArgs([], {})!;
    assert.equal(o.kills, 30);
    assert.deepEqual(o.archs, ['events']);
    assert.deepEqual(o.services, ['orders', 'inventory', 'payments', 'shipping']);
    assert.deepEqual(o.gap, [0.5, 2.5]);
    assert.equal(o.rate, 30);
    assert.equal(o.replicas, 1);
    assert.equal(o.kafka, undefined);
    assert.equal(o.postgres, undefined);
  });

  test('--distributed takes Kafka and PostgreSQL from the environment; a list of architectures runs each', () => {
    const o = parseChaosArgs(['--distributed', '--arch', 'events,rest', '--kills', '15', '--gap', '1', '--services', 'orders,gateway'], { KAFKA_BROKERS: 'k:9092', DATABASE_URL: 'postgres://p/db' })!;
    assert.deepEqual(o.kafka, { brokers: 'k:9092' });
    assert.deepEqual(o.postgres, { url: 'postgres://p/db' });
    assert.deepEqual(o.archs, ['events', 'rest']);
    assert.equal(o.kills, 15);
    assert.deepEqual(o.gap, [1, 1]);
    assert.deepEqual(o.services, ['orders', 'gateway']);
  });

  test('bad values are refused with a coded error; --help returns nothing to run', () => {
    for (const args of [['--kills', 'many'], ['--kills', '2.5'], ['--kills', ''], ['--arch', 'soap'], ['--rate', '0'], ['--gap', '3,1'], ['--gap', '1,2,3'], ['--services', 'billing'], ['--seed=-1'], ['--seed', '1.5'], ['--replicas', '0'], ['--drain', '0']]) {
      assert.throws(() => parseChaosArgs(args, {}), { code: 'PLT_ERR_CONFIG' }, args.join(' '));
    }
    assert.throws(() => parseChaosArgs(['--bogus'], {}), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
    assert.equal(parseChaosArgs(['--help'], {}), null);
  });

  test('infra restarts need --distributed, and take a server of the run\'s own from the infra cache', () => {
    assert.throws(() => parseChaosArgs(['--restart-postgres'], {}), { code: 'PLT_ERR_CONFIG', message: /--distributed/ });
    const o = parseChaosArgs(['--distributed', '--restart-broker', '--infra-down', '3'], { ORDERFLOW_INFRA_DIR: '/cache' })!;
    assert.deepEqual(o.infraRestarts, { broker: true, postgres: false, downSeconds: 3, cacheDir: '/cache' });
    assert.equal(parseChaosArgs(['--distributed'], {})!.infraRestarts, undefined);
  });

  test('--kill-leader needs --distributed, brings its own cluster (so not with --restart-broker), and kills at --leader-at', () => {
    assert.throws(() => parseChaosArgs(['--kill-leader'], {}), { code: 'PLT_ERR_CONFIG', message: /--distributed/ });
    assert.throws(() => parseChaosArgs(['--distributed', '--kill-leader', '--restart-broker'], {}), { code: 'PLT_ERR_CONFIG', message: /one at a time/ });
    assert.throws(() => parseChaosArgs(['--distributed', '--kill-leader', '--leader-at', 'soon'], {}), { code: 'PLT_ERR_CONFIG' });
    assert.deepEqual(parseChaosArgs(['--distributed', '--kill-leader'], { ORDERFLOW_INFRA_DIR: '/cache' })!.leaderKill, { atSeconds: 10, cacheDir: '/cache' });
    assert.deepEqual(parseChaosArgs(['--distributed', '--kill-leader', '--leader-at', '4'], { ORDERFLOW_INFRA_DIR: '/cache' })!.leaderKill, { atSeconds: 4, cacheDir: '/cache' });
    assert.equal(parseChaosArgs(['--distributed'], {})!.leaderKill, undefined);
  });

  test('--replicas takes a positive number of instances', () => {
    assert.equal(parseChaosArgs(['--replicas', '2'], {})?.replicas, 2);
    assert.throws(() => parseChaosArgs(['--replicas', '0'], {}), { code: 'PLT_ERR_CONFIG', message: /replicas/ });
  });
});

describe('chaos load', () => {
  test('retries what a restart explains, not a refusal', () => {
    assert.equal(retryable(0, undefined), true);
    assert.equal(retryable(503, { error: { code: 'PLT_ERR_DEPENDENCY_UNAVAILABLE' } }), true);
    assert.equal(retryable(504, {}), true);
    assert.equal(retryable(422, { error: { code: 'ORD_ERR_UNKNOWN_PRODUCT' } }), true);
    assert.equal(retryable(422, { error: { code: 'ORD_ERR_IDEMPOTENCY_KEY_REUSED' } }), false);
    assert.equal(retryable(400, { error: { code: 'PLT_ERR_VALIDATION' } }), false);
    assert.deepEqual([1, 2, 3, 4, 5, 9].map(backoffMs), [100, 200, 400, 800, 1000, 1000]);
  });

  test('the same seed plans the same orders, with declined cards and unserved countries mixed in', () => {
    const mix = { productIds: ['a', 'b', 'c'], declineRatio: 0.3, unservedRatio: 0.3 };
    const plan = (seed: number) => { const rnd = random(seed); return Array.from({ length: 200 }, (_, i) => planOrder(rnd, mix, i).body); };
    assert.deepEqual(plan(7), plan(7));
    assert.notDeepEqual(plan(7), plan(8));
    const orders = plan(7);
    assert.ok(orders.some((o) => o.paymentMethod === 'card-declined') && orders.some((o) => o.paymentMethod === 'card'));
    assert.ok(orders.some((o) => o.shippingAddress.country === 'XX') && orders.some((o) => o.shippingAddress.country === 'DE'));
    assert.ok(orders.every((o) => o.items.length >= 1 && o.items.every((i) => i.quantity >= 1)));
  });
});

describe('chaos kills', () => {
  /** Targets whose processes die when killed and come back (a new pid) when `restart` is called. */
  function targets(names: string[]) {
    let nextPid = 100;
    const pids = new Map(names.map((n) => [n, nextPid++ as number | undefined]));
    const list: KillTarget[] = names.map((name) => ({ name, service: 'orders', pid: () => pids.get(name), kill: () => pids.set(name, undefined) }));
    return { list, restart: (name: string) => pids.set(name, nextPid++), down: () => names.filter((n) => pids.get(n) === undefined) };
  }

  test('kills the asked number of running instances, never one already down', async () => {
    const t = targets(['a', 'b', 'c']);
    const kills = await runKills({ targets: t.list, count: 3, gap: [0, 0], rnd: random(3) });
    assert.equal(kills.length, 3);
    assert.deepEqual(new Set(kills.map((k) => k.name)), new Set(['a', 'b', 'c']));
    assert.deepEqual(t.down().sort(), ['a', 'b', 'c']);
  });

  test('with every instance down, the next kill waits for one to be back', async () => {
    const t = targets(['a']);
    setTimeout(() => t.restart('a'), 200);
    const started = performance.now();
    const kills = await runKills({ targets: t.list, count: 2, gap: [0, 0], rnd: random(3) });
    assert.deepEqual(kills.map((k) => [k.name, k.pid]), [['a', 100], ['a', 101]]);
    assert.ok(performance.now() - started >= 150);
  });

  test('with replicas, a service\'s last running instance is spared, and its sibling only after a pause', async () => {
    let nextPid = 100;
    const pids = new Map<string, number | undefined>([['orders-1', nextPid++], ['orders-2', nextPid++], ['payments-1', nextPid++], ['payments-2', nextPid++]]);
    const list: KillTarget[] = [...pids.keys()].map((name) => ({
      name, service: name.startsWith('orders') ? 'orders' : 'payments',
      pid: () => pids.get(name),
      // The supervisor restarts a killed instance at once (a new pid).
      kill: () => { pids.set(name, undefined); setTimeout(() => pids.set(name, nextPid++), 20); },
    }));
    const downAtOnce: string[][] = [];
    const kills = await runKills({
      targets: list, count: 6, gap: [0, 0], rnd: random(5), spareMs: 100,
      onKill: () => downAtOnce.push([...pids].filter(([, pid]) => pid === undefined).map(([n]) => n)),
    });
    assert.equal(kills.length, 6);
    for (const down of downAtOnce) {
      assert.ok(!(down.includes('orders-1') && down.includes('orders-2')), `both orders instances down: ${down}`);
      assert.ok(!(down.includes('payments-1') && down.includes('payments-2')), `both payments instances down: ${down}`);
    }
    const byService = (s: string) => kills.filter((k) => k.name.startsWith(s)).map((k) => k.t * 1000);
    for (const times of [byService('orders'), byService('payments')]) {
      for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 90, `kills of one service ${times[i] - times[i - 1]} ms apart`);
    }
  });

  test('with replicas, an instance is not killed while its sibling runs but does not serve yet', async () => {
    const list: KillTarget[] = [
      { name: 'orders-1', service: 'orders', pid: () => 1, kill: () => {}, ready: async () => false },
      { name: 'orders-2', service: 'orders', pid: () => 2, kill: () => {}, ready: async () => true },
    ];
    // rnd 0.99 picks the last eligible: orders-2 if it were, but its sibling does not serve.
    const [kill] = await runKills({ targets: list, count: 1, gap: [0, 0], rnd: () => 0.99, spareMs: 1 });
    assert.equal(kill.name, 'orders-1', 'orders-2 is the only one serving: it is spared');
  });

  test('gives up with a coded error when nothing comes back', async () => {
    const t = targets(['a']);
    await assert.rejects(runKills({ targets: t.list, count: 2, gap: [0, 0], rnd: random(3), upTimeoutMs: 200 }), { code: 'PLT_ERR_CHAOS_NO_TARGET' });
  });
});

describe('chaos report', () => {
  const base: ChaosResult = {
    arch: 'events', deployment: 'embedded', seed: 1, rate: 30, kills: [{ t: 1, name: 'orders', pid: 1 }, { t: 2, name: 'payments', pid: 2 }],
    attempted: 100, accepted: 100, acceptedFirstAttempt: 90, retries: 12, errors: { 'http-503 PLT_ERR_DEPENDENCY_UNAVAILABLE': 12 },
    firstAttemptShare: 0.9, acceptedLate: 0, notAccepted: 0, outcomes: { CONFIRMED: 80, 'CANCELLED PAYMENT_DECLINED': 20 },
    lost: [], duplicated: [], violations: [], infraRestarts: [], drainSeconds: 1.5, loadSeconds: 5, durationSeconds: 20,
  };

  test('a run passes only with nothing lost, duplicated or violated, and the counts are printed', () => {
    assert.equal(passed(base), true);
    assert.equal(passed({ ...base, lost: ['x'] }), false);
    assert.equal(passed({ ...base, duplicated: ['x'] }), false);
    assert.equal(passed({ ...base, violations: ['x'] }), false);
    const text = formatChaos({ ...base, violations: ['product P: oversold (-1)'], drainSeconds: null });
    assert.match(text, /FAILED/);
    assert.match(text, /kills +2 \(orders 1, payments 1\)/);
    assert.match(text, /90\.0 % accepted at the first attempt/);
    assert.match(text, /violations +1\n/);
    assert.match(text, /product P: oversold/);
    assert.match(text, /drain +never/);
  });

  test('a leader kill passes only when orders through its partition flowed again, and both times are printed', () => {
    const leaderKill = { topic: 'orders.events', partition: 4, leader: 3, replicas: [3, 1, 2], isr: [3, 1, 2], records: 32, recoverySeconds: 7.9, rejoinSeconds: 41.9 };
    assert.equal(passed({ ...base, leaderKill }), true);
    assert.equal(passed({ ...base, leaderKill: { ...leaderKill, recoverySeconds: null } }), false);
    assert.match(formatChaos({ ...base, leaderKill }), /leader kill node 3, leader of orders\.events\[4\]: orders through it flow again 7\.9 s after the kill; back in sync 41\.9 s after its restart/);
  });
});
