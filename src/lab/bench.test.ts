import assert from 'node:assert/strict';
import { test } from 'node:test';
import { costTables, mergeInto } from './bench.ts';

test('a new report holds the measured block under a title', () => {
  const out = mergeInto(undefined, 'table 1');
  assert.match(out, /^# Benchmarks\n/);
  assert.match(out, /bench:start[^\n]*\ntable 1\n<!-- bench:end -->/);
});

test('a later run replaces only the measured block and keeps the prose around it', () => {
  const first = mergeInto(undefined, 'table 1');
  const edited = `${first}\n## What the numbers mean\nprose\n`;
  const second = mergeInto(edited, 'table 2');
  assert.ok(second.includes('table 2'));
  assert.ok(!second.includes('table 1'));
  assert.ok(second.endsWith('## What the numbers mean\nprose\n'));
});

test('the bench writes per-order cost tables, a row per deployment and load, medians over the runs', () => {
  const cost = (cpu: number, fetch: number) => ({
    orders: 100, seconds: 20, cpuMsPerOrder: { orders: cpu, kafka: 1, lab: 0.5 }, systemCpuMsPerOrder: cpu + 1,
    dbStatementsPerOrder: { client: 95, server: null }, dbCommitsPerOrder: { client: 40, server: 41 }, dbTransactionsPerOrder: 14,
    dbRollbacksPerOrder: { client: 0, server: 0 }, kafkaRequestsPerOrder: { Fetch: fetch, Produce: 6 }, kafkaRequestsTotalPerOrder: fetch + 6,
  });
  const md = costTables([
    { deployment: 'distributed', rate: 300, concurrency: 128, fixed: [{ cost: cost(3, 8) }, { cost: cost(5, 10) }, { cost: cost(4, 9) }], saturation: [{ cost: null }] },
  ]);
  const lines = md.split('\n');
  const cpuHeader = lines.find((l) => l.startsWith('| deployment') && l.includes('System'))!;
  assert.match(cpuHeader, /\| orders +\| kafka +\| System +\| lab \(load\) \|$/);
  assert.match(lines[lines.indexOf(cpuHeader) + 2], /^\| distributed +\| fixed 300\/s +\| +4 \| +1 \| +5 \| +0\.5 \|$/);
  const tripHeader = lines.find((l) => l.includes('DB statements'))!;
  assert.match(tripHeader, /Kafka requests \| Fetch \| Produce \|$/);
  assert.match(lines[lines.indexOf(tripHeader) + 2], /\| +95 \| +n\/a \| +40 \| +41 \| +14 \| +15 \| +9 \| +6 \|$/);
  // The saturation runs were not costed: no row rather than a row of n/a.
  assert.ok(!md.includes('saturation'));
});
