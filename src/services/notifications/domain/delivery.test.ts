import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterFailure, backoffMs, classifyFailure, messageIdOf } from './delivery.ts';

const policy = { maxAttempts: 4, baseMs: 1000, maxMs: 5000 };

test('an SMTP 5xx reply is permanent, a 4xx reply or no reply at all is transient', () => {
  assert.equal(classifyFailure({ code: 'EENVELOPE', responseCode: 550 }), 'permanent');
  assert.equal(classifyFailure({ code: 'EMESSAGE', responseCode: 554 }), 'permanent');
  assert.equal(classifyFailure({ code: 'EENVELOPE', responseCode: 451 }), 'transient');
  assert.equal(classifyFailure({ code: 'ECONNECTION' }), 'transient');
  assert.equal(classifyFailure({ code: 'ETIMEDOUT' }), 'transient');
  assert.equal(classifyFailure({ code: 'EENVELOPE' }), 'permanent');
});

test('the backoff doubles from its base up to its cap, jittered below it', () => {
  assert.deepEqual([1, 2, 3, 4, 10].map((n) => backoffMs(policy, n, 0.999999)), [999, 1999, 3999, 4999, 4999]);
  assert.equal(backoffMs(policy, 3, 0.5), 2000);
  assert.equal(backoffMs(policy, 3, 0), 1, 'never zero: a retry is always later');
});

test('a transient failure is retried until the attempts run out, then dead; a permanent one is dead at once', () => {
  assert.deepEqual(afterFailure(policy, 1, { code: 'ECONNECTION', message: 'refused' }, 0.5), { kind: 'retry', delayMs: 500, error: 'ECONNECTION refused' });
  const last = afterFailure(policy, 4, { code: 'ECONNECTION', message: 'refused' }, 0.5);
  assert.equal(last.kind, 'dead');
  assert.match((last as { error: string }).error, /^4 attempts failed/);
  assert.deepEqual(afterFailure(policy, 1, { responseCode: 550, code: 'EENVELOPE', message: 'no such user' }, 0.5), { kind: 'dead', error: '550 EENVELOPE no such user' });
});

test('the Message-ID is the event\'s, the same on every attempt', () => {
  assert.equal(messageIdOf('0190a1b2-0000-7000-8000-000000000001'), '<0190a1b2-0000-7000-8000-000000000001.email@orderflow>');
});
