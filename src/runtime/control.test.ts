import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { RolloutRefused } from './rollout.ts';
import { controlSocketPath, requestRollout, startControlServer, type Controlled } from './control.ts';

function dir(t: TestContext): string {
  const d = mkdtempSync(join(tmpdir(), 'of-ctl-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const system = (rollout: Controlled['rollout']): Controlled => ({ instances: () => [], rollout });

test('orderflow rollout reaches the system through the socket in its data dir and hears each step', async (t) => {
  const d = dir(t);
  let asked: readonly string[] | undefined;
  const server = await startControlServer(d, system(async ({ log, services }) => {
    asked = services;
    log('step one');
    log('step two');
    return { steps: [], durationMs: 42 };
  }));
  t.after(() => server.close());
  assert.equal(statSync(server.path).mode & 0o777, 0o600, 'only its owner may reach it');
  const lines: string[] = [];
  const report = await requestRollout(d, (line) => lines.push(line), ['orders', 'gateway']);
  assert.deepEqual(lines, ['step one', 'step two']);
  assert.equal(report.durationMs, 42);
  assert.deepEqual(asked, ['orders', 'gateway']);
});

test('a refused rollout comes back with its code', async (t) => {
  const d = dir(t);
  const server = await startControlServer(d, system(async () => {
    throw RolloutRefused('orders-1 runs as one instance');
  }));
  t.after(() => server.close());
  await assert.rejects(requestRollout(d, () => {}), (err) => isOrderflowError(err, 'PLT_ERR_ROLLOUT_REFUSED') && /one instance/.test(err.message));
});

test('with no system running in the data dir, a clear error; a socket left by a killed up is replaced', async (t) => {
  const d = dir(t);
  await assert.rejects(requestRollout(d, () => {}), (err) => isOrderflowError(err, 'PLT_ERR_NO_SYSTEM_RUNNING') && /no orderflow up runs with data dir/.test(err.message));
  writeFileSync(controlSocketPath(d), '');
  await assert.rejects(requestRollout(d, () => {}), (err) => isOrderflowError(err, 'PLT_ERR_NO_SYSTEM_RUNNING'));
  const server = await startControlServer(d, system(async () => ({ steps: [], durationMs: 1 })));
  t.after(() => server.close());
  assert.equal((await requestRollout(d, () => {})).durationMs, 1);
  await assert.rejects(startControlServer(d, system(async () => ({ steps: [], durationMs: 1 }))), /another orderflow up runs with this data dir/);
});
