import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeInto } from './bench.ts';

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
