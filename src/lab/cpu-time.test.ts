import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuDelta, cpuSnapshot, parseStatTicks, type CpuSnapshot } from './cpu-time.ts';

// A real /proc/<pid>/stat line; the command name holds a space and a parenthesis.
const STAT = '4242 (post gres) x) S 1 4242 4242 0 -1 4194560 9021 88123 0 3 150 40 700 90 20 0 1 0 1234 0 0';

test('CPU ticks are read from the fields after the command name, with the reaped children when asked', () => {
  assert.equal(parseStatTicks(STAT, false), 150 + 40);
  assert.equal(parseStatTicks(STAT, true), 150 + 40 + 700 + 90);
  assert.equal(parseStatTicks('1 (x) S 1', false), null);
});

const snap = (entries: Record<string, Record<number, number>>): CpuSnapshot =>
  new Map(Object.entries(entries).map(([k, v]) => [k, new Map(Object.entries(v).map(([pid, ms]) => [Number(pid), ms]))]));

test('a reaping group is compared as totals, so a backend that exited mid-step keeps its time', () => {
  // Backend 11 had used 30 ms before the step and 100 ms in all when it exited; the postmaster (10) reaped it.
  const before = snap({ postgres: { 10: 500, 11: 30 }, orders: { 20: 1000 } });
  const after = snap({ postgres: { 10: 500 + 100 + 5, 12: 40 }, orders: { 20: 1250 } });
  assert.deepEqual(cpuDelta(before, after, new Set(['postgres'])), { postgres: 100 + 5 + 40 - 30, orders: 250 });
});

test('a process restarted between two snapshots counts from its start, never negative', () => {
  const before = snap({ payments: { 30: 5000 } });
  const after = snap({ payments: { 31: 120 } });
  assert.deepEqual(cpuDelta(before, after, new Set()), { payments: 120 });
});

test('a snapshot of this process sees the CPU it burns, as the process itself counts it', () => {
  const watched = [{ name: 'me', pids: () => [process.pid] }];
  const before = cpuSnapshot(watched);
  const start = process.cpuUsage();
  let x = 0;
  // Burn 200 ms of CPU (not of wall time: the box may be busy).
  while ((process.cpuUsage(start).user + process.cpuUsage(start).system) / 1000 < 200) x += Math.sqrt(x + 1);
  const own = process.cpuUsage(start);
  const used = cpuDelta(before, cpuSnapshot(watched), new Set()).me;
  assert.ok(x > 0);
  // /proc counts in clock ticks (10 ms): a tick either side of the process's own count.
  assert.ok(Math.abs(used - (own.user + own.system) / 1000) <= 25, `used ${used} ms, process says ${(own.user + own.system) / 1000} ms`);
});
