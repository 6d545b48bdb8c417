import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPeriodic } from './periodic.ts';

const quiet = { warn: () => {} };

test('passes run one at a time, an interval apart, and a failed one is logged and followed by the next', async () => {
  let running = 0;
  let most = 0;
  let n = 0;
  const warned: string[] = [];
  const job = startPeriodic({
    name: 'job', intervalMs: 20, failed: -1, log: { warn: (_o, msg) => warned.push(String(msg)) },
    async run() {
      running++;
      most = Math.max(most, running);
      await sleep(15);
      running--;
      if (++n === 3) throw new Error('boom');
      return n;
    },
  });
  // Asked for while timer passes run: never two at once.
  await Promise.all([job.pass(), job.pass()]);
  await sleep(150);
  await job.stop();
  assert.equal(most, 1);
  assert.ok(n >= 5, `${n} passes`);
  assert.deepEqual(warned, ['job failed; the next pass tries again'], 'the third (a timer pass) failed, and the timer went on');
});

test('a pass asked for runs after the one in flight and sees what happened since; stop waits for it and starts no other', async () => {
  let value = 0;
  let passes = 0;
  const job = startPeriodic({ name: 'job', intervalMs: 5, failed: -1, log: quiet, async run() { passes++; const seen = value; await sleep(20); return seen; } });
  await sleep(8); // a timer pass is in flight, having seen 0
  value = 1;
  assert.equal(await job.pass(), 1, 'not the in-flight pass\'s result');
  const stopping = job.stop();
  await stopping;
  const after = passes;
  await sleep(30);
  assert.equal(passes, after, 'nothing runs after stop');
});

test('stop tells a long pass through stopped()', async () => {
  let sawStop = false;
  const job = startPeriodic({ name: 'job', intervalMs: 60_000, failed: 0, log: quiet, async run(stopped) { while (!stopped()) await sleep(5); sawStop = true; return 1; } });
  const p = job.pass();
  await sleep(20);
  await job.stop();
  assert.equal(await p, 1);
  assert.equal(sawStop, true);
});
