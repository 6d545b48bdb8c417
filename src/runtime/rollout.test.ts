import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { rollOut, rolloutSummary, type RolloutDeps } from './rollout.ts';

const instances = [
  { name: 'gateway', service: 'gateway' },
  { name: 'orders-1', service: 'orders' },
  { name: 'orders-2', service: 'orders' },
  { name: 'inventory-1', service: 'inventory' },
  { name: 'inventory-2', service: 'inventory' },
];

function deps(over: Partial<RolloutDeps> = {}) {
  const done: string[] = [];
  const lines: string[] = [];
  const d: RolloutDeps = {
    instances,
    replace: async (name, { surge }) => {
      done.push(`${surge ? 'surge' : 'restart'} ${name}`);
      return { stopMs: 5, startMs: 10 };
    },
    joined: async (name) => void done.push(`joined ${name}`),
    say: (line) => lines.push(line),
    settleMs: 0,
    ...over,
  };
  return { d, done, lines };
}

test('a rollout restarts the backends one at a time, each joined before the next, and surges the gateway last', async () => {
  const { d, done, lines } = deps();
  const report = await rollOut(d);
  assert.deepEqual(done, [
    'restart orders-1', 'joined orders-1', 'restart orders-2', 'joined orders-2',
    'restart inventory-1', 'joined inventory-1', 'restart inventory-2', 'joined inventory-2',
    'surge gateway', 'joined gateway',
  ]);
  assert.deepEqual(report.steps.map((s) => [s.instance, s.how]), [['orders-1', 'restart'], ['orders-2', 'restart'], ['inventory-1', 'restart'], ['inventory-2', 'restart'], ['gateway', 'surge']]);
  assert.equal(lines.length, 10, 'a line as each step begins and one as it ends');
  assert.match(rolloutSummary(report), /rolled out 5 instances in/);
});

test('a rollout of some services restarts only theirs', async () => {
  const { d, done } = deps({ services: ['inventory'] });
  await rollOut(d);
  assert.deepEqual(done.filter((x) => !x.startsWith('joined')), ['restart inventory-1', 'restart inventory-2']);
});

test('a rollout is refused when a service runs one instance, or a service named is unknown', async () => {
  const { d, done } = deps({ instances: [instances[0], instances[1], instances[3], instances[4]] });
  await assert.rejects(rollOut(d), (err) => isOrderflowError(err, 'PLT_ERR_ROLLOUT_REFUSED') && /orders-1 runs as one instance/.test(err.message));
  assert.deepEqual(done, [], 'nothing restarted');
  await assert.rejects(rollOut(deps({ services: ['ordres'] }).d), (err) => isOrderflowError(err, 'PLT_ERR_ROLLOUT_REFUSED') && /no service named ordres/.test(err.message));
});

test('a step that fails stops the rollout there', async () => {
  const { d, done } = deps({
    replace: async (name) => {
      done.push(name);
      if (name === 'orders-2') throw new Error('orders-2 did not start');
      return { stopMs: 1, startMs: 1 };
    },
  });
  await assert.rejects(rollOut(d), /orders-2 did not start/);
  assert.deepEqual(done.filter((x) => !x.startsWith('joined')), ['orders-1', 'orders-2']);
});

test('a rollout waits between two steps, not after the last', async () => {
  const { d } = deps({ services: ['orders'], settleMs: 150 });
  const t0 = Date.now();
  await rollOut(d);
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 290, `two steps, one wait: ${took} ms`);
});
