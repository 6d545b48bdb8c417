import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TimelinePoint } from './lab-result.ts';
import { recoverSeconds } from './faults.ts';
import { errorKind, networkErrorKind } from './order-run.ts';

const points = (completed: number[]): TimelinePoint[] =>
  completed.map((c, t) => ({ t, offered: 100, accepted: 100, completed: c, errors: 0, completionP99: null }));

test('recovery is counted from the fault end to the first of three seconds keeping pace', () => {
  // Fault ends at 4.5 s; seconds 4, 5 lag; from 6 on completions are back at >= 90 % of 100/s.
  const tl = points([100, 100, 0, 0, 40, 60, 95, 150, 100, 100]);
  assert.equal(recoverSeconds(tl, 100, 4.5), 1.5);
});

test('a system working off its backlog is not recovered until the orders completing are on time again', () => {
  // Fault ends at 2 s; seconds 2-4 complete plenty, but each order is seconds late.
  const tl = points([100, 0, 300, 250, 150, 100, 100, 100]).map((p, t) => ({ ...p, completionP99: [40, null, 9000, 6000, 2500, 300, 60, 50][t] }));
  assert.equal(recoverSeconds(tl, 100, 2), 3);
});

test('a system that keeps pace through the fault recovers at once', () => {
  assert.equal(recoverSeconds(points([100, 100, 100, 100, 100]), 100, 1.2), 0);
});

test('a system that never keeps pace for three seconds in a row never recovered', () => {
  assert.equal(recoverSeconds(points([100, 0, 95, 95, 10, 95, 95]), 100, 1), null);
});

test('error answers are named by status, and 5xx also by their error code', () => {
  assert.equal(errorKind(503, { error: { code: 'ORD_ERR_DEPENDENCY_UNAVAILABLE', message: 'x' } }), 'http-503 ORD_ERR_DEPENDENCY_UNAVAILABLE');
  assert.equal(errorKind(422, { error: { code: 'ORD_ERR_UNKNOWN_PRODUCT' } }), 'http-422');
  assert.equal(errorKind(502, 'Bad Gateway'), 'http-502');
});

test('client timeouts are told apart from other network failures', () => {
  assert.equal(networkErrorKind(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' })), 'timeout');
  assert.equal(networkErrorKind(Object.assign(new Error('r'), { code: 'ECONNRESET' })), 'network');
  assert.equal(networkErrorKind('weird'), 'network');
});
